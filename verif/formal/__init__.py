"""Formal proofs of the generated Verilog with SymbiYosys (docs/formal.md).

One module per proof target (``decoder``, ``pe``, ...), each with ``proofs(config)`` returning
:class:`~verif.formal.runner.Proof` objects; ``python -m verif.formal`` runs them.
"""
