"""Where generated files go, and the one fingerprint that keys every cache in them.

Every package (quant, hdl, verif; synth is to follow) asks :func:`build_dir` for the folder of
its generated files: ``$FINEQ_BUILD`` when that is set, else ``build/`` under the current folder.
Never next to the package's source, which for a non-editable install is site-packages. The path
is returned as given (relative unless ``FINEQ_BUILD`` is absolute) and read at each call, so a
test that changes folder gets its own ``build/``; code that hands a path to a process running
elsewhere calls ``.absolute()`` on it first.

:func:`fingerprint` hashes what a cached result was made from (a JSON-able description and the
bytes of source files): a cache entry is reused only while its fingerprint is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

ENV = "FINEQ_BUILD"

__all__ = ["ENV", "build_dir", "fingerprint"]


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
