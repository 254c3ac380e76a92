"""Pictures of conformance results: a heat map of verdicts by category, server by server.

One row per category of the suite (RFC 6455 sections in :data:`~.cases.CATEGORIES`), one column
per server. Each cell is a bar split in the shares of its verdicts, in the report's colours
(:func:`~.report.verdict_colours`, from the series' one palette in :mod:`wslib.lab.drawings`:
green OK, sky blue INFORMATIONAL, orange NON-STRICT, vermillion FAILED), labelled with the number
of cases that are neither OK nor INFORMATIONAL. A row that turns all green and blue is a category
the server gets right.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from .cases import CATEGORIES
from .model import Verdict
from .report import Results, verdict_colours

__all__ = ["COLOURS", "VERDICT_ORDER", "cell_shares", "verdict_heatmap"]

#: The colour of each verdict: the report's, from the series' palette (not a copy of it).
COLOURS = verdict_colours()

#: Left to right in each cell: the good verdicts first, the bad last.
VERDICT_ORDER = (Verdict.OK, Verdict.INFORMATIONAL, Verdict.NON_STRICT, Verdict.FAILED)


def cell_shares(counts: Mapping[str, int]) -> list[tuple[Verdict, float]]:
    """The share of each verdict among one cell's cases, in :data:`VERDICT_ORDER`, zeros left
    out: ``{"OK": 3, "FAILED": 1}`` -> ``[(OK, 0.75), (FAILED, 0.25)]``."""
    total = sum(counts.get(v.value, 0) for v in VERDICT_ORDER)
    if total == 0:
        return []
    return [(v, counts[v.value] / total) for v in VERDICT_ORDER if counts.get(v.value, 0)]


def _label(counts: Mapping[str, int]) -> str:
    total = sum(counts.get(v.value, 0) for v in VERDICT_ORDER)
    failed = counts.get(Verdict.FAILED.value, 0)
    lenient = counts.get(Verdict.NON_STRICT.value, 0)
    info = counts.get(Verdict.INFORMATIONAL.value, 0)
    parts = [f"{failed} failed"] if failed else []
    if lenient:
        parts.append(f"{lenient} non-strict")
    if parts:
        return ", ".join(parts)
    return f"{total - info} OK, {info} informational" if info else f"all {total} OK"


def verdict_heatmap(
    results: Mapping[str, Results], *, title: str | None = None, ax: Axes | None = None
) -> Figure:
    """Draw the verdicts of several runs side by side: ``{column label: Results}``.

    Returns the matplotlib figure (drawn on ``ax`` when given). Categories that no run has
    are left out; a run without a category shows an empty cell marked "not run".
    """
    columns = list(results)
    tables = {name: run.by_category for name, run in results.items()}
    rows = [c for c in CATEGORIES if any(c in table for table in tables.values())]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(7.0, 2.1 * len(columns) + 2.4), 0.55 * len(rows) + 1.6))
    fig = ax.figure  # (matplotlib 3.7 has no get_figure(root=True))
    assert isinstance(fig, Figure)
    pad = 0.06
    for col, name in enumerate(columns):
        for row, category in enumerate(rows):
            counts = tables[name].get(category)
            if counts is None:  # that run did not play this category
                ax.text(
                    col + 0.5,
                    row + 0.5,
                    "not run",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="0.55",
                )
                continue
            left = col + pad
            for verdict, share in cell_shares(counts):
                width = share * (1 - 2 * pad)
                ax.add_patch(
                    Rectangle(
                        (left, row + pad),
                        width,
                        1 - 2 * pad,
                        facecolor=COLOURS[verdict],
                        edgecolor="none",
                        gid=f"{name}|{category}|{verdict.value}",
                    )
                )
                left += width
            ax.text(
                col + 0.5,
                row + 0.5,
                _label(counts),
                ha="center",
                va="center",
                fontsize=8,
                color="black",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8, "lw": 0},
            )
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([c + 0.5 for c in range(len(columns))], columns, fontsize=9)
    ax.set_yticks(
        [r + 0.5 for r in range(len(rows))], [f"{c} ({CATEGORIES[c]})" for c in rows], fontsize=9
    )
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.legend(
        handles=[Patch(facecolor=COLOURS[v], label=v.value) for v in VERDICT_ORDER],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=len(VERDICT_ORDER),
        fontsize=8,
        frameon=False,
    )
    if title:
        ax.set_title(title, pad=24, fontsize=11)
    fig.tight_layout()
    return fig
