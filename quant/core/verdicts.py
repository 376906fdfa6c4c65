"""The verdict of every report under a folder, one per line: what ``make demo`` prints last.

    python -m quant.core.verdicts build/reports

Every report page states its verdict in the first paragraph after its title (the convention of
quant, verif and synth reports: docs/architecture.md); this reads each ``*.md`` below the folder
and prints its title and that paragraph, shortened to one line. A page without one is named as
such, so a report that lost its verdict shows.
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import cli_policy
from .errors import FineQError

WIDTH = 400   # characters of a verdict shown; the page has the rest


def verdict_of(text: str) -> tuple[str, str | None]:
    """(title, first paragraph after the title) of a markdown page; ``None`` when the page has no
    paragraph of prose before its first table, list or section."""
    lines = text.splitlines()
    title = next((ln.lstrip("# ").strip() for ln in lines if ln.startswith("# ")), "(no title)")
    body = lines[next((i + 1 for i, ln in enumerate(lines) if ln.startswith("# ")), 0):]
    para: list[str] = []
    for ln in body:
        s = ln.strip()
        if not s:
            if para:
                break
            continue
        if s.startswith(("#", "|", "- ", "* ", "!", "```")):
            if para:
                break
            return title, None
        para.append(s)
    return title, " ".join(para) or None


def summary(folder: Path) -> list[str]:
    pages = sorted(Path(folder).rglob("*.md"))
    if not pages:
        raise FineQError(f"no report pages (*.md) under {folder}: run `make demo` or `make bench` first")
    out = []
    for p in pages:
        title, v = verdict_of(p.read_text(errors="replace"))
        v = v if v is None or len(v) <= WIDTH else v[: WIDTH - 3] + "..."
        out.append(f"- {p.relative_to(folder)}: {title}. {v or '(no verdict paragraph)'}")
    return out


def main(argv=None) -> int:
    parser = cli_policy.parser("python -m quant.core.verdicts", __doc__)
    parser.add_argument("folder", type=Path, help="folder of report pages, e.g. build/reports")
    args = parser.parse_args(argv)

    def work():
        if not args.folder.is_dir():
            raise FineQError(f"{args.folder} is not a folder: give the reports folder, e.g. build/reports")
        print("\n".join(summary(args.folder)))

    return cli_policy.run(work)


if __name__ == "__main__":
    sys.exit(main())
