"""The contract every part of the toolkit shares, and imports nothing else of quant.

The weight formats (format), the golden integer model the RTL must equal (golden, hw_model), the
golden-vector file (vectors), input checks (weights, errors), and the toolkit's common rules: where
generated files go (paths), the command-line policy (cli_policy), report Markdown (markdown).
"""
