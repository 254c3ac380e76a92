"""Ladder (sequence) diagrams of captured conversations, drawn with matplotlib.

A ladder diagram puts the client on the left, the server on the right, time going down, and one
arrow per thing that crossed the wire: the TCP three-way handshake (RFC 9293 §3.5), the HTTP
upgrade request and its ``101`` answer (RFC 6455 §4), every WebSocket frame with its opcode and a
preview of its payload (§5.2; client frames are masked, §5.3), the close frames with their code
(§5.5.1) and the FIN or RST that ends the TCP connection::

    from wslib.lab.dissect import conversations
    from wslib.lab.ladder import draw_ladder

    (conv,) = conversations("data/pcaps/echo-123-456.pcap")
    ax = draw_ladder(conv)             # a new figure; or draw_ladder(conv, ax=my_axes)
    ax.figure.savefig("/tmp/echo.png")

Rows are evenly spaced (one event per row, so that labels never overlap), and the time of each
event since the first one is written in the left margin. A long conversation is summarised: with
more than ``max_frames`` frames, the first and the last ones are drawn around a
"… N more frames …" marker.

The conversation is read through its attributes only (the data model of :mod:`wslib.lab.dissect`:
``Conversation``, ``TcpEvent``, ``HttpMessage``, ``FrameRecord``), so anything shaped like it can
be drawn. matplotlib is imported here, so ``import wslib`` does not import this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from ..frames import Opcode
from .drawings import COLOURS as DRAWING_COLOURS
from .drawings import fit_between

__all__ = ["LadderRow", "draw_ladder", "draw_ladders", "ladder_rows"]

CLIENT_X = 0.0  #: where the client's lane is, in data coordinates
SERVER_X = 1.0  #: where the server's lane is
SLANT = 0.35  #: how far (in rows) an arrow drops between the lanes: time passes on the way
ROW_INCHES = 0.24  #: the height of one row in the figure
FONT_SIZE = 8
PREVIEW_CHARS = 18  #: payload previews longer than this are cut with "…"

# Colours by kind of event (the direction is the arrow's): the series' palette, set in drawings.
COLOURS = {kind: DRAWING_COLOURS[kind] for kind in ("tcp", "http", "data", "control", "error")}
COLOURS["marker"] = DRAWING_COLOURS["marker"]


# --- what the ladder reads: the shape of wslib.lab.dissect's data model ---------------------------


class _Event(Protocol):
    @property
    def time(self) -> float: ...

    @property
    def direction(self) -> str: ...


class _Endpoint(Protocol):
    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


class _Conversation(Protocol):
    @property
    def client(self) -> _Endpoint: ...

    @property
    def server(self) -> _Endpoint: ...

    @property
    def tcp_events(self) -> Sequence[Any]: ...

    @property
    def request(self) -> Any: ...

    @property
    def response(self) -> Any: ...

    @property
    def frames(self) -> Sequence[Any]: ...

    @property
    def ended(self) -> str: ...


@dataclass(frozen=True)
class LadderRow:
    """One row of a ladder: an arrow from one lane to the other, or the summary marker.

    ``direction`` is ``"c2s"`` (client to server), ``"s2c"``, or ``""`` for the marker;
    ``kind`` is ``"tcp"``, ``"http"``, ``"data"``, ``"control"``, ``"error"`` (something in
    the capture that breaks the protocol) or ``"marker"``; ``time`` is
    seconds since the conversation's first event (None for the marker).
    """

    time: float | None
    direction: str
    kind: str
    label: str


# --- labels -------------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _preview(payload: bytes, text: str | None, limit: int = PREVIEW_CHARS) -> str:
    """A short, quoted preview: text in quotes, bytes in hex."""
    if text is not None:
        # line breaks as ↵, other invisible characters as ·, so that a label stays one line
        shown = "".join(
            "↵" if c == "\n" else c if c.isprintable() else "·" for c in _cut(text, limit)
        )
        return '"' + shown + '"'
    if not payload:
        return ""
    cut = limit // 3
    return payload[:cut].hex(" ") + (" …" if len(payload) > cut else "")


def _frame_label(frame: Any) -> tuple[str, str]:
    """(kind, label) of one frame: opcode, preview, close code, FIN, length and mask (§5.2)."""
    try:
        opcode: Opcode | int = Opcode(frame.opcode)
    except ValueError:  # a reserved opcode (RFC 6455 §5.2): the dissector shows it, flagged
        opcode = int(frame.opcode)
    parts = [opcode.name if isinstance(opcode, Opcode) else f"0x{opcode:X}"]
    if opcode is Opcode.CLOSE:
        code = getattr(frame, "close_code", None)
        reason = getattr(frame, "close_reason", None)
        if code is not None:
            parts.append(str(int(code)))
        if reason:
            parts.append(_preview(b"", reason))
    else:
        text = getattr(frame, "text", None)
        if text is None and opcode is not Opcode.BINARY:
            # a continuation or a ping may carry text too
            try:
                text = bytes(frame.payload).decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None and not text.isprintable():
                text = None
        preview = _preview(bytes(frame.payload), text)
        if preview:
            parts.append(preview)
    details = [f"{frame.length} B"]
    if not frame.fin:
        details.append("FIN=0")
    if frame.masked:
        details.append("masked")
    if getattr(frame, "violations", ()):
        details.append("breaks RFC 6455")
    kind = "control" if opcode & 0x8 else "data"  # opcodes 0x8-0xF are control frames (§5.5)
    return kind, " ".join(parts) + "  (" + ", ".join(details) + ")"


def _http_label(message: Any) -> str:
    """The start line of an HTTP message, its Upgrade header or body, and its size in bytes."""
    label = _cut(str(message.start_line), 40)
    headers = getattr(message, "headers", None)
    upgrade = headers.get("Upgrade") if headers is not None else None
    if upgrade and " 101 " not in label + " ":
        label += f"  Upgrade: {upgrade}"
    raw = getattr(message, "raw", None)
    if raw is not None:
        raw = bytes(raw)
        body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
        if body:
            try:
                text: str | None = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            label += f"  body {_preview(body, text)}"
        label += f"  ({len(raw)} B)"
    return label


# --- rows ---------------------------------------------------------------------------------------


def _first_time(conversation: _Conversation) -> float:
    times = [e.time for e in conversation.tcp_events]
    times += [m.time for m in (conversation.request, conversation.response) if m is not None]
    times += [f.time for f in conversation.frames]
    return min(times, default=0.0)


def ladder_rows(
    conversation: _Conversation,
    *,
    max_frames: int = 20,
    origin: float | None = None,
    frame_label: Callable[[Any], str | None] | None = None,
) -> list[LadderRow]:
    """The rows of a conversation's ladder, in time order: what :func:`draw_ladder` draws.

    TCP events, HTTP messages, frames and errors are merged by time (then by packet number, and
    within one packet: handshake, HTTP, frames, errors, FIN/RST). With more than
    ``max_frames`` frames, only the first ``max_frames // 2`` and the last ones (``max_frames``
    in all) are kept, and one marker row stands for the frames left out. Times are counted from
    ``origin`` (a capture timestamp), by default from the conversation's first event.
    ``frame_label(frame)``, when given, labels a frame in place of its opcode and payload (what
    an application protocol carried, for instance); None keeps the usual label.
    """
    if max_frames < 2:
        raise ValueError(f"max_frames should be at least 2, not {max_frames}")
    # Sort key: (time, packet number, rank within a packet, arrival order). A packet may carry
    # several things: the TCP handshake comes first, then HTTP, frames, errors, FIN/RST last.
    timeline: list[tuple[tuple[float, int, int, int], LadderRow | int]] = []

    def add(item: Any, rank: int, entry: LadderRow | int) -> None:
        key = (float(item.time), int(getattr(item, "packet", 0)), rank, len(timeline))
        timeline.append((key, entry))

    for event in conversation.tcp_events:
        rank = 4 if event.kind in ("FIN", "RST") else 0
        add(event, rank, LadderRow(event.time, event.direction, "tcp", event.kind))
    messages = list(getattr(conversation, "http_messages", None) or [])
    if not messages:
        messages = [m for m in (conversation.request, conversation.response) if m is not None]
    for message in messages:
        add(message, 1, LadderRow(message.time, message.direction, "http", _http_label(message)))
    for index, frame in enumerate(conversation.frames):
        add(frame, 2, index)
    for error in getattr(conversation, "errors", None) or []:
        label = f"error: {_cut(str(error.message), 60)}"
        add(error, 3, LadderRow(error.time, error.direction, "error", label))
    timeline.sort(key=lambda item: item[0])

    frames = conversation.frames
    n = len(frames)
    head, tail = n, 0
    if n > max_frames:
        head = max_frames // 2
        tail = max_frames - head
    start = _first_time(conversation) if origin is None else origin

    rows: list[LadderRow] = []
    marker_done = False
    for (time, *_), item in timeline:
        if isinstance(item, LadderRow):
            rows.append(LadderRow(time - start, item.direction, item.kind, item.label))
            continue
        if head <= item < n - tail:  # a frame left out of the summary
            if not marker_done:
                left_out = n - head - tail
                rows.append(LadderRow(None, "", "marker", f"… {left_out} more frames …"))
                marker_done = True
            continue
        kind, label = _frame_label(frames[item])
        custom = frame_label(frames[item]) if frame_label is not None else None
        if custom is not None:
            label = custom + "  (" + label.split("  (", 1)[-1] if "  (" in label else custom
        rows.append(LadderRow(time - start, frames[item].direction, kind, label))
    return rows


# --- drawing ------------------------------------------------------------------------------------


def _endpoint(endpoint: _Endpoint) -> str:
    return f"{endpoint.host}:{endpoint.port}"


def _time_label(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.3f} s"


def _draw_rows(
    ax: Axes,
    conversation: _Conversation,
    rows: list[LadderRow],
    n_rows: int,
    title: str | None,
    lanes: tuple[str, str] | None = None,
) -> list[Text]:
    """Draw the rows on ``ax``; return the labels that must stay between the two lanes."""
    client_name, server_name = lanes or ("client", "server")
    bottom = n_rows + 0.6
    ax.set_xlim(-0.27, 1.27)
    ax.set_ylim(bottom + 0.4, -1.6)  # time goes down
    ax.axis("off")
    labels: list[Text] = []
    for x, who, endpoint in (
        (CLIENT_X, client_name, conversation.client),
        (SERVER_X, server_name, conversation.server),
    ):
        ax.plot([x, x], [-0.6, bottom], color="0.2", linewidth=1.2)
        ax.text(
            x,
            -0.8,
            f"{who}\n{_endpoint(endpoint)}",
            ha="center",
            va="bottom",
            fontsize=FONT_SIZE + 1,
            fontweight="bold",
        )
    for y, row in enumerate(rows):
        colour = COLOURS["error"] if row.label == "RST" else COLOURS[row.kind]
        if row.kind == "marker":
            labels.append(
                ax.text(
                    (CLIENT_X + SERVER_X) / 2,
                    y + SLANT / 2,
                    row.label,
                    ha="center",
                    va="center",
                    fontsize=FONT_SIZE,
                    parse_math=False,
                    style="italic",
                    color=colour,
                )
            )
            for x in (CLIENT_X, SERVER_X):  # a break in both lanes
                ax.plot([x - 0.03, x + 0.03], [y + 0.05, y + 0.15], color=colour, linewidth=1)
                ax.plot([x - 0.03, x + 0.03], [y + 0.2, y + 0.3], color=colour, linewidth=1)
            continue
        start, end = (CLIENT_X, SERVER_X) if row.direction == "c2s" else (SERVER_X, CLIENT_X)
        ax.annotate(
            "",
            xy=(end, y + SLANT),
            xytext=(start, y),
            arrowprops={
                "arrowstyle": "-|>",
                "color": colour,
                "linewidth": 1.6 if row.kind in ("data", "control") else 1.0,
                "linestyle": (0, (3, 2)) if row.kind == "tcp" and row.label != "RST" else "-",
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
        labels.append(
            ax.text(
                (CLIENT_X + SERVER_X) / 2,
                y + SLANT / 2 - 0.1,
                row.label,
                ha="center",
                va="bottom",
                fontsize=FONT_SIZE,
                parse_math=False,
                color=colour,
                fontweight="bold" if row.kind in ("data", "control") else "normal",
            )
        )
        if row.time is not None:
            ax.text(
                CLIENT_X - 0.06,
                y,
                _time_label(row.time),
                ha="right",
                va="center",
                fontsize=FONT_SIZE - 1,
                color="0.4",
            )
    labels.append(
        ax.text(
            (CLIENT_X + SERVER_X) / 2,
            bottom,
            f"ended: {conversation.ended}",
            ha="center",
            va="top",
            fontsize=FONT_SIZE,
            parse_math=False,
            color="0.3",
        )
    )
    if title is None:
        title = f"{_endpoint(conversation.client)} → {_endpoint(conversation.server)}"
    ax.set_title(title, fontsize=FONT_SIZE + 2)
    return labels


def _height(n_rows: int) -> float:
    return min(max(2.5, 1.3 + ROW_INCHES * n_rows), 11.0)


def draw_ladder(
    conversation: _Conversation,
    *,
    ax: Axes | None = None,
    max_frames: int = 20,
    title: str | None = None,
    lanes: tuple[str, str] | None = None,
    frame_label: Callable[[Any], str | None] | None = None,
) -> Axes:
    """Draw one conversation as a ladder diagram and return the matplotlib ``Axes``.

    The client's lane is on the left, the server's on the right, time goes down. Drawn: the TCP
    handshake and teardown (SYN, SYN-ACK, ACK, FIN, RST; RFC 9293 §3.5), the HTTP upgrade and its
    answer (RFC 6455 §4.1, §4.2.2), and each frame with its opcode, a payload preview, its length
    and whether it is masked (§5.2, §5.3); close frames show their code (§5.5.1). More than
    ``max_frames`` frames are summarised (see :func:`ladder_rows`). Without ``ax``, a new figure
    of a size that suits the number of rows is created: ``ax.figure`` is it. ``lanes`` names the
    two lanes (default ``("client", "server")``): ``("nginx", "server")`` for a proxy's leg.
    ``frame_label`` labels frames in place of their opcode and payload (see :func:`ladder_rows`).
    """
    rows = ladder_rows(conversation, max_frames=max_frames, frame_label=frame_label)
    if ax is None:
        _fig, ax = plt.subplots(figsize=(8.5, _height(len(rows))), layout="constrained")
    labels = _draw_rows(ax, conversation, rows, len(rows), title, lanes)
    # a long label (a close frame with its reason) would cross a lane: smaller, or cut
    fit_between(ax, labels, CLIENT_X, SERVER_X)
    return ax


def draw_ladders(
    conversations: Sequence[_Conversation],
    *,
    max_frames: int = 20,
    titles: Sequence[str | None] | None = None,
    lanes: Sequence[tuple[str, str] | None] | None = None,
    stacked: bool = False,
    shared_clock: bool = True,
    width: float | None = None,
) -> Figure:
    """Draw several conversations, side by side (default) or ``stacked`` one above the other.

    For comparisons: the two TCP connections of two HTTP/1.0 requests, or the two legs of a
    conversation through a proxy. Side by side, the rows have the same height in every panel,
    so the lengths of the ladders compare at a glance. With ``shared_clock`` (the default) every
    time is counted from the first event of all the conversations, so that the second
    connection's times show when it started; otherwise each from its own start. Returns the
    ``Figure``. ``lanes``: the names of each conversation's two lanes (see :func:`draw_ladder`),
    e.g. ``[("client", "nginx"), ("nginx", "server")]`` for the two legs through a proxy.
    """
    if not conversations:
        raise ValueError("draw_ladders needs at least one conversation")
    if titles is not None and len(titles) != len(conversations):
        raise ValueError(f"{len(titles)} titles for {len(conversations)} conversations")
    if lanes is not None and len(lanes) != len(conversations):
        raise ValueError(f"{len(lanes)} pairs of lane names for {len(conversations)} conversations")
    origin = min(_first_time(c) for c in conversations) if shared_clock else None
    all_rows = [ladder_rows(c, max_frames=max_frames, origin=origin) for c in conversations]
    count = len(conversations)
    if stacked:
        heights = [len(rows) + 3 for rows in all_rows]
        figsize = (width or 8.5, min(sum(_height(len(rows)) for rows in all_rows), 14.0))
        fig, axes = plt.subplots(
            count,
            1,
            figsize=figsize,
            layout="constrained",
            squeeze=False,
            gridspec_kw={"height_ratios": heights},
        )
    else:
        n_rows = max(len(rows) for rows in all_rows)
        figsize = (width or min(4.5 * count, 14.0), _height(n_rows))
        fig, axes = plt.subplots(1, count, figsize=figsize, layout="constrained", squeeze=False)
    panels: list[tuple[Axes, list[Text]]] = []
    for i, (ax, conversation, rows) in enumerate(
        zip(axes.flat, conversations, all_rows, strict=True)
    ):
        n_rows = len(rows) if stacked else max(len(r) for r in all_rows)
        title = titles[i] if titles is not None else None
        names = lanes[i] if lanes is not None else None
        panels.append((ax, _draw_rows(ax, conversation, rows, n_rows, title, names)))
    for ax, labels in panels:  # once every panel is drawn: the layout is final
        fit_between(ax, labels, CLIENT_X, SERVER_X)
    return fig
