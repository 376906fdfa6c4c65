"""One synthesis flow as a task for synth/executor.py: the worker's side.

:func:`run_flow` is a module-level function of plain data, so that a process pool or a Dask
worker can run it. Two ways to run:

* ``ship=False`` (a local process pool): the worker reads the client's files and writes the
  tool files into the client's work folder; the result's paths are valid on the client.
* ``ship=True`` (Dask, possibly another machine): the Verilog and the liberty travel as text, the
  flow runs in a temporary folder of the worker, and the files the client needs later (the
  gate-level netlists the energy runs simulate) come back as text in the answer; the client
  writes them (:func:`unpack`). Nothing on the worker's disk is referred to afterwards.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from . import flows

FLOWS = ("generic", "asic", "asic_cg", "blocks", "ice40", "ice40_dsp")
ARTIFACTS = ("netlist_v", "netlist_json")   # result fields that name files the client reads later


def _call(flow: str, src: flows.Source, wd: Path, liberty: Path, params: dict) -> dict:
    if flow == "generic":
        return flows.generic(src, wd)
    if flow == "asic":
        return flows.asic(src, wd, liberty, hier=False)
    if flow == "asic_cg":
        return flows.asic(src, wd, liberty, hier=False, clock_gating=params["min_width"], clock=params["clock"])
    if flow == "blocks":
        return flows.asic_blocks_run(src, wd, liberty)
    if flow in ("ice40", "ice40_dsp"):
        return flows.ice40(src, wd, dsp=flow == "ice40_dsp", pnr=params["pnr"], clock=params["clock"])
    raise ValueError(f"unknown flow {flow!r}; known: {', '.join(FLOWS)}")


def run_flow(flow: str, files: list[str], top: str, sram_macros: bool, liberty: str, params: dict,
             workdir: str, ship: bool = False, texts: dict | None = None) -> dict:
    """Run ``flow`` on the design; ``{"result": ..., "artifacts": {field: text}}``."""
    if not ship:
        src = flows.Source([Path(f) for f in files], top, sram_macros)
        return {"result": _call(flow, src, Path(workdir), Path(liberty), params), "artifacts": {}}
    tmp = Path(tempfile.mkdtemp(prefix=f"fineq-{flow}-"))
    try:
        rtl = tmp / "rtl"
        rtl.mkdir()
        for name, text in texts["verilog"].items():
            (rtl / name).write_text(text)
        lib = tmp / texts["liberty"][0]
        lib.write_text(texts["liberty"][1])
        src = flows.Source([rtl / name for name in texts["verilog"]], top, sram_macros)
        res = _call(flow, src, tmp / "work", lib, params)
        arts = {k: Path(res[k]).read_text() for k in ARTIFACTS if k in res}
        return {"result": res, "artifacts": arts}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pack(files: list[Path], liberty: Path) -> dict:
    """The texts a shipped task needs (file names must be distinct)."""
    return {"verilog": {Path(f).name: Path(f).read_text() for f in files},
            "liberty": (Path(liberty).name, Path(liberty).read_text())}


def unpack(answer: dict, workdir: Path) -> dict:
    """The result with its artifacts written into the client's ``workdir`` and its paths there."""
    res = dict(answer["result"])
    if answer["artifacts"]:
        workdir.mkdir(parents=True, exist_ok=True)
    for field, text in answer["artifacts"].items():
        name = Path(res[field]).name
        (workdir / name).write_text(text)
        res[field] = str(workdir / name)
    return res
