"""Mutation check: every seeded bug makes its proof fail, with a reachable counterexample trace."""

import os

import pytest

from verif.formal import runner
from verif.formal.mutants import MUTANTS


@pytest.mark.formal
@pytest.mark.skipif(not os.environ.get("FINEQ_FORMAL"), reason="set FINEQ_FORMAL=1 (make formal)")
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(mutant):
    result = runner.run(mutant.proof())
    assert not result.passed, f"{mutant.name}: the proof passed on a seeded bug ({mutant.bug})"
    assert result.failed_labels() & {f"p_{e}" for e in mutant.expect}, result.report()
    # a basecase trace (a reachable run from reset), not only an induction counterexample
    assert any("induct" not in t.name and t.exists() for t in result.traces), result.report()
