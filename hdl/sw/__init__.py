"""Software side of the accelerator: memory-image builder and register-level driver.

Neither module imports Amaranth; both take the register map from hdl/soc/regmap.py.
"""
