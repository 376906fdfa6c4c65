"""Fetch the OSU 0.18 um standard-cell library (Debian ``qflow-tech-osu018``) at build time.

The package is downloaded with ``apt-get download`` (no installation, so qflow is not pulled in)
and unpacked with ``dpkg-deb -x`` into ``build/synth/tech``. Nothing from it is committed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from quant.core.paths import locked

PACKAGE = "qflow-tech-osu018"
REL = Path("usr/share/qflow/tech/osu018")
LIB_NAME = "osu018_stdcells.lib"
CELLS_V = "osu018_stdcells.v"


class TechError(RuntimeError):
    pass


def tech_dir(build: Path) -> Path:
    return Path(build) / "synth" / "tech"


def paths(build: Path) -> tuple[Path, Path]:
    d = tech_dir(build) / REL
    return d / LIB_NAME, d / CELLS_V


def fetch(build: Path, quiet=False) -> tuple[Path, Path]:
    """Return (liberty, cell Verilog models), downloading the Debian package if needed.

    ``FINEQ_LIBERTY`` (and ``FINEQ_CELLS_V``) override the location, for machines without apt.
    """
    env_lib = os.environ.get("FINEQ_LIBERTY")
    if env_lib:
        lib = Path(env_lib)
        cells = Path(os.environ.get("FINEQ_CELLS_V", lib.with_suffix(".v")))
        if not lib.exists():
            raise TechError(f"FINEQ_LIBERTY={lib} does not exist")
        return lib, cells
    lib, cells = paths(build)
    if lib.exists() and cells.exists():
        return lib, cells
    with locked(tech_dir(build)):    # parallel test workers fetch it once
        if lib.exists() and cells.exists():
            return lib, cells
        return _download(build, lib, cells, quiet)


def _download(build: Path, lib: Path, cells: Path, quiet: bool) -> tuple[Path, Path]:
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise TechError(f"{tool} not found: cannot fetch {PACKAGE}; set FINEQ_LIBERTY to a copy of {LIB_NAME}")
    dest = tech_dir(build)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)   # apt's sandbox user must be able to write the .deb
        r = subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        if r.returncode != 0 or not debs:
            raise TechError(f"`apt-get download {PACKAGE}` failed:\n{r.stderr.strip()}\n"
                            "(run `apt-get update` first, or set FINEQ_LIBERTY)")
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(dest)], check=True)
        (dest / "PACKAGE").write_text(debs[0].name + "\n")
    if not lib.exists():
        raise TechError(f"{PACKAGE} did not contain {REL / LIB_NAME}")
    if not quiet:
        print(f"synth: fetched {PACKAGE} into {dest}")
    return lib, cells
