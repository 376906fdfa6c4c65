"""Synthesis flow: area, timing and energy of the FineQ array against MAC arrays (`python -m synth`)."""
