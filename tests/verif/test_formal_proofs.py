"""SymbiYosys proofs of the generated Verilog (docs/formal.md).

The quick group runs in ``make test``; the deep group (every preset, whole accelerator builds)
has the marker ``formal`` and runs only with FINEQ_FORMAL=1 (``make formal``).
"""

import os

import pytest

from verif.formal import runner, suite

deep = pytest.mark.skipif(not os.environ.get("FINEQ_FORMAL"),
                          reason="deep proofs: set FINEQ_FORMAL=1 (make formal)")


def _prove(name):
    proofs = suite.build(name)
    assert proofs
    results = runner.run_all(proofs)
    failed = [r.report() for r in results if not r.passed]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("name", list(suite.QUICK))
def test_quick_proof(name):
    _prove(name)


@pytest.mark.formal
@deep
@pytest.mark.parametrize("name", list(suite.DEEP))
def test_deep_proof(name):
    _prove(name)


def test_cli_rejects_unknown_group(capsys):
    from verif.formal.__main__ import main

    assert main(["no_such_group"]) == 2
    assert "error: unknown proof group" in capsys.readouterr().err
