"""Write the Verilog of every component and array for one configuration.

    python -m hdl.generate --config tiny|default|large --out build/verilog/<config>

Each file holds one top module named after the file (submodules are prefixed with it, so all the
files can be read into one Yosys or Verilator session), plus ``config.json``. The output is
deterministic: no source locations, no absolute paths, no time stamps.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import amaranth

from amaranth.back import verilog
from amaranth.hdl import signed

from .datapath.array import SystolicArray
from .datapath.config import ArrayConfig, ArrayKind, preset
from .datapath.decoder import Decoder
from .datapath.mac_pe import MacPE
from .datapath.skew import Skew
from .datapath.temporal_pe import TemporalPE

__all__ = ["components", "generate", "generate_config", "main"]


def components(cfg: ArrayConfig) -> dict:
    """File stem -> constructor (no arguments) of that component for ``cfg``.

    The stem is also the Verilog module name. Standalone PEs get the psum width of the array's
    bottom row (the widest PE of the array).
    """
    bottom = cfg.rows - 1
    parts = {
        "decoder": lambda: Decoder(lanes=cfg.decoder_lanes),
        "temporal_pe": lambda: TemporalPE(
            act_width=cfg.act_width,
            psum_width=cfg.psum_width(ArrayKind.FINEQ, bottom),
            phase_width=cfg.phase_width,
        ),
        "mac8x8_pe": lambda: MacPE(
            act_width=cfg.act_width,
            weight_width=cfg.weight_bits(ArrayKind.MAC8X8),
            psum_width=cfg.psum_width(ArrayKind.MAC8X8, bottom),
        ),
        "mac8x3_pe": lambda: MacPE(
            act_width=cfg.act_width,
            weight_width=cfg.weight_bits(ArrayKind.MAC8X3),
            psum_width=cfg.psum_width(ArrayKind.MAC8X3, bottom),
        ),
        "input_skew": lambda: Skew(shape=signed(cfg.act_width), delays=range(cfg.rows)),
        "output_deskew": lambda: Skew(
            shape=signed(cfg.psum_width(ArrayKind.FINEQ, bottom)),
            delays=[cfg.cols - 1 - c for c in range(cfg.cols)],
        ),
    }
    for kind in ArrayKind:
        parts[kind.value] = lambda kind=kind: SystolicArray(cfg, kind)
    return parts


def to_verilog(component, name: str) -> str:
    return verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)


STAMP = ".fineq-generate.sha256"
# The modules the generated files depend on (other hdl/ files do not invalidate them).
SOURCES = ("datapath/config", "datapath/decoder", "datapath/temporal_pe", "datapath/mac_pe",
           "datapath/skew", "datapath/array", "generate")


def _source_digest(cfg: ArrayConfig) -> str:
    """Hash of everything the output depends on: the hdl sources, the config, Amaranth."""
    h = hashlib.sha256(cfg.to_json().encode())
    h.update(amaranth.__version__.encode())
    for name in SOURCES:
        path = Path(__file__).parent / f"{name}.py"
        h.update(name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def generate_config(cfg: ArrayConfig, out_dir: Path, *, force: bool = False) -> dict[str, Path]:
    """Write ``<stem>.v`` for every component and ``config.json`` into ``out_dir``.

    Conversion runs Yosys (a few seconds per file), so it is skipped when ``out_dir`` already
    holds the output of the same sources and configuration, unless ``force``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = _source_digest(cfg)
    stamp = out_dir / STAMP
    parts = components(cfg)
    written = {stem: out_dir / f"{stem}.v" for stem in parts}
    written["config"] = out_dir / "config.json"
    if (not force and stamp.exists() and stamp.read_text() == digest
            and all(p.exists() for p in written.values())):
        return written
    stamp.unlink(missing_ok=True)
    for stem, make in parts.items():
        path = out_dir / f"{stem}.v"
        text = to_verilog(make(), stem)
        # Rewrite only on change, so that simulator builds that depend on the file stay valid.
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    path = out_dir / "config.json"
    text = cfg.to_json()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    stamp.write_text(digest)
    return written


def generate(config_name: str, out_dir: Path, *, force: bool = False) -> dict[str, Path]:
    """Write the Verilog and ``config.json`` of preset ``config_name`` under ``out_dir``."""
    written = generate_config(preset(config_name), Path(out_dir), force=force)
    # The accelerator top level (top.v, vector_unit.v, fineq_accel.h; hdl/soc/top.py, issue #4),
    # with its own up-to-date check. Presets only: it needs the preset's buffer sizes.
    from .soc.top import generate_top

    written.update(generate_top(config_name, Path(out_dir), force=force))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hdl.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="default", help="preset name: tiny, default or large")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--force", action="store_true", help="convert even if up to date")
    args = parser.parse_args(argv)
    try:
        written = generate(args.config, args.out, force=args.force)
    except (TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for stem, path in written.items():
        print(f"{stem:14s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
