"""The designs the flow measures. Adding one is one line in :data:`DESIGNS`.

A design names where its Verilog comes from:

* :func:`generated` - a file that ``python -m hdl.generate --config NAME --out build/verilog/NAME``
  writes (the generator is run once if the file is missing);
* :func:`datapath`  - a datapath component of ``hdl.generate.components`` converted here for any
  size (PEs, decoder, arrays; the array-size sweep needs sizes that are no preset);
* :func:`verilog`   - any Verilog file (tests use this).

``peak_macs`` gives the multiply-accumulates a design completes per cycle at full throughput, so
that the report can state throughput per area.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .flows import Source


class DesignUnavailable(RuntimeError):
    """The design's Verilog does not exist (yet): the hardware has not been written."""


@dataclass
class Design:
    name: str                 # report name, e.g. "fineq_array"
    title: str                # what a reader sees in the table
    source: Callable          # (config, verilog_dir, work_dir) -> Source
    group: str = "block"      # "array", "pe", "block", "top"
    peak_macs: Callable | None = None   # config -> MACs per cycle at full throughput
    clock: str = "clk"
    reset: str = "rst"
    preset_only: bool = False   # generated for the presets only (measured at the preset's size)
    sram_macros: bool = False   # buffers stay memory macros (flows.Source.sram_macros)
    fpga_only: bool = False     # an FPGA build: the ECP5 sweep measures it, `python -m synth` only when named


def _root() -> Path:
    return Path(__file__).resolve().parent.parent


def generated(stem: str):
    """Verilog written by ``hdl.generate`` for the configuration: ``<verilog_dir>/<stem>.v``."""
    def source(config, verilog_dir: Path, work_dir: Path) -> Source:
        f = Path(verilog_dir) / f"{stem}.v"
        _run_generator(config, Path(verilog_dir))   # a file left by older sources is stale
        if not f.exists():
            raise DesignUnavailable(f"{f} does not exist (hdl.generate does not write {stem}.v)")
        # a private copy: other jobs may regenerate build/verilog while the flows run
        work_dir.mkdir(parents=True, exist_ok=True)
        snap = work_dir / f.name
        text = f.read_text()
        if not snap.exists() or snap.read_text() != text:
            snap.write_text(text)
        return Source([snap], top_of(snap, Path(stem).name))
    source.describe = f"hdl.generate -> {stem}.v"
    return source


def datapath(stem: str):
    """A datapath component of ``hdl.generate.components`` (PEs, decoder, every array kind),
    converted here for the configuration at hand, whatever its size: the array-size sweep needs
    sizes that are no preset, and the datapath must not wait for the accelerator top level
    (``python -m hdl.generate`` writes both). Converted again only when a source of
    ``hdl/datapath``, the configuration or Amaranth changes."""
    def source(config, verilog_dir: Path, work_dir: Path) -> Source:
        try:
            import amaranth

            from hdl.generate import components, to_verilog
        except ImportError as e:
            raise DesignUnavailable(f"hdl.generate is not importable: {e}") from None
        parts = components(config)
        if stem not in parts:
            raise DesignUnavailable(f"hdl.generate.components has no {stem}")
        h = hashlib.sha256(config.to_json().encode() + stem.encode() + amaranth.__version__.encode())
        for f in sorted((_root() / "hdl" / "datapath").glob("*.py")) + [_root() / "hdl" / "generate.py"]:
            h.update(f.name.encode() + f.read_bytes())
        f = _convert_once(work_dir / f"{stem}.v", h.hexdigest(), lambda: to_verilog(parts[stem](), stem))
        return Source([f], stem)
    source.describe = f"hdl.generate.components -> {stem}.v"
    return source


def _convert_once(f: Path, digest: str, convert) -> Path:
    """``f``, written by ``convert()`` unless its stamp says it holds the output for ``digest``;
    rewritten only on change, so that its modification time means something."""
    f.parent.mkdir(parents=True, exist_ok=True)
    stamp = f.with_name(f.name + ".sha256")
    if not f.exists() or not stamp.exists() or stamp.read_text() != digest:
        text = convert()
        if not f.exists() or f.read_text() != text:
            f.write_text(text)
        stamp.write_text(digest)
    return f


def fpga_top():
    """The whole accelerator's FPGA build of the preset (``AcceleratorConfig.dsp_products``: the
    group-factor products on DSP blocks), converted here on demand, only for the FPGA flows that
    measure it; converted again only when a source of ``hdl``, the preset or Amaranth changes."""
    def source(config, verilog_dir: Path, work_dir: Path) -> Source:
        try:
            from hdl.generate import accelerator_verilog, source_digest
            from hdl.soc.accel_config import accel_preset
        except ImportError as e:
            raise DesignUnavailable(f"hdl.generate is not importable: {e}") from None
        name = getattr(config, "name", str(config))
        cfg = dataclasses.replace(accel_preset(name), dsp_products=True)
        f = _convert_once(work_dir / f"{cfg.variant}.v", source_digest(name, config) + cfg.variant,
                          lambda: accelerator_verilog(cfg, cfg.variant))
        return Source([f], top_of(f, cfg.variant))
    source.describe = "hdl.soc.top.Accelerator(dsp_products=True) -> top_fpga.v"
    return source


def verilog(path, top: str | None = None):
    def source(config, verilog_dir, work_dir) -> Source:
        f = Path(path)
        if not f.exists():
            raise DesignUnavailable(f"{f} does not exist")
        return Source([f], top or top_of(f))
    source.describe = f"verilog {path}"
    return source


def _run_generator(config, verilog_dir: Path):
    """``python -m hdl.generate`` in this process, unless its output is that of today's sources."""
    try:
        from hdl.generate import generate, is_current
    except ImportError as e:
        raise DesignUnavailable(f"hdl.generate is not importable: {e}") from None
    name = getattr(config, "name", str(config))
    try:
        if is_current(name, Path(verilog_dir)):
            return
    except (TypeError, ValueError) as e:
        raise DesignUnavailable(f"hdl.generate failed: {e}") from None
    print(f"synth: generating Verilog: python -m hdl.generate --config {name} --out {verilog_dir}",
          flush=True)
    try:
        generate(name, Path(verilog_dir))
    except (TypeError, ValueError) as e:
        raise DesignUnavailable(f"hdl.generate failed: {e}") from None


def top_of(path: Path, prefer: str | None = None) -> str:
    """The module of ``path`` that no other module instantiates (``prefer`` if it is defined)."""
    import re
    text = Path(path).read_text()
    mods = re.findall(r"^\s*module\s+(\\\S+|[A-Za-z_][\w$]*)", text, re.MULTILINE)
    names = [m.lstrip("\\") for m in mods]
    if prefer and prefer in names:
        return prefer
    insts = set()
    for m in mods:
        for other in mods:
            if other != m and re.search(r"(^|\s)" + re.escape(m) + r"\s+(#\s*\(|\\?[\w.$]+\s*\()",
                                        text, re.MULTILINE):
                insts.add(m.lstrip("\\"))
    tops = [n for n in names if n not in insts]
    if len(tops) != 1:
        raise DesignUnavailable(f"cannot tell the top module of {path}: candidates {tops or names}")
    return tops[0]


def fingerprint(src: Source, *extra) -> str:
    h = hashlib.sha256()
    for f in src.files:
        h.update(Path(f).read_bytes())
    h.update(src.top.encode())
    if src.sram_macros:     # only when set, so that the keys of every other design stay as they were
        h.update(b"sram_macros")
    for e in extra:
        h.update(repr(e).encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------------------------
# the registry

def _array_macs(c):
    return c.rows * c.cols


def _fineq_macs(c):
    # one MAC per beat of P phases; P = code_length (4) when a tile has a weight of -4, fewer with
    # adaptive phases; the peak assumes the worst tile
    return c.rows * c.cols / c.code_length


def _fineq_r2_macs(c):
    # radix 2: a beat of ceil(max|q| / 2) cycles, 2 for a tile with a weight of magnitude 3 or 4
    return c.rows * c.cols / -(-c.code_length // 2)


DESIGNS: list[Design] = [
    Design("fineq_array", "FineQ array (temporal PEs, no multiplier)", datapath("fineq_array"), "array", _fineq_macs),
    Design("fineq_r2_array", "FineQ array with radix-2 temporal PEs (x or 2x per pulse)", datapath("fineq_r2_array"), "array", _fineq_r2_macs),
    Design("mac8x8_array", "INT8 x INT8 MAC array (W8A8 baseline)", datapath("mac8x8_array"), "array", _array_macs),
    Design("mac8x3_array", "INT8 x 3-bit MAC array (same weights as FineQ)", datapath("mac8x3_array"), "array", _array_macs),
    Design("temporal_pe", "FineQ temporal PE", datapath("temporal_pe"), "pe", lambda c: 1 / c.code_length),
    Design("temporal_pe_r2", "FineQ radix-2 temporal PE", datapath("temporal_pe_r2"), "pe", lambda c: 1 / -(-c.code_length // 2)),
    Design("mac8x8_pe", "INT8 x INT8 MAC PE", datapath("mac8x8_pe"), "pe", lambda c: 1),
    Design("mac8x3_pe", "INT8 x 3-bit MAC PE", datapath("mac8x3_pe"), "pe", lambda c: 1),
    Design("decoder", "Cluster-byte decoder (one array column per beat)", datapath("decoder"), "block"),
    Design("vector_unit", "Vector unit (requantization, one element per cycle)", generated("vector_unit"), "block", preset_only=True),
    Design("fineq_top", "Whole accelerator (AXI top level with the FineQ array)", generated("top"), "top", preset_only=True,
           sram_macros=True),
    Design("fineq_top_fpga", "Whole accelerator, FPGA build (group-factor products on DSP blocks)", fpga_top(), "top",
           preset_only=True, fpga_only=True),
]

# the FineQ array and the baselines it is compared with
COMPARISONS = [("fineq_array", "mac8x8_array"), ("fineq_array", "mac8x3_array"),
               ("fineq_r2_array", "mac8x8_array"), ("fineq_r2_array", "mac8x3_array"),
               ("fineq_r2_array", "fineq_array"),
               ("temporal_pe", "mac8x8_pe"), ("temporal_pe", "mac8x3_pe"),
               ("temporal_pe_r2", "mac8x8_pe"), ("temporal_pe_r2", "mac8x3_pe")]

# arrays measured at several sizes
SWEEP_DESIGNS = ["fineq_array", "fineq_r2_array", "mac8x8_array", "mac8x3_array"]


def by_name(names=None) -> list[Design]:
    if not names:
        return [d for d in DESIGNS if not d.fpga_only]
    known = {d.name: d for d in DESIGNS}
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"unknown design(s) {bad}; known: {', '.join(known)}")
    return [known[n] for n in names]
