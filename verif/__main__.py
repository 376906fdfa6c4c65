"""python -m verif {demo,bench} [options]: see verif/demo.py and verif/bench.py."""

import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("demo", "bench"):
        print("usage: python -m verif {demo,bench} [--config NAME] [--sim ...]", file=sys.stderr)
        return 2
    if argv[0] == "demo":
        from .demo import main as run
    else:
        from .bench import main as run
    return run(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
