"""Markdown for the report pages (quant, verif): tables through tabulate, and the legend every
page carries, one line per metric saying what it means and which way is better."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tabulate import tabulate

__all__ = ["table", "legend"]


def table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A GitHub-style Markdown table; cells appear exactly as given (format numbers before)."""
    return tabulate([[str(c) for c in r] for r in rows], headers=list(headers), tablefmt="github",
                    disable_numparse=True)


def legend(metrics: dict[str, tuple[str, str | None]]) -> list[str]:
    """``{column: (meaning, better)}`` as Markdown bullet lines; ``better`` is "higher", "lower",
    a phrase such as "closer to 0", a whole sentence ending in a full stop, or None for a column that
    describes rather than scores."""
    def which(better):
        if better is None:
            return " (context, not a score)."
        return f"; {better}" if better.endswith(".") else f"; {better} is better."

    return [f"- `{name}`: {meaning}{which(better)}" for name, (meaning, better) in metrics.items()]
