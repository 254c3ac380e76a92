"""The series' pictures, and the one palette they all use (matplotlib).

Every figure of the notebooks that is more than a plain plot is drawn here, so that a notebook
keeps only what a learner is meant to read (the data, the call, the picture)::

    from wslib.lab import drawings

    drawings.draw_polling().figure.savefig("/tmp/polling.png")   # notebook 00
    drawings.draw_states()                                      # notebook 03: Connection states
    drawings.draw_run(steps, "a closing handshake")             # notebook 03: an in-memory run
    drawings.draw_frame(fields, "RFC 6455 §5.2")                # a frame header, bit by bit
    drawings.draw_throughput(results)                           # notebook 02: the benchmark
    drawings.draw_timeline([("label", conversation)], timeout=10)  # notebook 09: silences
    drawings.draw_minute(measurements)                          # notebook 07: a recorded minute
    drawings.draw_keepalive(conversation)                       # notebook 06: pings in time
    drawings.draw_wire_bytes(sizes)                             # notebook 11: bytes per message
    drawings.draw_memory_by_window_bits(kib)                    # notebook 11: memory
    drawings.draw_tls_records(conversation)                     # notebook 12: a wss:// ladder
    drawings.draw_record_sizes(rows)                            # notebook 12: what size leaks

Ladders of *captured* conversations are :mod:`wslib.lab.ladder`'s job; they use the same palette,
and so do the conformance report and heat map
(:func:`wslib.lab.conformance.report.verdict_colours`).

The palette is Okabe and Ito's (*Color Universal Design*, 2008): eight colours that people with
the common forms of colour blindness still tell apart. It is set once, here: :data:`PALETTE`
names the colours, :data:`COLOURS` says what each colour means in the series (TCP, HTTP, data,
control frames, errors, ...), and :func:`tint` lightens one for a background. There is no
red/green pair: where two things must be told apart, they differ in hue *and* in lightness or
line style too.

matplotlib is imported here, so ``import wslib`` does not import this module.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Rectangle
from matplotlib.text import Text

from ..frames import Opcode
from ..protocol import Event, State

__all__ = [
    "BILL_COLOURS",
    "COLOURS",
    "COMPRESSION_STYLES",
    "CYCLE",
    "FRAME_COLOURS",
    "IMPLEMENTATION_STYLES",
    "MIN_BAR_S",
    "OUTCOME_COLOURS",
    "PALETTE",
    "REDIS_COLOUR",
    "SERVER_COLOURS",
    "SILENCE_COLOURS",
    "STATE_COLOURS",
    "STRATEGY_COLOURS",
    "STRATEGY_MARKERS",
    "TIMELINE_MARKS",
    "Call",
    "Delivery",
    "FrameField",
    "connection_lanes",
    "draw_bills",
    "draw_cluster",
    "draw_failover",
    "draw_fanout",
    "draw_frame",
    "draw_keepalive",
    "draw_memory_by_window_bits",
    "draw_minute",
    "draw_outcomes",
    "draw_path",
    "draw_polling",
    "draw_ratios",
    "draw_record_sizes",
    "draw_run",
    "draw_states",
    "draw_throughput",
    "draw_timeline",
    "draw_tls_records",
    "draw_wire_bytes",
    "fit_between",
    "short",
    "size_label",
    "tint",
    "use_palette",
]

# --- the palette --------------------------------------------------------------------------------

#: Okabe and Ito's colour-blind-safe palette, by name.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "grey": "#7F7F7F",  # not one of the eight: for what is only context (TCP, markers)
}

#: What each colour means, everywhere in the series.
COLOURS = {
    "tcp": PALETTE["grey"],  # TCP segments: SYN, ACK, FIN, RST
    "http": PALETTE["reddish purple"],  # HTTP requests and responses, the upgrade
    "data": PALETTE["blue"],  # WebSocket data frames: text, binary, continuation
    "control": PALETTE["vermillion"],  # WebSocket control frames: close, ping, pong
    "error": PALETTE["black"],  # something that breaks the protocol, a reset
    "marker": "#4D4D4D",  # notes and summaries
    "polling": PALETTE["orange"],  # a short-lived HTTP connection
    "websocket": PALETTE["blue"],  # a WebSocket connection
    "call": PALETTE["yellow"],  # a method the application calls
    "tls": PALETTE["bluish green"],  # TLS records: the handshake, and what cannot be read
}


def tint(colour: str, amount: float = 0.6) -> tuple[float, float, float]:
    """``colour`` mixed with ``amount`` of white (0: the colour itself, 1: white)."""
    if not 0 <= amount <= 1:
        raise ValueError(f"amount should be between 0 and 1, not {amount}")
    return tuple(c + (1 - c) * amount for c in to_rgb(colour))  # type: ignore[return-value]


#: The background of each state of :class:`wslib.protocol.State`.
STATE_COLOURS: dict[State, Any] = {
    State.CONNECTING: tint(PALETTE["grey"], 0.8),
    State.OPEN: tint(PALETTE["bluish green"], 0.6),
    State.LOCAL_CLOSING: tint(PALETTE["orange"], 0.5),
    State.REMOTE_CLOSING: tint(PALETTE["sky blue"], 0.5),
    State.CLOSED: tint(PALETTE["grey"], 0.55),
}

#: The background of each kind of field of a frame header (RFC 6455 §5.2).
FRAME_COLOURS: dict[str, Any] = {
    "FIN": tint(PALETTE["orange"], 0.45),
    "RSV": tint(PALETTE["yellow"], 0.45),
    "opcode": tint(PALETTE["bluish green"], 0.5),
    "MASK": tint(PALETTE["vermillion"], 0.45),
    "len": tint(PALETTE["sky blue"], 0.4),
    "ext": tint(PALETTE["sky blue"], 0.7),
    "key": tint(PALETTE["reddish purple"], 0.45),
    "payload": tint(PALETTE["grey"], 0.7),
}


# --- labels that stay between two lanes -----------------------------------------------------------


def _cut_label(label: str, chars: int) -> str:
    """``label`` in at most ``chars`` characters; the details in "  (...)" at its end are kept."""
    head, sep, details = label.rpartition("  (")
    if not sep:
        head, details = label, ""
    else:
        details = sep + details
    keep = max(chars - len(details) - 1, 3)
    return (head[:keep] + "…" if len(head) > keep else head) + details


def fit_between(
    ax: Axes, texts: Iterable[Text], left: float, right: float, *, min_size: float = 6.5
) -> None:
    """Make each centred text fit between ``x = left`` and ``x = right`` (data coordinates).

    A ladder's labels sit between its two lanes; one that is wider than the gap would cross a
    lane. The figure is laid out first (so the axes have their final size); a text that is too
    wide gets a smaller font, down to ``min_size`` points, and if it still does not fit it is cut
    with "…" (keeping its last "  (...)" part: lengths, flags).
    """
    fig = ax.get_figure(root=True)
    if not isinstance(fig, Figure):
        return
    fig.draw_without_rendering()  # runs the layout engine: the axes get their final size
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    x0, x1 = (ax.transData.transform((x, 0))[0] for x in (left, right))
    room = abs(x1 - x0) - 2 * fig.dpi * 0.04  # a small margin on each side
    for text in texts:
        width = text.get_window_extent(renderer).width
        if width <= room:
            continue
        text.set_fontsize(max(min_size, text.get_fontsize() * room / width * 0.98))
        label = text.get_text()
        chars = len(label)
        while text.get_window_extent(renderer).width > room and chars > 8:
            chars -= 2
            text.set_text(_cut_label(label, chars))


# --- notebook 00: polling versus one open connection ----------------------------------------------


def draw_polling(
    poll_every_s: float = 2.0,
    task_done_at_s: float = 7.3,
    duration_s: float = 12.0,
    *,
    ax: Axes | None = None,
) -> Axes:
    """A client that waits for a background task: HTTP/1.0 polling against one WebSocket.

    Top row: the client polls every ``poll_every_s`` seconds, each poll a new TCP connection
    (three-way handshake, request, response, close), until a poll learns that the task finished
    at ``task_done_at_s``; then it stops. Bottom row: one WebSocket connection, opened at 0 and
    kept open for ``duration_s``; the server pushes the news the moment it happens (RFC 6455 §1.1).
    """
    if not 0 <= task_done_at_s < duration_s:
        raise ValueError("the task should finish within the duration")
    if ax is None:
        _fig, ax = plt.subplots(figsize=(10, 3.4), layout="constrained")
    polls: list[float] = []
    while not polls or polls[-1] < task_done_at_s:
        polls.append(len(polls) * poll_every_s)
    learnt = polls[-1]
    bar = min(0.45, poll_every_s / 3)
    poll_y, ws_y, height = 2.0, 0.6, 0.6
    for t in polls:
        # one short-lived TCP connection per poll: handshake, request/response, close
        last = t == learnt
        ax.broken_barh(
            [(t, bar)],
            (poll_y - height / 2, height),
            facecolor=COLOURS["polling"],
            edgecolor="black" if last else "none",
            linewidth=1.2,
        )
        ax.text(
            t + bar / 2,
            poll_y - height / 2 - 0.08,
            '"done"' if last else '"not yet"',
            ha="center",
            va="top",
            fontsize=8,
            color="black" if last else "0.35",
        )
    ax.text(
        learnt + bar + 0.15,
        poll_y,
        f"learns it {learnt - task_done_at_s:.1f} s late,\nthen stops polling",
        ha="left",
        va="center",
        fontsize=9,
    )
    ws = COLOURS["websocket"]
    ax.broken_barh([(0, duration_s)], (ws_y - height / 2, height), facecolor=tint(ws, 0.75))
    ax.broken_barh([(0, bar)], (ws_y - height / 2, height), facecolor=ws)
    ax.plot([task_done_at_s], [ws_y], marker="v", color=ws, markersize=11, linestyle="none")
    ax.text(
        task_done_at_s + 0.25,
        ws_y,
        "the server pushes it at once",
        ha="left",
        va="center",
        fontsize=9,
    )
    # the moment the task finishes: a line that stops below its label
    top = poll_y + height / 2 + 0.35
    ax.plot([task_done_at_s] * 2, [0.05, top], color="black", linestyle=":", linewidth=1)
    ax.text(
        task_done_at_s,
        top + 0.05,
        f"task done (t = {task_done_at_s:g} s)",
        ha="center",
        va="bottom",
        fontsize=9,
    )
    ax.set_yticks(
        [ws_y, poll_y],
        ["WebSocket:\none connection", f"HTTP/1.0 polling:\n{len(polls)} connections"],
    )
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("time (s)")
    ax.set_xlim(-0.3, duration_s)
    ax.set_ylim(0, top + 0.5)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        "Each orange bar is a new TCP connection; the blue bar is one connection kept open "
        "(its handshake in dark blue)",
        fontsize=10,
    )
    return ax


# --- notebook 03: the states of a Connection ------------------------------------------------------

#: state: (x, y, what it means)
_BOXES = {
    State.CONNECTING: (1.8, 5.85, "opening handshake (§4),\nbefore a Connection exists"),
    State.OPEN: (1.8, 3.3, "messages flow both ways"),
    State.LOCAL_CLOSING: (7.3, 5.0, "we sent the first\nclose frame"),
    State.REMOTE_CLOSING: (7.3, 1.5, "the peer sent the first\nclose frame; we answered"),
    State.CLOSED: (12.8, 3.3, "the TCP connection\nhas ended"),
}
#: from, to, label, where the label goes: beside the arrow's middle, or on it
_ARROWS = [
    (State.CONNECTING, State.OPEN, "101 Switching Protocols:\ncreate a Connection", "left"),
    (
        State.OPEN,
        State.LOCAL_CLOSING,
        "send_close(), or the peer\nbroke a rule: our close\nframe goes first",
        "above left",
    ),
    (
        State.OPEN,
        State.REMOTE_CLOSING,
        "the peer's close frame\narrives: our answer\ngoes out at once",
        "below left",
    ),
    (State.LOCAL_CLOSING, State.CLOSED, "receive_eof():\nTCP ended", "above right"),
    (State.REMOTE_CLOSING, State.CLOSED, "receive_eof():\nTCP ended", "below right"),
    (State.OPEN, State.CLOSED, "receive_eof() and no close frame: code 1006", "on"),
]


def draw_states(*, ax: Axes | None = None) -> Axes:
    """The states of :class:`wslib.protocol.Connection` and the events that move it.

    RFC 6455 names four states: CONNECTING (§4.1), OPEN (§4.1), CLOSING (§7.1.3: a close frame
    was sent *or* received) and CLOSED (§7.1.4: the TCP connection ended). Like wsproto,
    ``wslib.protocol.State`` splits CLOSING in two, LOCAL_CLOSING (we sent the first close
    frame) and REMOTE_CLOSING (the peer did), because the two behave differently; the figure's
    note says so.
    """
    if ax is None:
        _fig, ax = plt.subplots(figsize=(11, 6.0), layout="constrained")
    ax.set_xlim(0, 14.6)
    ax.set_ylim(0.3, 6.5)
    ax.axis("off")
    patches = {}
    for state, (x, y, meaning) in _BOXES.items():
        w, h = 2.8, 1.0
        patch = FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.05",
            facecolor=STATE_COLOURS[state],
            edgecolor="black",
            linestyle="--" if state is State.CONNECTING else "-",
        )
        ax.add_patch(patch)
        patches[state] = patch
        ax.text(x, y + 0.22, state.name, ha="center", va="center", fontsize=11, weight="bold")
        ax.text(x, y - 0.18, meaning, ha="center", va="center", fontsize=8.5)
    for start, end, label, where in _ARROWS:
        (x0, y0, _), (x1, y1, _) = _BOXES[start], _BOXES[end]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "lw": 1.8,
                "color": "0.25",
                "patchA": patches[start],
                "patchB": patches[end],
                "shrinkA": 4,
                "shrinkB": 4,
            },
        )
        lx, ly, ha, va = (x0 + x1) / 2, (y0 + y1) / 2, "center", "center"
        if where == "left":
            lx, ha = lx - 0.2, "right"
        elif where != "on":  # a corner of the label touches the arrow's middle, clear of the arrow
            ha = "right" if "left" in where else "left"
            va = "bottom" if "above" in where else "top"
            lx += 0.3 if ha == "right" else -0.3
            ly += 0.15 if va == "bottom" else -0.15
        ax.text(
            lx,
            ly,
            label,
            ha=ha,
            va=va,
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"},
        )
    ax.text(
        7.3,
        0.45,
        "RFC 6455 has one CLOSING state (§7.1.3); wslib, like wsproto, splits it in two:\n"
        "LOCAL_CLOSING (we closed first) and REMOTE_CLOSING (the peer did).",
        ha="center",
        va="center",
        fontsize=8.5,
        style="italic",
        color=COLOURS["marker"],
    )
    ax.set_title(
        "The states of a wslib.protocol.Connection, and what moves it from one to the next"
    )
    return ax


# --- notebook 03: a run of two Connections in memory ----------------------------------------------


@dataclass(frozen=True)
class Call:
    """The application on one side called a method: ``caller`` is "client" or "server".

    ``client`` and ``server`` are the states of both ends just after the call.
    """

    caller: str
    call: str
    client: State
    server: State


@dataclass(frozen=True)
class Delivery:
    """Bytes that ``sender`` ("client" or "server") asked to send reached the other side.

    ``what`` says what they were in words (a frame, or the end of the stream), ``events`` are the
    events the receiving :class:`~wslib.protocol.Connection` reported for them, and ``client``
    and ``server`` the states of both ends afterwards.
    """

    sender: str
    what: str
    events: tuple[Event, ...]
    client: State
    server: State


def short(event: Event) -> str:
    """An event in a few characters: ``Closed(1000, 'bye')``, ``TextMessage('123')``."""
    values = [getattr(event, f.name) for f in fields(event)]
    shown = [repr(int(v)) if isinstance(v, int) else repr(v) for v in values]
    return f"{type(event).__name__}({', '.join(shown)})"


def draw_run(steps: Sequence[Call | Delivery], title: str, *, ax: Axes | None = None) -> Axes:
    """A ladder of an in-memory run of two Connections, one row per :class:`Call` or
    :class:`Delivery`: time runs down, each delivery is an arrow (a close frame in the control
    colour, the end of the stream dashed), each call a note beside its caller's lane, and each
    end shows its new state (RFC 6455 §7.1.3, §7.1.4) and its events whenever they change.
    """
    n = len(steps)
    if ax is None:
        _fig, ax = plt.subplots(figsize=(10, 0.9 * n + 1.6), layout="constrained")
    ax.set_xlim(-1.25, 2.25)
    ax.set_ylim(n + 0.1, -1.0)
    ax.axis("off")
    lanes = {"client": 0.0, "server": 1.0}
    for who, x in lanes.items():
        ax.plot([x, x], [-0.35, n], color="0.6", lw=1.5)
        ax.text(x, -0.5, who, ha="center", va="bottom", fontsize=12, weight="bold")
    state = {"client": State.OPEN, "server": State.OPEN}

    def note(who: str, y: float, text: str, colour: Any, **style: Any) -> None:
        # A note beside a lane: left of the client's, right of the server's.
        x, ha = (-0.06, "right") if who == "client" else (1.06, "left")
        box = {"boxstyle": "round,pad=0.2", "fc": colour, "ec": "0.4"} if colour else None
        text = text if len(text) <= 48 else text[:47] + "…"  # a close reason may be 123 bytes
        ax.text(x, y, text, ha=ha, va="center", fontsize=8.5, bbox=box, parse_math=False, **style)

    for who in lanes:
        note(who, -0.2, "OPEN", STATE_COLOURS[State.OPEN])
    labels = []
    for i, step in enumerate(steps):
        y0, y1 = i + 0.15, i + 0.8
        if isinstance(step, Call):
            note(step.caller, i + 0.3, step.call, tint(COLOURS["call"], 0.7), family="monospace")
            y1 = i + 0.75
        else:
            receiver = "server" if step.sender == "client" else "client"
            fin = step.what.startswith("TCP FIN")
            kind = "tcp" if fin else ("control" if "close" in step.what else "data")
            colour = COLOURS[kind]
            ax.annotate(
                "",
                xy=(lanes[receiver], y1),
                xytext=(lanes[step.sender], y0),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": colour,
                    "lw": 1.6,
                    "ls": "--" if fin else "-",
                },
            )
            labels.append(
                ax.text(
                    0.5,
                    (y0 + y1) / 2 - 0.06,
                    step.what,
                    ha="center",
                    va="bottom",
                    fontsize=9,
                    color=colour,
                    parse_math=False,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
                )
            )
            if step.events:
                events = ", ".join(short(e) for e in step.events)
                note(receiver, y1 + 0.22, f"event: {events}", None, style="italic", color="0.25")
        for who in lanes:
            now = step.client if who == "client" else step.server
            if now is not state[who]:
                state[who] = now
                note(who, y1, now.name, STATE_COLOURS[now])
    ax.set_title(title, fontsize=11)
    fit_between(ax, labels, 0.0, 1.0)
    return ax


# --- a frame header, bit by bit (RFC 6455 §5.2) ---------------------------------------------

#: One field of a frame header: (label, number of bits, kind), kind a key of FRAME_COLOURS.
FrameField = tuple[str, int, str]


def draw_frame(
    fields: Sequence[FrameField],
    title: str,
    *,
    raw: bytes | None = None,
    bits_per_row: int = 32,
    ax: Axes | None = None,
) -> Axes:
    """Draw the fields of a frame as rows of 32 bits, the way RFC 6455 §5.2 does.

    A field that does not fit on its row continues on the next one, labelled "(continued)". With
    ``raw`` (the frame's bytes), each row is labelled with the bytes it shows.
    """
    total = sum(nbits for _, nbits, _ in fields)
    rows = -(-total // bits_per_row)
    if ax is None:
        _fig, ax = plt.subplots(figsize=(12, 0.8 * rows + 1.0), layout="constrained")
    start = 0
    for label, nbits, kind in fields:
        left, first = nbits, True
        while left:
            row, col = divmod(start, bits_per_row)
            width = min(left, bits_per_row - col)
            ax.add_patch(
                Rectangle(
                    (col, -row - 1), width, 1, facecolor=FRAME_COLOURS[kind], edgecolor="black"
                )
            )
            text = label if first else "(continued)"
            size = 7 if width < 3 else 9
            ax.text(col + width / 2, -row - 0.5, text, ha="center", va="center", fontsize=size)
            start, left, first = start + width, left - width, False
    ax.set_xlim(0, bits_per_row)
    ax.set_ylim(-rows, 0.05)
    ax.set_xticks(
        [i + 0.5 for i in range(bits_per_row)],
        [str(i % 8) for i in range(bits_per_row)],
        fontsize=7,
    )
    ax.xaxis.tick_top()
    labels = [f"bytes {4 * r}–{4 * r + 3}" for r in range(rows)]
    if raw is not None:
        labels = [f"{label}\n{raw[4 * r : 4 * r + 4].hex(' ')}" for r, label in enumerate(labels)]
    ax.set_yticks([-r - 0.5 for r in range(rows)], labels, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=11)
    return ax


# --- notebook 02: the benchmark of masking, parsing and serializing -----------------------------

#: The colour, marker and line style of each implementation in :func:`draw_throughput`; wslib is
#: the series' blue and drawn thicker. Hue, marker and line style all differ, so that a reader who
#: cannot tell two hues apart still tells the lines apart.
IMPLEMENTATION_STYLES: dict[str, tuple[str, str, str]] = {
    "wslib": (PALETTE["blue"], "o", "-"),
    "per-byte loop": (PALETTE["black"], "x", ":"),
    "websockets (pure Python)": (PALETTE["orange"], "s", "--"),
    "websockets (C extension)": (PALETTE["vermillion"], "^", "-."),
    "wsproto": (PALETTE["bluish green"], "D", "--"),
}
_OTHER_STYLES = [
    (PALETTE["reddish purple"], "v", "-."),
    (PALETTE["sky blue"], "P", ":"),
    (PALETTE["grey"], "*", "--"),
]


def size_label(n: int) -> str:
    """A payload size the way the benchmark names it: 16 B, 4 KiB, 16 MiB."""
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def draw_throughput(
    results: Sequence[Mapping[str, Any]],
    *,
    ops: Sequence[str] = ("mask", "parse", "serialize"),
    title: str = "Throughput by payload size",
) -> Figure:
    """One panel per operation: MB/s against payload size, one line per implementation.

    ``results`` are the records of ``benchmarks/bench_frames.py`` (``op``, ``impl``, ``size``,
    ``mbps``; ``mbps`` is None where a measurement was skipped). Both axes are logarithmic: the
    speeds span four orders of magnitude, and equal ratios look like equal gaps. An
    implementation keeps its colour, marker and line style in every panel, with one legend.
    """
    impls = list(dict.fromkeys(str(r["impl"]) for r in results))
    sizes = sorted({int(r["size"]) for r in results})
    others = iter(_OTHER_STYLES)
    styles = {i: IMPLEMENTATION_STYLES.get(i) or next(others) for i in impls}
    fig, grid = plt.subplots(
        1, len(ops), figsize=(5 * len(ops), 4.6), sharey=True, squeeze=False, layout="constrained"
    )
    axes: list[Axes] = list(grid[0])
    for ax, op in zip(axes, ops, strict=True):
        for impl in impls:
            mine = sorted(
                (int(r["size"]), float(r["mbps"]))
                for r in results
                if (r["op"], r["impl"]) == (op, impl) and r["mbps"]
            )
            if not mine:
                continue
            colour, marker, style = styles[impl]
            ax.plot(
                [size for size, _ in mine],
                [mbps for _, mbps in mine],
                label=impl,
                color=colour,
                marker=marker,
                linestyle=style,
                linewidth=3 if impl == "wslib" else 1.5,
                zorder=3 if impl == "wslib" else 2,
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes, [size_label(n) for n in sizes], fontsize=8)
        ax.minorticks_off()
        ax.set_title(op)
        ax.set_xlabel("payload size")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("MB/s (higher is faster)")
    handles: dict[str, Artist] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        handles=list(handles.values()),
        labels=list(handles),
        loc="outside lower center",
        ncol=len(handles),
        fontsize=9,
        frameon=False,
    )
    fig.suptitle(title)
    return fig


# --- notebooks 04, 05 and 07: outcomes, comparisons, strategies -----------------------------------

#: Every plot's default colours (``plt.plot`` without ``color=``): the palette, black and grey last.
CYCLE = [
    PALETTE[name]
    for name in ("blue", "orange", "sky blue", "vermillion", "bluish green", "reddish purple")
]

#: The background of a trial's outcome: what the RFC asks for, or not. Blue against orange, and
#: the cells carry ✔ or ✘ too: never told apart by colour alone.
OUTCOME_COLOURS: dict[bool, Any] = {
    True: tint(PALETTE["sky blue"], 0.55),
    False: tint(PALETTE["orange"], 0.45),
}

#: The four kinds of bytes of :mod:`wslib.lab.bill`, by attribute.
BILL_COLOURS = {
    "tcpip": tint(PALETTE["grey"], 0.35),
    "http": COLOURS["http"],
    "framing": PALETTE["sky blue"],
    "payload": PALETTE["orange"],
}

#: The five strategies of notebook 07: the two polling ones warm, the pushing ones cool.
STRATEGY_COLOURS = {
    "short": PALETTE["vermillion"],
    "keepalive": PALETTE["orange"],
    "long": PALETTE["reddish purple"],
    "sse": PALETTE["sky blue"],
    "websocket": PALETTE["blue"],
}


def use_palette() -> None:
    """Make :data:`CYCLE` matplotlib's default colours (call it once, at a notebook's start)."""
    from cycler import cycler

    plt.rcParams["axes.prop_cycle"] = cycler(color=CYCLE)


#: ... and a marker each, so that they differ in shape too (vermillion and orange are close).
STRATEGY_MARKERS = {"short": "o", "keepalive": "s", "long": "^", "sse": "v", "websocket": "*"}

#: The width a TCP connection is drawn with in :func:`draw_minute` at least, so that it shows.
MIN_BAR_S = 0.12


def connection_lanes(spans: Sequence[tuple[float, float]], gap: float) -> list[int]:
    """A sub-row (lane) for each connection of ``spans``, so that no two drawn bars touch.

    Each connection is drawn at least :data:`MIN_BAR_S` wide; it goes in the first lane whose
    last bar ended ``gap`` seconds before it starts, or in a new lane. Clients that poll in step
    get a lane each: each lane a comb of short connections, not one merged band.
    """
    ends: list[float] = []
    lanes: list[int] = []
    for start, end in spans:
        drawn_end = start + max(end - start, MIN_BAR_S)
        for lane, last in enumerate(ends):
            if last + gap <= start:
                ends[lane] = drawn_end
                lanes.append(lane)
                break
        else:
            ends.append(drawn_end)
            lanes.append(len(ends) - 1)
    return lanes


def draw_minute(
    measurements: Sequence[Any], *, seconds: float = 60.0, ax: Axes | None = None
) -> Axes:
    """A recorded minute of notebook 07: a row per strategy (a ``wslib.lab.polling.Measurement``).

    In each row: grey bars, the TCP connections (at least :data:`MIN_BAR_S` wide, so a short one
    shows), stacked in sub-rows by :func:`connection_lanes` so that connections open at about
    the same time stay apart; blue ticks, the requests (for WebSocket: the messages that submit
    tasks); a black × for each event on the server and an orange line from it to the moment the
    client knew. Everything from the first packet of the first row, for ``seconds``.
    """
    if ax is None:
        _fig, ax = plt.subplots(figsize=(12, 4.6), layout="constrained")
    t0 = min(m.start for m in measurements)
    grey = tint(PALETTE["grey"], 0.25)
    for row, m in enumerate(measurements):
        y = len(measurements) - 1 - row
        spans = sorted((a - t0, b - t0) for a, b in m.spans if a - t0 < seconds)
        lanes = connection_lanes(spans, gap=0.04)
        count = max(lanes, default=0) + 1
        band, bottom = 0.45, y + 0.02  # the connections' part of the row, split into lanes
        height = band / count
        for (a, b), lane in zip(spans, lanes, strict=True):
            ax.broken_barh(
                [(a, max(b - a, MIN_BAR_S))],
                (bottom + lane * height + 0.1 * height, 0.8 * height),
                color=grey,
            )
        if row:
            ax.axhline(y + 0.55, color="0.8", linewidth=0.8)  # where the row above ends
        ticks = [t - t0 for t in m.request_times if t - t0 < seconds]
        ax.plot(ticks, [y - 0.1] * len(ticks), "|", color=PALETTE["blue"], markersize=7)
        for event, known in zip(m.events, m.known, strict=True):
            if event - t0 < seconds:
                ax.plot([event - t0, known - t0], [y - 0.3, y - 0.3], color=PALETTE["orange"], lw=2)
                ax.plot(event - t0, y - 0.3, "x", color="black")
    ax.set_yticks(range(len(measurements)), [m.label for m in reversed(measurements)])
    ax.set_xlim(0, seconds)
    ax.set_ylim(-0.45, len(measurements) - 0.45)
    ax.set_xlabel("seconds (the recorded minute)")
    ax.set_title(
        "Connections (grey, one sub-row per connection open at the same time), requests (blue "
        "ticks),\nevents (black ×) and how long the client waited (orange)",
        fontsize=10,
    )
    return ax


def draw_outcomes(
    outcomes: dict[str, dict[str, tuple[str, bool]]],
    title: str,
    *,
    width: int = 32,
    ax: Axes | None = None,
) -> Axes:
    """A grid of trials: a column per server, a row per input, each cell what happened.

    ``outcomes[server][trial] = (what happened, whether it is what RFC 6455 asks for)``. A cell
    is tinted by :data:`OUTCOME_COLOURS` and starts with ✔ or ✘; its text is wrapped to
    ``width`` characters and shortened to three lines, so that it stays inside its cell.
    """
    import textwrap

    servers = list(outcomes)
    rows = list(next(iter(outcomes.values()))) if outcomes else []
    if ax is None:
        _fig, ax = plt.subplots(
            figsize=(3 + 3 * len(servers), 0.85 * len(rows) + 1.2), layout="constrained"
        )
    for col, server in enumerate(servers):
        for row, trial in enumerate(rows):
            what, ok = outcomes[server][trial]
            ax.add_patch(
                Rectangle((col, row), 1, 1, facecolor=OUTCOME_COLOURS[ok], edgecolor="white", lw=2)
            )
            lines = textwrap.wrap(("✔ " if ok else "✘ ") + what, width)
            if len(lines) > 3:
                lines = [*lines[:2], textwrap.shorten(" ".join(lines[2:]), width, placeholder="…")]
            ax.text(col + 0.5, row + 0.5, "\n".join(lines), ha="center", va="center", fontsize=8)
    ax.set_xlim(0, len(servers))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([c + 0.5 for c in range(len(servers))], servers)
    ax.set_yticks([r + 0.5 for r in range(len(rows))], rows)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=10)
    return ax


def draw_ratios(
    rows: Sequence[tuple[str, float, float]],
    names: tuple[str, str],
    *,
    what: str = "round trips per second",
    ax: Axes | None = None,
) -> Axes:
    """How A compares with B, one bar per row, on a linear axis where 1 means "the same".

    ``rows``: (label, A's measurement, B's measurement). Each bar is A / B; a dashed line marks
    1; the measurements themselves are written in a column right of the bars, so that no
    number has to be read off a logarithmic axis.
    """
    if ax is None:
        _fig, ax = plt.subplots(figsize=(9, 0.7 * len(rows) + 1.6), layout="constrained")
    ratios = [a / b for _, a, b in rows]
    right = max(1.25, max(ratios, default=1.0) * 1.1)
    for y, ((_label, a, b), ratio) in enumerate(zip(rows, ratios, strict=True)):
        colour = COLOURS["websocket"] if ratio >= 1 else PALETTE["orange"]
        ax.barh(y, ratio, height=0.55, color=colour)
        ax.text(ratio + right * 0.01, y, f"{ratio:.2f}×", va="center", ha="left", fontsize=9)
        ax.text(
            1.02,
            y,
            f"{a:,.0f} vs {b:,.0f}",
            va="center",
            ha="left",
            fontsize=9,
            transform=ax.get_yaxis_transform(),
        )
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.text(1.0, -0.75, "as many as B ", ha="right", va="center", fontsize=8)
    ax.text(
        1.02,
        -0.75,
        f"{what}:\nA vs B",
        ha="left",
        va="center",
        fontsize=8,
        transform=ax.get_yaxis_transform(),
    )
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows])
    ax.set_ylim(len(rows) - 0.5, -1.2)
    ax.set_xlim(0, right * 1.08)
    ax.set_xlabel(f"{what}, A / B  (A = {names[0]}, B = {names[1]})")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


# --- notebook 09: idle connections on a timeline --------------------------------------------------

#: How each kind of frame is marked on a timeline: opcode name -> (marker, colour, legend label).
#: Pings point up and sit just above their row's line, pongs point down and sit just below it.
TIMELINE_MARKS: dict[str, tuple[str, str, str]] = {
    "TEXT": ("o", COLOURS["data"], "message"),
    "BINARY": ("o", COLOURS["data"], "message"),
    "PING": ("^", PALETTE["vermillion"], "ping ▲ (above the line)"),
    "PONG": ("v", PALETTE["bluish green"], "pong ▼ (below the line)"),
    "CLOSE": ("s", COLOURS["error"], "close frame"),
}
_TIMELINE_OFFSET = {"PING": -0.13, "PONG": 0.13}  # the y axis points down: negative is above
#: The bands behind a row: a silence shorter than the idle timeout, and one that lasted it.
SILENCE_COLOURS = {"short": tint(PALETTE["grey"], 0.75), "timeout": tint(PALETTE["orange"], 0.45)}


def _first_end(conversation: Any) -> Any:
    for event in conversation.tcp_events:
        if event.kind in ("FIN", "RST"):
            return event
    return None


#: Points between the centres of a close frame ■ and the FIN ✖ drawn side by side.
_END_SPACING = 11.0


def _end_nudges(conversation: Any, end: Any, span: float) -> dict[int, float]:
    """Sideways shifts, in points, that keep a row's close frames ■ and its FIN ✖ apart.

    They often come within milliseconds of each other (the close handshake, then TCP's FIN), which
    at a minute's scale is the same pixel: the ✖ would hide the ■. Marks closer than 1.5 % of the
    axis ``span`` are spread out in time order, ``_END_SPACING`` points apart, around where they
    happened. Keys: the index of the close frame in ``conversation.frames``, -1 for the FIN.
    """
    marks = [
        (frame.time, index)
        for index, frame in enumerate(conversation.frames)
        if frame.opcode.name == "CLOSE"
    ]
    if end is not None:
        marks.append((end.time, -1))
    marks.sort()
    clusters: list[list[int]] = []
    last = None
    for time, key in marks:
        if last is not None and time - last < 0.015 * span:
            clusters[-1].append(key)
        else:
            clusters.append([key])
        last = time
    nudges: dict[int, float] = {}
    for cluster in clusters:
        for position, key in enumerate(cluster):
            nudges[key] = (position - (len(cluster) - 1) / 2) * _END_SPACING
    return nudges


def _nudged(ax: Axes, points: float) -> Any:
    """The data transform of ``ax``, shifted ``points`` to the right on the page."""
    from matplotlib.transforms import ScaledTranslation

    fig = ax.get_figure(root=True)
    assert fig is not None
    return ax.transData + ScaledTranslation(points / 72, 0, fig.dpi_scale_trans)


def draw_timeline(
    rows: Sequence[tuple[str, Any]],
    timeout: float,
    *,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Each TCP connection of ``rows`` (``(label, conversation)``) on one row, from its own start.

    Marks: each frame (message ●, ping ▲ just above the row's line, pong ▼ just below it, close
    frame ■), filled when the server side sent it and hollow when the client side did; and the
    first FIN or RST (✕, RFC 9293 §3.6) that ended the connection; close frames and the ✕ that
    fall on the same spot are drawn side by side, in time order, so none hides another. Behind
    the row, a band for each silence between two of them: orange when it lasted ``timeout`` (at
    least 95 % of it), grey when it was shorter; above the row, the longest silence in seconds.
    Everything is named in the legend (RFC 6455 §5.5.2-5.5.3: pings and pongs).
    """
    own = ax is None
    if ax is None:
        _fig, ax = plt.subplots(figsize=(10, 1.0 + 0.85 * len(rows) + 0.9), layout="constrained")
    fig = ax.get_figure(root=True)
    end_x = 0.0
    silences: list[tuple[int, float, float]] = []  # (row, start, end) of each row's longest
    for _label, conv in rows:
        times = [frame.time - conv.start for frame in conv.frames]
        end = _first_end(conv)
        if end is not None:
            times.append(end.time - conv.start)
        end_x = max([end_x, *times])
    span = max(end_x, 1.0) * 1.05
    for y, (_label, conv) in enumerate(rows):
        times = [frame.time - conv.start for frame in conv.frames]
        end = _first_end(conv)
        if end is not None:
            times.append(end.time - conv.start)
        times.sort()
        gaps = list(itertools.pairwise(times))
        for a, b in gaps:
            kind = "timeout" if b - a >= 0.95 * timeout else "short"
            ax.barh(y, b - a, left=a, height=0.5, color=SILENCE_COLOURS[kind], zorder=0)
        if gaps:
            a, b = max(gaps, key=lambda gap: gap[1] - gap[0])
            silences.append((y, a, b))
        ax.plot([0, times[-1] if times else 0], [y, y], color="0.55", linewidth=0.6, zorder=1)
        nudges = _end_nudges(conv, end, span)
        for index, frame in enumerate(conv.frames):
            name = frame.opcode.name
            marker, colour, _ = TIMELINE_MARKS.get(name, ("x", COLOURS["marker"], name))
            filled = frame.direction == "s2c"
            ax.scatter(
                frame.time - conv.start,
                y + _TIMELINE_OFFSET.get(name, 0.0),
                marker=marker,
                s=42,
                zorder=3,
                facecolors=colour if filled else "white",
                edgecolors=colour,
                linewidths=1.3,
                transform=_nudged(ax, nudges.get(index, 0.0)),
            )
        if end is not None:
            ax.scatter(
                end.time - conv.start,
                y,
                marker="X",
                s=110,
                color=COLOURS["error"],
                zorder=4,
                transform=_nudged(ax, nudges.get(-1, 0.0)),
            )
    right = span
    ax.set_xlim(-0.02 * right, right)
    ax.set_ylim(len(rows) - 0.45, -0.75)  # the first row on top; room above it for its label
    ax.set_yticks(range(len(rows)), [label for label, _ in rows])
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("seconds since the connection opened")
    for y, a, b in silences:
        # above the band, centred on the silence; at the edges, aligned so it stays inside
        middle = (a + b) / 2
        x, ha = middle, "center"
        if middle < 0.18 * right:
            x, ha = max(a, 0.0), "left"
        elif middle > 0.82 * right:
            x, ha = b, "right"
        ax.text(
            x, y - 0.3, f"longest silence {b - a:.2f} s", ha=ha, va="bottom", fontsize=8, zorder=5
        )
    ax.set_title(
        title or f"Idle timeout {timeout:g} s: silences between frames, and how each ended",
        fontsize=11,
    )
    handles = _timeline_legend(timeout, [conv for _, conv in rows])
    if own and isinstance(fig, Figure):
        fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    else:
        ax.legend(handles=handles, loc="upper right", fontsize=7)
    return ax


def _timeline_legend(timeout: float, conversations: Sequence[Any]) -> list[Any]:
    """The legend of :func:`draw_timeline`: only the kinds of marks that are drawn."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    kinds = {frame.opcode.name for conv in conversations for frame in conv.frames}
    handles: list[Any] = []
    seen: set[str] = set()
    for name, (marker, colour, label) in TIMELINE_MARKS.items():
        if name in kinds and label not in seen:
            seen.add(label)
            handles.append(
                Line2D(
                    [], [], linestyle="none", marker=marker, markersize=7, color=colour, label=label
                )
            )
    if any(_first_end(conv) is not None for conv in conversations):
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="X",
                markersize=9,
                color=COLOURS["error"],
                label="FIN/RST: the connection ends",
            )
        )
    for label, filled in (
        ("filled: sent by the server side", True),
        ("hollow: sent by the client side", False),
    ):
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=7,
                markerfacecolor="0.35" if filled else "white",
                markeredgecolor="0.35",
                label=label,
            )
        )
    handles.append(Patch(color=SILENCE_COLOURS["short"], label=f"silence under {timeout:g} s"))
    handles.append(
        Patch(color=SILENCE_COLOURS["timeout"], label=f"silence of a whole timeout ({timeout:g} s)")
    )
    return handles


# --- notebook 06: keepalive pings over a minute of silence --------------------------------------


def draw_keepalive(conversation: Any, *, title: str | None = None) -> Figure:
    """The frames of one dissected ``conversation`` in time, and how fast each ping was answered.

    Top: a lane per direction, each frame a mark: ping ▼ (blue), pong ▲ (orange), any other frame
    (message, close) ■ (grey). Bottom, under each ping: the milliseconds until the first pong
    that followed it (RFC 6455 §5.5.2-5.5.3: a pong answers a ping "as soon as is practical").
    Time is counted from the first frame.
    """
    frames = conversation.frames
    t0 = frames[0].time if frames else 0.0
    pings = [f for f in frames if f.opcode == Opcode.PING]
    pongs = [f for f in frames if f.opcode == Opcode.PONG]
    others = [f for f in frames if f.opcode not in (Opcode.PING, Opcode.PONG)]
    answered: list[tuple[float, float]] = []  # (ping time, ms until its pong)
    for ping in pings:
        pong = next((p for p in pongs if p.time >= ping.time), None)
        if pong is not None:
            answered.append((ping.time - t0, 1000 * (pong.time - ping.time)))
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(9, 3.6),
        sharex=True,
        layout="constrained",
        gridspec_kw={"height_ratios": [2, 1.3]},
    )
    lanes = {"c2s": 1, "s2c": 0}
    for group, marker, colour, label in (
        (pings, "v", PALETTE["blue"], "ping"),
        (pongs, "^", PALETTE["orange"], "pong"),
        (others, "s", PALETTE["grey"], "message, close"),
    ):
        top.scatter(
            [f.time - t0 for f in group],
            [lanes[f.direction] for f in group],
            marker=marker,
            color=colour,
            label=label,
            s=50,
            zorder=3,
        )
    top.set_yticks([0, 1], ["server → client", "client → server"])
    top.set_ylim(-0.6, 1.6)
    top.grid(axis="x", alpha=0.3)
    top.legend(loc="center left", fontsize=8, bbox_to_anchor=(1.01, 0.5), frameon=False)
    top.set_title(title or "Pings and pongs in time", fontsize=10)
    bottom.bar(
        [t for t, _ in answered], [ms for _, ms in answered], width=0.8, color=PALETTE["blue"]
    )
    bottom.set_ylabel("pong after\n(ms)", fontsize=8)
    bottom.set_xlabel("seconds since the first frame")
    return fig


def draw_bills(
    bills: Mapping[str, Any], title: str | None = None, *, shares: bool = False
) -> Figure:
    """Byte bills side by side (:mod:`wslib.lab.bill`): the bytes on the wire of each, split into
    TCP/IP headers, HTTP headers, framing and payload, with the total written after each bar, and
    the packets in a narrow panel on the right. ``bills`` maps a label to a
    :class:`wslib.lab.bill.Bill` (anything with ``packets``, ``total`` and the four kinds).
    ``shares=True`` draws each bar as 100 % (captures of very different sizes side by side)."""
    from .bill import KINDS

    names = list(bills)
    height = 1.4 + 0.45 * len(names)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(9, max(2.6, height)), width_ratios=[3, 1], layout="constrained"
    )
    totals = [bills[n].total for n in names]
    starts = [0.0] * len(names)
    for attr, kind in KINDS:
        values = [getattr(bills[n], attr) for n in names]
        if shares:
            values = [100 * v / (t or 1) for v, t in zip(values, totals, strict=True)]
        left.barh(names, values, left=starts, color=BILL_COLOURS[attr], label=kind)
        starts = [s + v for s, v in zip(starts, values, strict=True)]
    widest = max(starts) or 1
    for y, (end, total) in enumerate(zip(starts, totals, strict=True)):
        left.text(end + widest * 0.01, y, f"{total:,} B", va="center", fontsize=9)
    left.set_xlim(0, widest * (1.22 if shares else 1.18))
    if shares:
        left.set_xticks(range(0, 101, 20))
    left.set_xlabel("% of the bytes on the wire" if shares else "bytes on the wire (IP packets)")
    left.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4, fontsize=8, frameon=False)
    left.invert_yaxis()
    packets = [bills[n].packets for n in names]
    right.barh(names, packets, color=PALETTE["grey"])
    for y, count in enumerate(packets):
        right.text(count + max(packets) * 0.03, y, f"{count:,}", va="center", fontsize=9)
    right.set_xlim(0, max(packets) * 1.35 or 1)
    right.set_xlabel("packets")
    right.set_yticks([])
    right.invert_yaxis()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# --- notebook 12: wss:// as TLS records -----------------------------------------------------------


def _record_colour(record: Any) -> Any:
    """Undecrypted records all look alike (TLS colour); decrypted ones take their content's."""
    if record.encrypted and record.inner_type is None:
        return COLOURS["tls"]
    return {
        "handshake": tint(COLOURS["tls"], 0.45),
        "change_cipher_spec": COLOURS["tcp"],
        "alert": COLOURS["control"],
        "application_data": COLOURS["data"],
    }.get(record.kind, COLOURS["marker"])


def draw_tls_records(
    conversation: Any, *, title: str | None = None, max_records: int = 40, ax: Axes | None = None
) -> Axes:
    """A ladder of one connection's TLS records (:attr:`Conversation.tls`), in wire order.

    Each arrow is a record, client (left) to server (right) or back, labelled with its content
    type and its length on the wire. Without the key log every encrypted record is the same
    green "application_data": that is all an observer sees. With it, the real content types
    show (the encrypted handshake, the HTTP upgrade and the frames inside "application_data").
    """
    tls = conversation.tls
    if tls is None:
        raise ValueError("not a TLS conversation: no records to draw")
    records = tls.records[:max_records]
    if ax is None:
        _fig, ax = plt.subplots(figsize=(7, 0.32 * len(records) + 1.4), layout="constrained")
    for x in (0.0, 1.0):
        ax.plot([x, x], [-0.6, len(records) - 0.4], color=COLOURS["tcp"], linewidth=2)
    legend: dict[str, Any] = {}  # what each colour means, for the colours this ladder uses
    for y, record in enumerate(records):
        start, end = (0.0, 1.0) if record.direction == "c2s" else (1.0, 0.0)
        colour = _record_colour(record)
        sealed = record.encrypted and record.inner_type is None
        legend.setdefault("sealed: content unknown" if sealed else record.kind, colour)
        ax.annotate(
            "",
            xy=(end, y),
            xytext=(start, y),
            arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.6},
        )
        label = f"{record.kind} {5 + record.length} B"
        if record.plaintext_length is not None:
            label += f"  ({record.plaintext_length} B inside)"
        ax.text(0.5, y - 0.12, label, ha="center", va="bottom", fontsize=8, color="black")
    ax.set_xlim(-0.25, 1.25)
    ax.set_ylim(len(records) - 0.3, -1.2)
    ax.text(0.0, -0.9, f"client\n{conversation.client}", ha="center", fontsize=9)
    ax.text(1.0, -0.9, f"server\n{conversation.server}", ha="center", fontsize=9)
    ax.axis("off")
    shown = f"{len(records)} of {len(tls.records)}" if len(tls.records) > len(records) else ""
    ax.set_title(title or f"{tls.version} records {shown}".strip(), fontsize=10, pad=24)
    handles = [Line2D([], [], color=c, linewidth=2, label=name) for name, c in legend.items()]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncols=min(4, len(handles)),
        fontsize=8,
        frameon=False,
    )
    return ax


def draw_record_sizes(rows: Sequence[tuple[str, int, int]], *, ax: Axes | None = None) -> Axes:
    """Message size against the bytes of TLS records that carried it, log-log.

    ``rows``: ``(direction, message bytes, record bytes)`` (:func:`wslib.lab.wss.record_sizes`).
    The dashed line is "record = message": the points sit just above it, a constant overhead
    (record header, frame header, authentication tag) apart. Encryption hides the content,
    not the size.
    """
    if ax is None:
        _fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    for direction, marker, label in (
        ("c2s", "o", "client → server"),
        ("s2c", "s", "server → client"),
    ):
        points = [(m, r) for d, m, r in rows if d == direction]
        if points:
            colour = COLOURS["data"] if direction == "c2s" else PALETTE["orange"]
            xs, ys = [m for m, _ in points], [r for _, r in points]
            ax.scatter(xs, ys, marker=marker, s=40, color=colour, label=label)
    top = max((max(m, r) for _, m, r in rows), default=10) * 2
    ax.plot([1, top], [1, top], linestyle="--", color=COLOURS["marker"], linewidth=1)
    ax.text(top / 1.5, top / 1.3, "record = message", ha="right", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("TLS bytes on the wire (bytes)")
    ax.legend(loc="upper left", fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


# --- notebook 11: permessage-deflate --------------------------------------------------------------

#: The three ways of sending notebook 11's chat messages, each in its colour and hatch.
COMPRESSION_STYLES: dict[str, tuple[str, str]] = {
    "no compression": (PALETTE["grey"], ""),
    "deflate, context takeover": (PALETTE["blue"], ""),
    "deflate, no context takeover": (PALETTE["orange"], "//"),
}


def draw_wire_bytes(sizes: Mapping[str, Sequence[int]], *, ax: Axes | None = None) -> Axes:
    """Payload bytes on the wire of each message, one group of bars per message, one bar per
    way of sending it (``sizes``: name -> bytes of message 1, 2, ...), the total in the legend."""
    if ax is None:
        _fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    names = list(sizes)
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        colour, hatch = COMPRESSION_STYLES.get(name, (CYCLE[k % len(CYCLE)], ""))
        values = list(sizes[name])
        xs = [i + (k - (len(names) - 1) / 2) * width for i in range(len(values))]
        ax.bar(
            xs,
            values,
            width=width * 0.95,
            color=colour,
            hatch=hatch,
            edgecolor="white",
            label=f"{name}: {sum(values):,} bytes in all",
        )
    count = max((len(v) for v in sizes.values()), default=0)
    ax.set_xticks(range(count), [f"#{i + 1}" for i in range(count)])
    ax.set_xlabel("message (client → server)")
    ax.set_ylabel("payload bytes on the wire")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=len(names), fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


# --- notebook 14: the cluster ---------------------------------------------------------------

#: Redis traffic (RESP) in notebook 14's pictures; WebSocket frames keep COLOURS["data"].
REDIS_COLOUR = PALETTE["bluish green"]
#: One colour per server of a cluster, A, B, C, D (and the marks of messages they delivered).
SERVER_COLOURS = [
    PALETTE["blue"],
    PALETTE["orange"],
    PALETTE["reddish purple"],
    PALETTE["sky blue"],
]


def _box(ax: Axes, x: float, y: float, text: str, colour: str, width: float = 0.17) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - 0.06),
            width,
            0.12,
            boxstyle="round,pad=0.01",
            facecolor=tint(colour, 0.7),
            edgecolor=colour,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def draw_cluster(servers: int = 3, *, mode: str = "pub/sub", ax: Axes | None = None) -> Axes:
    """The cluster of notebook 14: clients, one nginx, ``servers`` servers, Redis between them."""
    if ax is None:
        _fig, ax = plt.subplots(figsize=(8.5, 3.4), layout="constrained")
    ys = [0.5] if servers == 1 else [0.85 - 0.7 * i / (servers - 1) for i in range(servers)]
    for i, y in enumerate(ys):
        _box(ax, 0.08, y, "clients\n(browsers)", PALETTE["grey"], width=0.13)
        ax.annotate("", (0.3, 0.5), (0.15, y), arrowprops={"arrowstyle": "->", "color": "grey"})
        colour = SERVER_COLOURS[i % len(SERVER_COLOURS)]
        _box(ax, 0.58, y, f"server {chr(65 + i)}\n(wslib.serve)", colour)
        ax.annotate("", (0.49, y), (0.41, 0.5), arrowprops={"arrowstyle": "->", "color": "grey"})
        ax.annotate(
            "",
            (0.82, 0.5),
            (0.67, y),
            arrowprops={"arrowstyle": "<->", "color": REDIS_COLOUR, "linewidth": 1.5},
        )
    _box(ax, 0.355, 0.5, "nginx\nround robin", PALETTE["grey"], width=0.11)
    _box(ax, 0.9, 0.5, f"Redis\n{mode}", REDIS_COLOUR, width=0.15)
    ax.text(0.2, 0.03, "WebSocket (ws://…/chat)", ha="center", fontsize=8, color="grey")
    ax.text(0.75, 0.03, "RESP: publish / subscribe", ha="center", fontsize=8, color=REDIS_COLOUR)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    return ax


def draw_path(
    hops: Sequence[Any], lanes: Sequence[str], *, title: str | None = None, ax: Axes | None = None
) -> Axes:
    """One message's hops (:class:`wslib.lab.path.Hop`) between ``lanes``, time going down.

    One row per hop, evenly spaced, its time (ms since the first hop) in the left margin; an
    arrow from the sender's lane to the receiver's, blue for a WebSocket frame, green for Redis.
    """
    if ax is None:
        _fig, ax = plt.subplots(figsize=(10, 0.32 * len(hops) + 1.4), layout="constrained")
    x = {name: i for i, name in enumerate(lanes)}
    for name, i in x.items():
        ax.plot([i, i], [-0.3, len(hops) - 0.3], color=PALETTE["grey"], linewidth=1)
        ax.text(i, -0.6, name.strip(), ha="center", va="bottom", fontsize=9, weight="bold")
    for row, hop in enumerate(hops):
        colour = REDIS_COLOUR if hop.kind == "redis" else COLOURS["data"]
        a, b = x[hop.source], x[hop.target]
        ax.annotate(
            "",
            (b, row + 0.25),
            (a, row),
            arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.3},
        )
        ax.text(
            (a + b) / 2,
            row + 0.05,
            hop.label,
            ha="center",
            va="bottom",
            fontsize=7.5,
            color=colour,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3, "alpha": 0.8},
        )
        ax.text(-0.6, row + 0.1, f"{hop.time * 1000:7.2f} ms", ha="right", fontsize=7.5)
    ax.set_xlim(-1.5, len(lanes) - 0.5)
    ax.set_ylim(len(hops), -1.0)
    ax.axis("off")
    handles = [
        Line2D([], [], color=COLOURS["data"], label="WebSocket frame"),
        Line2D([], [], color=REDIS_COLOUR, label="Redis command or reply (RESP)"),
    ]
    ax.legend(handles=handles, loc="upper right", bbox_to_anchor=(1.0, 0.0), fontsize=8, ncols=2)
    if title:
        ax.set_title(title, fontsize=10, pad=18)
    return ax


def draw_failover(results: Sequence[Any], *, title: str | None = None) -> Figure:
    """One panel per :class:`wslib.lab.failover.FailoverResult`: a row per client, time across.

    A tick per message a client received, coloured by the server it came through; a grey band
    while the client was away (from the close to the next open, its close code written on it);
    a black ✕ at the time each message it never got was sent; the dashed line is when the
    server died.
    """
    fig, axes = plt.subplots(
        len(results),
        1,
        figsize=(9.5, 1.0 + 0.42 * sum(len(r.clients) + 1.5 for r in results)),
        layout="constrained",
        squeeze=False,
    )
    end = max(r.sent / r.rate for r in results) + 0.15
    for ax, result in zip(axes[:, 0], results, strict=True):
        for row, client in enumerate(result.clients):
            node_at = []  # (time the connection opened, its server)
            opens = [a.at for a in client.history if a.kind == "open"]
            for at, node in zip(opens, client.nodes, strict=False):
                node_at.append((at, node))
            for at, _n in zip(client.arrived, client.received, strict=True):
                node = next((nd for t, nd in reversed(node_at) if t <= at), client.nodes[0])
                colour = SERVER_COLOURS[(ord(node) - 65) % len(SERVER_COLOURS)]
                ax.plot([at, at], [row - 0.3, row + 0.3], color=colour, linewidth=0.8)
            closes = [a for a in client.history if a.kind == "closed"]
            for closed in closes[:-1] if len(opens) > len(closes) - 1 else closes:
                later = [t for t in opens if t > closed.at]
                if not later:
                    continue
                ax.add_patch(
                    Rectangle(
                        (closed.at, row - 0.4),
                        later[0] - closed.at,
                        0.8,
                        facecolor=tint(PALETTE["grey"], 0.6),
                        edgecolor="none",
                    )
                )
                ax.text(later[0] + 0.02, row - 0.42, f"{closed.code}", fontsize=7, va="bottom")
            lost = result.lost(client)
            if lost:
                ax.plot(
                    [n / result.rate for n in lost],
                    [row] * len(lost),
                    "x",
                    color=COLOURS["error"],
                    markersize=5,
                )
        ax.axvline(result.killed_at, color="black", linestyle="--", linewidth=1)
        what = "SIGKILL" if result.how == "kill" else "SIGTERM: close 1012"
        ax.text(result.killed_at, -0.9, f" server {result.victim} stops ({what})", fontsize=8)
        ax.set_yticks(
            range(len(result.clients)),
            [f"client {i} ({' → '.join(c.nodes)})" for i, c in enumerate(result.clients)],
            fontsize=8,
        )
        ax.set_ylim(len(result.clients) - 0.4, -1.2)
        ax.set_xlim(-0.05, end)
        ax.set_title(
            f"{result.mode}: {result.total_lost} messages lost "
            f"({result.sent} sent to each of {len(result.clients)} clients)",
            fontsize=10,
            loc="left",
        )
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1, 0].set_xlabel("seconds since the first message")
    servers = sorted({n for r in results for c in r.clients for n in c.nodes})
    handles: list[Artist] = [
        Line2D([], [], color=SERVER_COLOURS[(ord(n) - 65) % 4], label=f"received via {n}")
        for n in servers
    ]
    handles += [
        Rectangle((0, 0), 1, 1, facecolor=tint(PALETTE["grey"], 0.6), label="away (close code)"),
        Line2D([], [], marker="x", linestyle="", color=COLOURS["error"], label="lost"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def draw_fanout(
    latencies: Mapping[int, Mapping[str, Sequence[float]]], *, ax: Axes | None = None
) -> Axes:
    """Delivery time (ms) against the number of servers: p50 and p99, same server vs cross.

    ``latencies[n]`` is :func:`wslib.lab.failover.fanout_latency`'s result for ``n`` servers.
    """
    import statistics

    if ax is None:
        _fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    counts = sorted(latencies)
    styles = {"same": (COLOURS["data"], "o"), "cross": (REDIS_COLOUR, "s")}
    for where, (colour, marker) in styles.items():
        xs = [n for n in counts if len(latencies[n].get(where, ())) >= 2]
        if not xs:
            continue
        p50 = [1000 * statistics.median(latencies[n][where]) for n in xs]
        p99 = [
            1000 * statistics.quantiles(latencies[n][where], n=100, method="inclusive")[98]
            for n in xs
        ]
        name = "same server" if where == "same" else "another server (through Redis)"
        ax.plot(xs, p50, marker=marker, color=colour, label=f"{name}: p50")
        ax.plot(xs, p99, marker=marker, color=colour, linestyle="--", label=f"{name}: p99")
    ax.set_xticks(counts)
    ax.set_xlabel("servers in the cluster")
    ax.set_ylabel("send → receive (ms)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def draw_memory_by_window_bits(
    kib: Mapping[str, Mapping[int, float]],
    *,
    baseline: float | None = None,
    marks: Mapping[str, tuple[int, str]] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Memory per connection (KiB) against window bits, one line per memLevel (``kib``: label ->
    {window bits: KiB}); ``baseline`` (a connection without compression) as a dashed line.
    ``marks``: label -> (window bits, name): the points to name, such as the defaults of zlib
    and of wslib (by default the last point of each line, with its value)."""
    if ax is None:
        _fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    markers = itertools.cycle("osD^")
    for k, (label, points) in enumerate(kib.items()):
        bits = sorted(points)
        ax.plot(
            bits,
            [points[b] for b in bits],
            marker=next(markers),
            color=CYCLE[k % len(CYCLE)],
            label=label,
        )
        at, name = (marks or {}).get(label, (bits[-1], ""))
        if at in points:
            ax.plot([at], [points[at]], marker="o", markersize=9, fillstyle="none", color="black")
            ax.annotate(
                f"{name} {points[at]:.0f} KiB".strip(),
                (at, points[at]),
                textcoords="offset points",
                xytext=(-8, 8) if name else (6, 0),
                ha="right" if name else "left",
                va="bottom" if name else "center",
                fontsize=8,
            )
    if baseline is not None:
        ax.axhline(baseline, color=PALETTE["grey"], linestyle="--", linewidth=1)
        ax.text(9, baseline, " without compression", va="bottom", fontsize=8)
    every = sorted({b for points in kib.values() for b in points})
    if every:
        ax.set_xlim(every[0] - 0.3, every[-1] + 0.9)  # room for the labels at the right end
    ax.set_xlabel("window bits (LZ77 window of 2**bits bytes)")
    ax.set_ylabel("KiB per connection")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax
