"""Write the Verilog of every component and array for one configuration.

    python -m hdl.generate --config tiny|default|large --out build/verilog/<config>

Each file holds one top module named after the file (submodules are prefixed with it, so all the
files can be read into one Yosys or Verilator session), plus ``config.json``. The output is
deterministic: no source locations, no absolute paths, no time stamps.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import signed

from .array import SystolicArray
from .config import ArrayConfig, ArrayKind, preset
from .decoder import Decoder
from .mac_pe import MacPE
from .skew import Skew
from .temporal_pe import TemporalPE

__all__ = ["components", "generate", "generate_config", "main"]


def components(cfg: ArrayConfig) -> dict:
    """File stem -> component instance for ``cfg``. The stem is also the Verilog module name.

    Standalone PEs get the psum width of the array's bottom row (the widest PE of the array).
    """
    bottom = cfg.rows - 1
    return {
        "decoder": Decoder(lanes=cfg.decoder_lanes),
        "temporal_pe": TemporalPE(
            act_width=cfg.act_width,
            psum_width=cfg.psum_width(ArrayKind.FINEQ, bottom),
            phase_width=cfg.phase_width,
        ),
        "mac8x8_pe": MacPE(
            act_width=cfg.act_width,
            weight_width=cfg.weight_bits(ArrayKind.MAC8X8),
            psum_width=cfg.psum_width(ArrayKind.MAC8X8, bottom),
        ),
        "mac8x3_pe": MacPE(
            act_width=cfg.act_width,
            weight_width=cfg.weight_bits(ArrayKind.MAC8X3),
            psum_width=cfg.psum_width(ArrayKind.MAC8X3, bottom),
        ),
        "input_skew": Skew(shape=signed(cfg.act_width), delays=range(cfg.rows)),
        "output_deskew": Skew(
            shape=signed(cfg.psum_width(ArrayKind.FINEQ, bottom)),
            delays=[cfg.cols - 1 - c for c in range(cfg.cols)],
        ),
        **{kind.value: SystolicArray(cfg, kind) for kind in ArrayKind},
    }


def to_verilog(component, name: str) -> str:
    return verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)


def generate_config(cfg: ArrayConfig, out_dir: Path, only=None) -> dict[str, Path]:
    """Write ``<stem>.v`` for every component (or those in ``only``) and ``config.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for stem, component in components(cfg).items():
        if only is not None and stem not in only:
            continue
        path = out_dir / f"{stem}.v"
        text = to_verilog(component, stem)
        # Rewrite only on change, so that simulator builds that depend on the file stay valid.
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written[stem] = path
    path = out_dir / "config.json"
    text = cfg.to_json()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    written["config"] = path
    return written


def generate(config_name: str, out_dir: Path) -> dict[str, Path]:
    """Write the Verilog and ``config.json`` of preset ``config_name`` under ``out_dir``."""
    return generate_config(preset(config_name), Path(out_dir))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hdl.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="default", help="preset name: tiny, default or large")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    try:
        written = generate(args.config, args.out)
    except (TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for stem, path in written.items():
        print(f"{stem:14s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
