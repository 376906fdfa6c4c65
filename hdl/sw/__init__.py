"""Software side of the accelerator: memory-image builder, register-level driver, cycle model.

Host software, not hardware: it may use numpy and quant.core (the formats, the golden model), and
takes the register map from hdl/soc/regmap.py. None of it imports Amaranth.
"""
