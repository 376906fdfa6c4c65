"""Hardware runs on the generated Verilog under cocotb (Icarus, Verilator):

  demo   one real-layer tile (all-MiniLM-L6-v2, real activations) through the FineQ array and
         both MAC baselines, bit-exact against quant.core.golden; prints sums and cycles
  bench  cycles per real tile and per column block, and simulation speed, for every array and
         simulator; writes build/reports/hdl_bench.json and hdl_bench.md

`python -m verif COMMAND --help` lists a command's options. The whole accelerator on real layers
is `python -m verif.top_perf`; the test suite is `pytest verif` (make sim).
"""

import sys

from quant.core import cli_policy

COMMANDS = ("demo", "bench")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = cli_policy.parser("python -m verif", __doc__, usage="python -m verif [-h] {demo,bench} [OPTIONS]")
    parser.add_argument("command", choices=COMMANDS, help="what to run (see above); OPTIONS: COMMAND --help")
    args = parser.parse_args(argv[:1])
    if args.command == "demo":
        from .demo import main as run
    else:
        from .bench import main as run
    return run(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
