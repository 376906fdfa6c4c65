"""Where generated files go, and the one fingerprint that keys every cache in them.

Every package (quant, hdl, verif; synth is to follow) asks :func:`build_dir` for the folder of
its generated files: ``$FINEQ_BUILD`` when that is set, else ``build/`` under the current folder.
Never next to the package's source, which for a non-editable install is site-packages. The path
is returned as given (relative unless ``FINEQ_BUILD`` is absolute) and read at each call, so a
test that changes folder gets its own ``build/``; code that hands a path to a process running
elsewhere calls ``.absolute()`` on it first.

:func:`atomic` writes a file or folder under ``NAME.partial`` and renames it when complete.
:func:`fingerprint` hashes what a cached result was made from (a JSON-able description and the
bytes of source files): a cache entry is reused only while its fingerprint is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

ENV = "FINEQ_BUILD"

__all__ = ["ENV", "build_dir", "fingerprint", "atomic", "locked"]


def build_dir(*parts: str) -> Path:
    """``$FINEQ_BUILD/parts...`` or ``build/parts...`` under the current folder."""
    return Path(os.environ.get(ENV) or "build").joinpath(*parts)


def fingerprint(what=None, files: Iterable[str | os.PathLike] = (), length: int | None = 16) -> str:
    """sha256 of ``what`` (as sorted-key JSON; non-JSON values by ``str``) then of each file's bytes,
    as hex, cut to ``length`` characters (None: all 64)."""
    h = hashlib.sha256()
    if what is not None:
        h.update(json.dumps(what, sort_keys=True, default=str).encode())
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:length]


@contextmanager
def locked(path: str | os.PathLike):
    """Hold an exclusive lock on ``path`` (a file or folder that may not exist yet) while the body
    runs, through ``PATH.lock`` beside it: processes that make the same generated files (pytest's
    workers, two sweeps) take turns, and the later one finds them made."""
    import fcntl

    lock = Path(path).with_name(Path(path).name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def atomic(path: str | os.PathLike):
    """Write ``path`` (a file or a folder) under ``NAME.partial`` and give it its name only when the
    ``with`` body finishes: a failure removes the partial output, so nothing half-written is left
    (and an existing ``path`` is kept). Yields the partial path to write to."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():
            shutil.rmtree(path)
        tmp.replace(path)
    except BaseException:
        _remove(tmp)
        raise


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()
