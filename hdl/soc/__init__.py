"""The accelerator around the array: AXI interfaces, DMA, buffers, control, vector unit, top level."""
