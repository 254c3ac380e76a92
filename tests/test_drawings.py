"""wslib.lab.drawings: the series' pictures, checked by what they draw and where."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from wslib import Connection, Side, State
from wslib.frames import Close, Frame, Opcode
from wslib.lab import drawings, ladder
from wslib.lab.drawings import Call, Delivery
from wslib.protocol import SEND_EOF


@pytest.fixture(autouse=True)
def no_figures_left() -> Iterator[None]:
    plt.close("all")
    yield
    plt.close("all")


def save(fig: Figure, name: str) -> None:
    """Keep a PNG to look at, when WSLIB_DRAWINGS_PNG names a folder."""
    folder = os.environ.get("WSLIB_DRAWINGS_PNG")
    if folder:
        fig.savefig(Path(folder) / name, dpi=100)


def boxes(ax: Axes) -> list[tuple[Text, Bbox]]:
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    return [(t, t.get_window_extent(renderer)) for t in ax.texts if t.get_text()]


def overlapping(ax: Axes) -> list[tuple[str, str]]:
    found = boxes(ax)
    return [
        (a.get_text(), b.get_text())
        for i, (a, box_a) in enumerate(found)
        for b, box_b in found[i + 1 :]
        if box_a.overlaps(box_b)
    ]


def texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


# --- the palette ----------------------------------------------------------------------------------


def test_one_palette_for_the_series() -> None:
    okabe_ito = {to_rgb(c) for c in drawings.PALETTE.values()}
    assert len(drawings.PALETTE) == 9  # Okabe and Ito's eight, and a grey
    for role, colour in drawings.COLOURS.items():
        grey = len(set(to_rgb(colour))) == 1
        assert grey or to_rgb(colour) in okabe_ito, f"{role} is not from the palette"
    # the ladder of captures uses the same colours
    for kind, colour in ladder.COLOURS.items():
        assert colour == drawings.COLOURS[kind]


def test_no_red_green_pair_among_the_roles() -> None:
    # the colours that tell frames apart differ for colour-blind readers: blue against vermillion
    assert drawings.COLOURS["data"] != drawings.COLOURS["control"]
    pure_red, pure_green = {"red", "tab:red", "darkred"}, {"green", "tab:green"}
    assert not (pure_red | pure_green) & set(map(str, drawings.COLOURS.values()))


def test_tint_goes_towards_white() -> None:
    assert drawings.tint("#000000", 0.0) == (0.0, 0.0, 0.0)
    assert drawings.tint("#000000", 1.0) == (1.0, 1.0, 1.0)
    assert drawings.tint("#0072B2", 0.5)[0] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        drawings.tint("#000000", 1.5)


# --- notebook 00: polling ------------------------------------------------------------------------


def test_polling_stops_once_the_client_knows() -> None:
    ax = drawings.draw_polling(poll_every_s=2.0, task_done_at_s=7.3, duration_s=12.0)
    save(ax.figure, "polling.png")  # type: ignore[arg-type]
    polls = [p for c in ax.collections for p in c.get_paths()]
    # 0, 2, 4, 6 say "not yet", 8 says "done", and then the client stops: 5 polls, not 6
    assert texts(ax).count('"not yet"') == 4 and texts(ax).count('"done"') == 1
    assert len(polls) == 5 + 2  # and the WebSocket bar with its handshake
    assert any("0.7 s late" in t for t in texts(ax))
    assert "HTTP/1.0 polling:\n5 connections" in [t.get_text() for t in ax.get_yticklabels()]
    assert overlapping(ax) == []


def test_the_task_done_line_stops_below_its_label() -> None:
    ax = drawings.draw_polling()
    ((label, box),) = [(t, b) for t, b in boxes(ax) if t.get_text().startswith("task done")]
    (line,) = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
    top = max(line.get_ydata())  # type: ignore[arg-type]
    assert ax.transData.transform((0, top))[1] < box.y0  # the line does not go through the text
    for text, other in boxes(ax):  # and no label sits on the line
        if text is not label:
            x = ax.transData.transform((7.3, 0))[0]
            y = (other.y0 + other.y1) / 2
            below_top = y < ax.transData.transform((0, top))[1]
            assert not (other.x0 < x < other.x1 and below_top), text.get_text()


def test_polling_checks_its_arguments() -> None:
    with pytest.raises(ValueError):
        drawings.draw_polling(task_done_at_s=20.0, duration_s=12.0)


# --- notebook 03: states -------------------------------------------------------------------------


def test_states_names_every_state_and_says_whose_names_they_are() -> None:
    ax = drawings.draw_states()
    save(ax.figure, "states.png")  # type: ignore[arg-type]
    labels = texts(ax)
    for state in State:
        assert state.name in labels
    assert len(ax.patches) == len(State)
    # RFC 6455 has CLOSING; the split is wsproto's naming, and the figure says so
    assert "RFC 6455" not in ax.get_title()
    (note,) = [t for t in labels if "wsproto" in t]
    assert "one CLOSING state" in note
    assert overlapping(ax) == []


# --- notebook 03: an in-memory run ----------------------------------------------------------------


def describe(data: bytes, masked: bool) -> str:
    if data == SEND_EOF:
        return "TCP FIN (end of stream)"
    from wslib import StreamReader

    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=masked)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
    if frame.opcode is Opcode.CLOSE:
        close = Close.parse(frame.payload)
        return f"close frame {int(close.code)} {close.reason!r}"
    return str(frame)


def play(reason: str) -> list[Call | Delivery]:
    """A real run of two Connections: the client sends '123', then closes with ``reason``."""
    keys = iter(bytes([i, 1, 2, 3]) for i in range(100))
    client = Connection(Side.CLIENT, mask_key_generator=lambda: next(keys))
    server = Connection(Side.SERVER)
    steps: list[Call | Delivery] = []
    for text, action in [
        ("send_text('123')", lambda: client.send_text("123")),
        (f"send_close(1000, {reason!r})", lambda: client.send_close(1000, reason)),
    ]:
        action()
        steps.append(Call("client", text, client.state, server.state))
        for _ in range(10):
            moved = False
            for sender, receiver in ((client, server), (server, client)):
                for data in sender.data_to_send():
                    moved = True
                    if data == SEND_EOF:
                        receiver.receive_eof()
                    else:
                        receiver.receive_data(data)
                    what = describe(data, masked=sender is client)
                    events = tuple(receiver.events_received())
                    steps.append(
                        Delivery(sender.side.value, what, events, client.state, server.state)
                    )
            if not moved:
                break
    return steps


def test_run_draws_every_delivery_and_every_state() -> None:
    steps = play("bye")
    ax = drawings.draw_run(steps, "the client closes")
    save(ax.figure, "run.png")  # type: ignore[arg-type]
    labels = texts(ax)
    deliveries = [s for s in steps if isinstance(s, Delivery)]
    for step in deliveries:
        assert step.what in labels
    assert sum(t.startswith("TCP FIN") for t in labels) == 2
    assert len([a for a in ax.texts if a.get_text() == "" and a.arrow_patch]) == len(deliveries)
    for state in (State.OPEN, State.LOCAL_CLOSING, State.REMOTE_CLOSING, State.CLOSED):
        assert state.name in labels
    assert "event: Closed(1000, 'bye')" in labels
    assert "send_close(1000, 'bye')" in labels
    assert ax.get_title() == "the client closes"
    assert overlapping(ax) == []


def test_run_labels_stay_between_the_lanes() -> None:
    ax = drawings.draw_run(play("a reason much longer than the gap between the lanes " * 2), "")
    left, right = (ax.transData.transform((x, 0))[0] for x in (0.0, 1.0))
    between = [(t, b) for t, b in boxes(ax) if t.get_position()[0] == 0.5]
    assert len(between) == 5
    for text, box in between:
        assert left < box.x0 < box.x1 < right, text.get_text()


def test_short_names_an_event() -> None:
    from wslib import Closed, TextMessage

    assert drawings.short(Closed(1000, "bye")) == "Closed(1000, 'bye')"
    assert drawings.short(TextMessage("123")) == "TextMessage('123')"


# --- frames (notebook 02) -------------------------------------------------------------------------


def test_frame_header_is_drawn_in_rows_of_32_bits() -> None:
    hello = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")  # RFC 6455 §5.7
    fields: list[drawings.FrameField] = [
        ("FIN\n1", 1, "FIN"),
        ("R1\n0", 1, "RSV"),
        ("R2\n0", 1, "RSV"),
        ("R3\n0", 1, "RSV"),
        ("opcode\n0x1 = text", 4, "opcode"),
        ("MASK\n1", 1, "MASK"),
        ("payload len\n5", 7, "len"),
        ("masking key\n37 fa 21 3d", 32, "key"),
        ("payload\n7f 9f 4d 51 58", 40, "payload"),
    ]
    ax = drawings.draw_frame(fields, "RFC 6455 §5.7: a masked 'Hello'", raw=hello)
    save(ax.figure, "frame.png")  # type: ignore[arg-type]
    labels = texts(ax)
    for label, _, _ in fields:
        assert label in labels
    # 88 bits: 3 rows; the key runs over the end of row 0, the payload over row 1's
    assert labels.count("(continued)") == 2
    assert len(ax.patches) == len(fields) + 2
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows == ["bytes 0–3\n81 85 37 fa", "bytes 4–7\n21 3d 7f 9f", "bytes 8–11\n4d 51 58"]
    colours = {p.get_facecolor()[:3] for p in ax.patches}
    assert len(colours) == len({kind for _, _, kind in fields})
    assert ax.get_title() == "RFC 6455 §5.7: a masked 'Hello'"


# --- labels between lanes -------------------------------------------------------------------------


def test_cut_labels_keep_their_details() -> None:
    _fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_xlim(-0.2, 1.2)
    text = ax.text(0.5, 0.5, 'CLOSE 1000 "' + "x" * 80 + '"  (84 B, masked)', ha="center")
    drawings.fit_between(ax, [text], 0.0, 1.0)
    assert text.get_text().endswith("…  (84 B, masked)")
    assert text.get_fontsize() >= 6.5
    ((_, box),) = boxes(ax)
    left, right = (ax.transData.transform((x, 0))[0] for x in (0.0, 1.0))
    assert left < box.x0 < box.x1 < right


# --- notebook 02: the benchmark -------------------------------------------------------------------


def throughput_results() -> list[dict[str, object]]:
    """Records shaped like benchmarks/bench_frames.py's, with made-up speeds."""
    speeds = {"per-byte loop": 10.0, "wslib": 400.0, "websockets (C extension)": 30_000.0}
    records: list[dict[str, object]] = []
    for op in ("mask", "parse"):
        for impl, mbps in speeds.items():
            if op == "parse" and impl == "per-byte loop":
                continue  # the loop only masks
            for size in (16, 64 * 1024, 16 * 2**20):
                skipped = impl == "per-byte loop" and size > 64 * 1024
                records.append(
                    {"op": op, "impl": impl, "size": size, "mbps": None if skipped else mbps}
                )
    return records


def test_throughput_has_one_panel_per_operation_and_one_legend() -> None:
    fig = drawings.draw_throughput(throughput_results(), ops=("mask", "parse"), title="made up")
    save(fig, "throughput.png")
    mask, parse = fig.axes
    assert (mask.get_title(), parse.get_title()) == ("mask", "parse")
    assert [line.get_label() for line in mask.lines] == [
        "per-byte loop",
        "wslib",
        "websockets (C extension)",
    ]
    assert [line.get_label() for line in parse.lines] == ["wslib", "websockets (C extension)"]
    (loop,) = [line for line in mask.lines if line.get_label() == "per-byte loop"]
    assert list(loop.get_xdata()) == [16, 64 * 1024]  # the skipped size is not drawn as zero
    assert [t.get_text() for t in mask.get_xticklabels()] == ["16 B", "64 KiB", "16 MiB"]
    assert mask.get_yscale() == "log" and mask.get_xscale() == "log"
    # one legend for the figure, one entry per implementation
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "per-byte loop",
        "wslib",
        "websockets (C extension)",
    ]


def test_throughput_keeps_each_implementations_style_and_palette() -> None:
    fig = drawings.draw_throughput(throughput_results(), ops=("mask", "parse"))
    okabe_ito = {to_rgb(c) for c in drawings.PALETTE.values()}
    styles: dict[str, set[tuple[object, ...]]] = {}
    for ax in fig.axes:
        for line in ax.lines:
            style = (to_rgb(line.get_color()), line.get_marker(), line.get_linestyle())
            assert style[0] in okabe_ito
            styles.setdefault(str(line.get_label()), set()).add(style)
    assert all(len(s) == 1 for s in styles.values())  # the same look in every panel
    looks = [next(iter(s)) for s in styles.values()]
    assert len({look[0] for look in looks}) == len(looks)  # different hues...
    assert len({look[1] for look in looks}) == len(looks)  # ...and different markers
    (ours,) = [ln for ln in fig.axes[0].lines if ln.get_label() == "wslib"]
    assert ours.get_linewidth() > max(
        ln.get_linewidth() for ln in fig.axes[0].lines if ln is not ours
    )


def test_size_labels() -> None:
    assert [drawings.size_label(n) for n in (16, 125, 4096, 2**20, 1536)] == [
        "16 B",
        "125 B",
        "4 KiB",
        "1 MiB",
        "1536 B",
    ]


# --- notebooks 04, 05 and 07 ----------------------------------------------------------------------


def test_outcome_colours_are_not_a_red_green_pair() -> None:
    ok, bad = (drawings.OUTCOME_COLOURS[k] for k in (True, False))
    # told apart by hue (blue against orange) and not only by colour: ✔ and ✘ in the text
    assert ok[2] > ok[0] and bad[0] > bad[2]
    for colours in (drawings.BILL_COLOURS, drawings.STRATEGY_COLOURS):
        assert len(set(map(str, colours.values()))) == len(colours)
    assert set(drawings.STRATEGY_COLOURS.values()) <= set(drawings.PALETTE.values())
    assert set(drawings.CYCLE) <= set(drawings.PALETTE.values())


def test_use_palette_sets_the_default_colours() -> None:
    before = plt.rcParams["axes.prop_cycle"]
    try:
        drawings.use_palette()
        (line,) = plt.subplots()[1].plot([0, 1])
        assert line.get_color() == drawings.CYCLE[0]
    finally:
        plt.rcParams["axes.prop_cycle"] = before


def test_outcomes_grid_keeps_each_text_in_its_cell() -> None:
    long = "got a text frame b'are you there?' and nothing else for a long while, " * 3
    outcomes = {
        "article's server": {"ping": (long, False), "close frame": ("nothing", False)},
        "wslib.serve": {"ping": ("got a pong frame", True), "close frame": ("close", True)},
    }
    ax = drawings.draw_outcomes(outcomes, "two inputs, two servers")
    save(ax.figure, "outcomes.png")  # type: ignore[arg-type]
    assert overlapping(ax) == []
    shown = texts(ax)
    assert sum(t.startswith("✔") for t in shown) == 2
    assert sum(t.startswith("✘") for t in shown) == 2
    assert all(t.count("\n") <= 2 for t in shown)  # at most three lines per cell
    for text, box in boxes(ax):
        x, y = text.get_position()
        cell = ax.transData.transform([(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)])
        assert cell[:, 0].min() <= box.x0 and box.x1 <= cell[:, 0].max(), text.get_text()


def test_ratios_write_every_measurement_beside_its_bar() -> None:
    rows = [("16 B", 12000.0, 10000.0), ("1 MiB", 40.0, 400.0)]
    ax = drawings.draw_ratios(rows, ("wslib.serve", "websockets"))
    save(ax.figure, "ratios.png")  # type: ignore[arg-type]
    shown = texts(ax)
    assert "1.20×" in shown and "0.10×" in shown
    assert "12,000 vs 10,000" in shown and "40 vs 400" in shown
    assert ax.get_xscale() == "linear"
    assert overlapping(ax) == []
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == pytest.approx([0.1, 1.2])


# --- notebook 09: the idle timeline ---------------------------------------------------------------


def idle_rows() -> list[tuple[str, object]]:
    from wslib.lab.dissect import conversations
    from wslib.lab.tools import PCAP_DIR

    rows: list[tuple[str, object]] = []
    for run, name in (("quiet", "idle-timeout-kill.pcap"), ("pings", "heartbeat-keeps-alive.pcap")):
        legs = sorted(
            (c for c in conversations(PCAP_DIR / name) if c.request is not None),
            key=lambda c: c.start,
        )
        rows += [(f"{run}: client ↔ nginx", legs[0]), (f"{run}: nginx ↔ server", legs[1])]
    return rows


def marks(ax: Axes) -> dict[str, list[tuple[float, float]]]:
    """Display positions of the scattered marks, by marker shape (the path's vertex count)."""
    from matplotlib.collections import PathCollection

    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    fig.canvas.draw()
    shapes = {4: "triangle", 5: "square", 13: "X"}
    found: dict[str, list[tuple[float, float]]] = {}
    for collection in ax.collections:
        if not isinstance(collection, PathCollection):
            continue
        path = collection.get_paths()[0]
        kind = shapes.get(len(path.vertices), "circle")
        if kind == "triangle":  # up or down: the apex is the one corner alone at its height
            ys = [round(float(y), 6) for y in path.vertices[:3, 1]]
            kind = "up" if ys.count(max(ys)) == 1 else "down"
        for xy in collection.get_offset_transform().transform(collection.get_offsets()):
            found.setdefault(kind, []).append((float(xy[0]), float(xy[1])))
    return found


def test_timeline_pings_point_up_above_their_row_and_pongs_down_below() -> None:
    rows = idle_rows()
    ax = drawings.draw_timeline(rows, 10.0)
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    save(fig, "09-timeline.png")
    found = marks(ax)
    row_y = {round(float(ax.transData.transform((0, y))[1])) for y in range(len(rows))}
    assert found["up"] and found["down"]

    def row_of(y: float) -> float:
        return min(row_y, key=lambda r: abs(r - y))

    # display coordinates: y grows upwards
    assert all(y > row_of(y) for _, y in found["up"]), "a ping ▲ sits below its row's line"
    assert all(y < row_of(y) for _, y in found["down"]), "a pong ▼ sits above its row's line"


def test_timeline_close_frames_and_the_fin_are_side_by_side_not_stacked() -> None:
    # The pinged run ends with the client's close frame, the server's, then the FIN, within
    # milliseconds: at a minute's scale the same pixel, where the ✖ hid the ■.
    rows = idle_rows()[2:]
    ax = drawings.draw_timeline(rows, 10.0)
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    save(fig, "09-timeline-end.png")
    found = marks(ax)
    apart = 6 * fig.dpi / 72  # 6 points: more than half the ✖ plus half a ■
    for y in range(len(rows)):
        row_y = float(ax.transData.transform((0, y))[1])
        ends = [(x, kind) for kind in ("square", "X") for x, yy in found[kind] if yy == row_y]
        assert sorted(kind for _, kind in ends) == ["X", "square", "square"], ends
        xs = sorted(x for x, _ in ends)
        assert all(b - a >= apart for a, b in itertools.pairwise(xs)), xs
        assert max(ends)[1] == "X", "the FIN comes after both close frames"


def test_timeline_legend_names_every_mark_and_both_bands() -> None:
    ax = drawings.draw_timeline(idle_rows(), 10.0)
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    for wanted in ("message", "ping ▲", "pong ▼", "FIN", "filled", "hollow", "under 10 s", "whole"):
        assert any(wanted in label for label in legend), (wanted, legend)
    assert "above" not in ax.get_xlabel() and "below" not in ax.get_xlabel()  # not in the axis


def test_timeline_silence_labels_stay_inside_and_off_the_marks() -> None:
    for timeout in (10.0, 2.0):
        ax = drawings.draw_timeline(idle_rows(), timeout)
        inside = ax.get_window_extent()
        points = [xy for xys in marks(ax).values() for xy in xys]
        labelled = boxes(ax)
        assert len(labelled) == 4
        for text, box in labelled:
            assert inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1), text
            assert not any(box.contains(x, y) for x, y in points), text.get_text()
        assert not overlapping(ax)
        plt.close("all")


def test_timeline_colours_are_the_palettes() -> None:
    ax = drawings.draw_timeline(idle_rows(), 10.0)
    allowed = {to_rgb(c) for c in drawings.PALETTE.values()} | {to_rgb("white")}
    for collection in ax.collections:
        for colour in [*collection.get_facecolors(), *collection.get_edgecolors()]:
            rgb = tuple(float(c) for c in colour[:3])
            grey = len({round(c, 3) for c in rgb}) == 1
            assert (
                grey
                or min(sum((a - b) ** 2 for a, b in zip(rgb, ok, strict=True)) for ok in allowed)
                < 1e-6
                or rgb in {tuple(drawings.SILENCE_COLOURS[k]) for k in drawings.SILENCE_COLOURS}
            )


def test_draw_bills_stacks_the_four_kinds_and_writes_each_total() -> None:
    from wslib.lab.bill import Bill

    bills = {
        "small": Bill(packets=16, tcpip=848, http=315, framing=28, payload=12),
        "big": Bill(packets=20, tcpip=1056, http=283, framing=36, payload=140_000),
    }
    for shares in (False, True):
        fig = drawings.draw_bills(bills, "a title", shares=shares)
        left, right = fig.axes
        bars = [p for p in left.patches if p.get_width() > 0]
        assert len(bars) == 8  # four kinds, two bills
        ends = {round(b.get_y() + b.get_height() / 2): 0.0 for b in bars}
        for b in bars:
            ends[round(b.get_y() + b.get_height() / 2)] += b.get_width()
        texts = {t.get_text() for t in left.texts}
        assert {"1,203 B", "141,375 B"} <= texts  # the real totals, also when drawn as shares
        if shares:
            assert all(abs(end - 100) < 1e-6 for end in ends.values())
        else:
            assert sorted(ends.values()) == [1203, 141_375]
        assert [p.get_width() for p in right.patches] == [16, 20]
        legend = [t.get_text() for t in left.get_legend().get_texts()]
        assert legend == ["TCP/IP headers", "HTTP headers", "framing", "payload"]
        plt.close(fig)


# --- notebook 07: the recorded minute -------------------------------------------------------------


def test_connection_lanes_keep_drawn_bars_apart() -> None:
    # three clients polling in step: three short connections a second, 0.01 s apart
    spans = [(t + 0.01 * c, t + 0.01 * c + 0.005) for t in range(5) for c in range(3)]
    lanes = drawings.connection_lanes(spans, gap=0.04)
    assert sorted(set(lanes)) == [0, 1, 2]
    for lane in set(lanes):
        mine = [span for span, own in zip(spans, lanes, strict=True) if own == lane]
        for (a, _), (b, _) in itertools.pairwise(mine):
            assert b - a >= drawings.MIN_BAR_S + 0.04
    assert drawings.connection_lanes([], gap=0.04) == []


def test_draw_minute_short_polling_is_a_comb_not_a_band() -> None:
    from matplotlib.collections import PolyCollection

    from wslib.lab.polling import FINISH_JOB, measure, recording_path, select

    measurements = measure(recording_path())
    minute = [
        select(measurements, "short", interval=1.0, job=FINISH_JOB),
        select(measurements, "websocket", job=FINISH_JOB),
    ]
    ax = drawings.draw_minute(minute)
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    save(fig, "07-minute.png")
    short_y = 1  # the first row is on top
    bars: list[tuple[float, float, float, float]] = []
    for collection in ax.collections:
        if isinstance(collection, PolyCollection):
            for path in collection.get_paths():
                (x0, y0), (x1, y1) = path.vertices.min(axis=0), path.vertices.max(axis=0)
                if short_y <= y0 < short_y + 0.5:
                    bars.append((float(x0), float(x1), float(y0), float(y1)))
    t0 = min(m.start for m in minute)
    opened = [a for a, _ in minute[0].spans if a - t0 < 60]
    assert len(bars) == len(opened) > 50  # every connection of the minute drawn, none merged
    assert max(x1 - x0 for x0, x1, _, _ in bars) < 1.0  # short connections, no 50 s bands
    for a, b in itertools.combinations(bars, 2):  # no two bars touch: a comb
        apart_in_x = a[1] < b[0] or b[1] < a[0]
        apart_in_y = a[3] <= b[2] or b[3] <= a[2]
        assert apart_in_x or apart_in_y, (a, b)


# --- notebook 06: keepalive -----------------------------------------------------------------------


def test_draw_keepalive_puts_each_frame_in_its_lane_and_a_bar_under_each_ping() -> None:
    from wslib.lab.dissect import conversations
    from wslib.lab.tools import PCAP_DIR

    (idle,) = conversations(PCAP_DIR / "keepalive-idle.pcap")
    fig = drawings.draw_keepalive(idle, title="keepalive-idle.pcap")
    save(fig, "06-keepalive.png")
    top, bottom = fig.axes
    t0 = idle.frames[0].time
    lanes = {"c2s": 1, "s2c": 0}
    drawn = sorted(
        (round(float(x), 6), float(y))
        for collection in top.collections
        for x, y in collection.get_offsets()
    )
    assert drawn == sorted((round(f.time - t0, 6), lanes[f.direction]) for f in idle.frames)
    pings = [f for f in idle.frames if f.opcode == Opcode.PING]
    pongs = [f for f in idle.frames if f.opcode == Opcode.PONG]
    bars = sorted((round(p.get_x() + p.get_width() / 2, 6), p.get_height()) for p in bottom.patches)
    assert len(bars) == len(pings) > 3
    for (x, ms), ping in zip(bars, pings, strict=True):
        pong = min((p for p in pongs if p.time >= ping.time), key=lambda p: p.time)
        assert x == round(ping.time - t0, 6)
        assert ms == pytest.approx(1000 * (pong.time - ping.time))
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "ping",
        "pong",
        "message, close",
    ]


# --- notebook 12: wss:// -------------------------------------------------------------------------


def test_tls_records_ladder_shows_what_the_key_log_reveals() -> None:
    from wslib.lab.dissect import conversations

    path = Path(__file__).resolve().parent.parent / "data" / "pcaps" / "wss-echo-123-456.pcap"
    (sealed,) = conversations(path)
    (opened,) = conversations(path, keylog=path.with_suffix(".keys"))
    before = texts(drawings.draw_tls_records(sealed))
    after = texts(drawings.draw_tls_records(opened))
    n = len(sealed.tls.records)  # type: ignore[union-attr]
    assert sum("application_data" in t for t in before) > sum(
        "application_data" in t for t in after
    )
    assert sum("inside" in t for t in after) > 0 and not any("inside" in t for t in before)
    assert len([t for t in after if " B" in t]) == n
    plt.close("all")
    with pytest.raises(ValueError, match="not a TLS"):
        drawings.draw_tls_records(conversations(path.with_name("echo-123-456.pcap"))[0])


def test_record_sizes_plot_has_one_point_per_row() -> None:
    rows = [("c2s", 1, 28), ("s2c", 1, 24), ("c2s", 1000, 1029)]
    ax = drawings.draw_record_sizes(rows)
    offsets = [len(c.get_offsets()) for c in ax.collections]
    assert sorted(offsets) == [1, 2]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plt.close("all")


def test_wire_bytes_draws_one_bar_per_message_and_way() -> None:
    sizes = {"no compression": [139, 110], "deflate, context takeover": [99, 14]}
    ax = drawings.draw_wire_bytes(sizes)
    heights = sorted(round(p.get_height()) for p in ax.patches)
    assert heights == [14, 99, 110, 139]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "no compression: 249 bytes in all",
        "deflate, context takeover: 113 bytes in all",
    ]
    save(ax.figure, "wire-bytes.png")


def test_memory_by_window_bits_draws_a_line_per_mem_level() -> None:
    kib = {"memLevel 8": {9: 146.0, 15: 303.0}, "memLevel 5": {9: 34.0, 15: 191.0}}
    ax = drawings.draw_memory_by_window_bits(kib, baseline=3.4)
    lines = [line for line in ax.get_lines() if line.get_label().startswith("memLevel")]
    assert [list(line.get_ydata()) for line in lines] == [[146.0, 303.0], [34.0, 191.0]]
    assert any(t.get_text() == "303 KiB" for t in ax.texts)
    save(ax.figure, "memory.png")
