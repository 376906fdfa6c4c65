"""The one command-line policy of every front end (``python -m quant``, ``hdl.generate``,
``hdl.soc.regmap``, ``verif``, ``verif.top_perf``; docs/architecture.md):

- bad input ends as one line ``error: what is wrong and what to do`` on stderr and exit code 2:
  :func:`run` maps the toolkit's expected errors (:class:`FineQError`, the ``ValueError`` of a
  configuration check, the ``OSError`` of a file the user named) to it; argparse does the same
  for a bad option (usage line, then ``error: ...``, exit 2);
- choices and output paths are checked before any slow work (argparse ``choices``,
  :func:`output_path`, :func:`regex`);
- outputs are written under ``NAME.partial`` and renamed when complete (``paths.atomic``), so a
  failure leaves no partial output behind;
- ``--help`` explains: :func:`parser` puts the module's whole docstring (what it does, what it
  writes and where) above the options.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import FineQError

__all__ = ["EXIT_USAGE", "run", "parser", "output_path", "regex"]

EXIT_USAGE = 2  # argparse's exit code for bad usage; ours for every refused input


def run(main: Callable[[], int | None]) -> int:
    """Call ``main``; an expected error becomes ``error: ...`` and exit code 2."""
    try:
        code = main()
    except (FineQError, ValueError, OSError) as e:
        print(f"error: {_message(e)}", file=sys.stderr)
        return EXIT_USAGE
    return 0 if code is None else code


def _message(e: Exception) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e)


def parser(prog: str, doc: str | None, **kwargs) -> argparse.ArgumentParser:
    """An ArgumentParser whose --help starts with the whole module docstring, as written."""
    return argparse.ArgumentParser(prog=prog, description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def output_path(path: str | os.PathLike, *, folder: bool = False, what: str = "--out") -> Path:
    """``path`` as a Path if it can be written (a file, or a folder with ``folder``); else FineQError.

    Checked before the work starts: a file must not name an existing folder (or a folder a file),
    and the nearest existing parent must be a folder this process can write into."""
    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise FineQError(f"{what} {p} is a file; name a folder")
    if not folder and p.is_dir():
        raise FineQError(f"{what} {p} is a folder; name a file to write")
    target = p if folder and p.is_dir() else p.parent
    parent = next((a for a in (target, *target.parents) if a.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise FineQError(f"{what} {p}: cannot write there ({parent} is not a writable folder); "
                         f"choose another path")
    return p


def regex(pattern: str) -> str:
    """argparse type: a valid regular expression (kept as the string)."""
    try:
        re.compile(pattern)
    except re.error as e:
        raise argparse.ArgumentTypeError(f"{pattern!r} is not a valid regular expression: {e}") from None
    return pattern
