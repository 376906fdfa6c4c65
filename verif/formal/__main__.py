"""python -m verif.formal [--quick | --deep | --mutants | NAME ...]: run proofs, print the results.

Exit code 0 when every proof passes and every mutant fails (1 otherwise, 2 on a bad name).
"""

from __future__ import annotations

import argparse
import sys

from . import runner, suite


def _check_mutants() -> bool:
    from .mutants import MUTANTS

    ok = True
    for mutant in MUTANTS:
        result = runner.run(mutant.proof())
        caught = (not result.passed and result.failed_labels() & {f"p_{e}" for e in mutant.expect}
                  and any("induct" not in t.name and t.exists() for t in result.traces))
        ok &= caught
        print(f"mutant {mutant.name} ({mutant.bug}): {'caught' if caught else 'NOT CAUGHT'}")
        print("  " + result.report().replace("\n", "\n  "))
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verif.formal", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"proof groups: {', '.join([*suite.QUICK, *suite.DEEP, *suite.OPEN])}")
    parser.add_argument("--quick", action="store_true", help="the proofs of `make test`")
    parser.add_argument("--deep", action="store_true", help="the proofs of `make formal`")
    parser.add_argument("--mutants", action="store_true", help="the mutation check")
    args = parser.parse_args(argv)
    names = list(args.names)
    bad = [n for n in names if n not in suite.QUICK | suite.DEEP | suite.OPEN]
    if bad:
        print(f"error: unknown proof group(s) {bad}; choose from {[*suite.QUICK, *suite.DEEP, *suite.OPEN]}", file=sys.stderr)
        return 2
    names += list(suite.QUICK) if args.quick else []
    names += list(suite.DEEP) if args.deep else []
    if not names and not args.mutants:
        names = list(suite.QUICK)
    ok = True
    for name in names:
        for proof in suite.build(name):
            result = runner.run(proof)
            ok &= result.passed
            print(f"{result.report()}   [{proof.note}]", flush=True)
    if args.mutants:
        ok &= _check_mutants()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
