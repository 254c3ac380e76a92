"""The heat map of conformance verdicts (wslib.lab.conformance.figures), on made-up results."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import Rectangle

from wslib.lab import drawings
from wslib.lab.conformance import CASES, CaseResult, Results, Verdict, figures, report
from wslib.lab.conformance.figures import cell_shares, verdict_heatmap


def make_results(verdicts: dict[str, Verdict], default: Verdict = Verdict.OK) -> Results:
    """Results for every case of the categories named in ``verdicts`` (by category)."""
    chosen = [case for case in CASES if case.category in verdicts]
    return Results(
        "made up",
        "server",
        "2025-01-01T00:00:00+00:00",
        0.0,
        [CaseResult(case, verdicts.get(case.category, default), "made up", 0.0) for case in chosen],
    )


def cells(fig: plt.Figure) -> dict[str, list[Rectangle]]:
    """The coloured segments of each cell, keyed "column|category"."""
    found: dict[str, list[Rectangle]] = {}
    for patch in fig.axes[0].patches:
        gid = patch.get_gid()
        if gid:
            column, category, _ = gid.split("|")
            found.setdefault(f"{column}|{category}", []).append(patch)
    return found


def test_shares_in_order_without_zeros() -> None:
    counts = {"OK": 3, "INFORMATIONAL": 0, "NON-STRICT": 0, "FAILED": 1}
    assert cell_shares(counts) == [(Verdict.OK, 0.75), (Verdict.FAILED, 0.25)]
    assert cell_shares({"FAILED": 2, "OK": 2}) == [(Verdict.OK, 0.5), (Verdict.FAILED, 0.5)]
    assert cell_shares({v.value: 0 for v in Verdict}) == []


def test_colours_are_the_reports() -> None:
    # One definition of the palette: the figure uses the report's, it does not copy it.
    assert figures.COLOURS is report.verdict_colours()


def test_verdict_colours_come_from_the_series_palette() -> None:
    # wslib.lab.drawings.PALETTE is the one place where the series' colours are written down
    colours = report.verdict_colours()
    assert set(colours) == set(Verdict)
    for verdict, colour in colours.items():
        assert colour == drawings.PALETTE[report.VERDICT_PALETTE_NAMES[verdict]]
    assert len(set(colours.values())) == len(Verdict)
    source = Path(report.__file__).read_text(encoding="utf-8")
    for colour in drawings.PALETTE.values():
        assert colour.lower() not in source.lower(), f"{colour} is copied into report.py"


def test_the_html_report_embeds_the_palettes_colours() -> None:
    page = make_results({"framing": Verdict.OK}, default=Verdict.FAILED).to_html()
    assert f"background:{drawings.PALETTE['bluish green']}" in page
    assert "<link" not in page and "<script src" not in page  # one self-contained file


def test_heatmap_cells_have_the_shares_and_colours_of_the_verdicts(tmp_path: Path) -> None:
    good = make_results({"framing": Verdict.OK, "closing": Verdict.OK})
    mixed_cases = [c for c in CASES if c.category in ("framing", "closing")]
    framing = [c for c in mixed_cases if c.category == "framing"]
    bad = Results(
        "bad",
        "server",
        "2025-01-01T00:00:00+00:00",
        0.0,
        [
            CaseResult(c, Verdict.FAILED if c in framing[:2] else Verdict.OK, "x", 0.0)
            for c in mixed_cases
        ],
    )
    fig = verdict_heatmap({"good": good, "bad": bad}, title="test")
    try:
        found = cells(fig)
        assert set(found) == {"good|framing", "good|closing", "bad|framing", "bad|closing"}
        (whole,) = found["good|framing"]
        assert whole.get_facecolor() == matplotlib.colors.to_rgba(
            report.verdict_colours()[Verdict.OK]
        )
        ok, failed = found["bad|framing"]
        assert ok.get_facecolor() == matplotlib.colors.to_rgba(report.verdict_colours()[Verdict.OK])
        assert failed.get_facecolor() == matplotlib.colors.to_rgba(
            report.verdict_colours()[Verdict.FAILED]
        )
        assert failed.get_width() / (ok.get_width() + failed.get_width()) == pytest.approx(
            2 / len(framing)
        )
        assert ok.get_x() + ok.get_width() == pytest.approx(failed.get_x())  # side by side
        # the rows are the categories present, in the suite's order; the labels count failures
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert [label.split(" (")[0] for label in labels] == ["framing", "closing"]
        texts = {t.get_text() for t in fig.axes[0].texts}
        assert "2 failed" in texts
        assert f"all {len(framing)} OK" in texts
        fig.savefig(tmp_path / "heatmap.png")
        assert (tmp_path / "heatmap.png").stat().st_size > 1000
    finally:
        plt.close(fig)


def test_a_category_one_run_did_not_play_is_marked() -> None:
    everything = make_results({"framing": Verdict.OK, "ping/pong": Verdict.NON_STRICT})
    only_pings = make_results({"ping/pong": Verdict.FAILED})
    fig = verdict_heatmap({"all": everything, "pings": only_pings})
    try:
        assert "pings|framing" not in cells(fig)
        assert "not run" in {t.get_text() for t in fig.axes[0].texts}
        (lenient,) = cells(fig)["all|ping/pong"]
        assert lenient.get_facecolor() == matplotlib.colors.to_rgba(
            report.verdict_colours()[Verdict.NON_STRICT]
        )
    finally:
        plt.close(fig)
