"""The accelerator: datapath/ (array, PEs, decoder), soc/ (AXI, DMA, buffers, control, top level),
sw/ (the host software: memory images, driver, cycle model) and generate.py (the one Verilog entry
point). datapath/ and soc/ are Amaranth and the standard library only; sw/ may use numpy and
quant.core (docs/architecture.md)."""
