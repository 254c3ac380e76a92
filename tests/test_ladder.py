"""wslib.lab.ladder: ladder diagrams of conversations (synthetic ones, and real dissected ones)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from wslib import Headers, Opcode
from wslib.lab.ladder import draw_ladder, draw_ladders, ladder_rows

PCAPS = Path(__file__).resolve().parent.parent / "data" / "pcaps"

# --- a conversation shaped like wslib.lab.dissect's data model, built by hand ---------------------


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


@dataclass(frozen=True)
class TcpEvent:
    time: float
    direction: str
    kind: str


@dataclass(frozen=True)
class HttpMessage:
    time: float
    direction: str
    start_line: str
    headers: Headers
    raw: bytes


@dataclass(frozen=True)
class FrameRecord:
    time: float
    direction: str
    opcode: Opcode
    fin: bool
    masked: bool
    length: int
    header_length: int
    payload: bytes
    text: str | None
    close_code: int | None = None
    close_reason: str | None = None


@dataclass(frozen=True)
class Conversation:
    client: Endpoint
    server: Endpoint
    syns: int
    tcp_events: list[TcpEvent]
    request: HttpMessage | None
    response: HttpMessage | None
    frames: list[FrameRecord] = field(default_factory=list)
    ended: str = "close handshake"


def text_frame(t: float, direction: str, text: str) -> FrameRecord:
    data = text.encode()
    masked = direction == "c2s"
    return FrameRecord(t, direction, Opcode.TEXT, True, masked, len(data), 6 if masked else 2,
                       data, text)  # fmt: skip


def close_frame(t: float, direction: str, code: int = 1000, reason: str = "") -> FrameRecord:
    payload = code.to_bytes(2, "big") + reason.encode()
    masked = direction == "c2s"
    return FrameRecord(t, direction, Opcode.CLOSE, True, masked, len(payload),
                       6 if masked else 2, payload, None, code, reason)  # fmt: skip


def echo_conversation(messages: list[str]) -> Conversation:
    """A client sends each message, the server echoes it; then a clean close."""
    request = HttpMessage(
        0.0004,
        "c2s",
        "GET / HTTP/1.1",
        Headers([("Host", "127.0.0.1"), ("Upgrade", "websocket")]),
        b"x" * 200,
    )
    response = HttpMessage(0.0006, "s2c", "HTTP/1.1 101 Switching Protocols",
                           Headers([("Upgrade", "websocket")]), b"y" * 129)  # fmt: skip
    events = [TcpEvent(0.0, "c2s", "SYN"), TcpEvent(0.0001, "s2c", "SYN-ACK"),
              TcpEvent(0.0002, "c2s", "ACK")]  # fmt: skip
    frames: list[FrameRecord] = []
    t = 0.001
    for message in messages:
        frames.append(text_frame(t, "c2s", message))
        frames.append(text_frame(t + 0.0001, "s2c", message))
        t += 0.001
    frames.append(close_frame(t, "c2s", 1000, "bye"))
    frames.append(close_frame(t + 0.0001, "s2c", 1000, "bye"))
    events += [TcpEvent(t + 0.0002, "s2c", "FIN"), TcpEvent(t + 0.0003, "c2s", "FIN")]
    return Conversation(Endpoint("127.0.0.1", 50000), Endpoint("127.0.0.1", 8888), 1, events,
                        request, response, frames)  # fmt: skip


@pytest.fixture(autouse=True)
def no_figures_left() -> Iterator[None]:
    plt.close("all")
    yield
    plt.close("all")


def texts(ax: matplotlib.axes.Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def save(fig: matplotlib.figure.Figure, name: str) -> None:
    """Keep a PNG to look at, when WSLIB_LADDER_PNG names a folder."""
    folder = os.environ.get("WSLIB_LADDER_PNG")
    if folder:
        fig.savefig(Path(folder) / name, dpi=100)


# --- rows ---------------------------------------------------------------------------------------


def test_rows_of_the_echo_experiment() -> None:
    rows = ladder_rows(echo_conversation(["123", "456"]))
    kinds = [(r.direction, r.label.split()[0]) for r in rows]
    assert kinds == [
        ("c2s", "SYN"), ("s2c", "SYN-ACK"), ("c2s", "ACK"), ("c2s", "GET"), ("s2c", "HTTP/1.1"),
        ("c2s", "TEXT"), ("s2c", "TEXT"), ("c2s", "TEXT"), ("s2c", "TEXT"),
        ("c2s", "CLOSE"), ("s2c", "CLOSE"), ("s2c", "FIN"), ("c2s", "FIN"),
    ]  # fmt: skip
    labels = [r.label for r in rows]
    assert labels[5] == 'TEXT "123"  (3 B, masked)'
    assert labels[6] == 'TEXT "123"  (3 B)'
    assert labels[9] == 'CLOSE 1000 "bye"  (5 B, masked)'
    assert "Upgrade: websocket" in labels[3]
    assert "(200 B)" in labels[3]
    assert rows[0].time == 0.0
    assert [r.time for r in rows] == sorted(r.time for r in rows if r.time is not None)


def test_rows_are_in_time_order_whatever_the_input_order() -> None:
    conv = echo_conversation(["a"])
    shuffled = Conversation(conv.client, conv.server, 1, list(reversed(conv.tcp_events)),
                            conv.request, conv.response, list(reversed(conv.frames)))  # fmt: skip
    assert ladder_rows(shuffled) == ladder_rows(conv)


def test_fragments_and_control_frames_are_labelled() -> None:
    conv = echo_conversation([])
    frames = [
        FrameRecord(0.001, "c2s", Opcode.TEXT, False, True, 3, 6, b"hel", None),
        FrameRecord(0.002, "c2s", Opcode.PING, True, True, 2, 6, b"hi", None),
        FrameRecord(0.003, "s2c", Opcode.PONG, True, False, 2, 2, b"hi", None),
        FrameRecord(0.004, "c2s", Opcode.CONT, True, True, 2, 6, b"lo", None),
        FrameRecord(0.005, "s2c", Opcode.BINARY, True, False, 4, 2, b"\x00\x01\x02\xff", None),
    ]
    conv = Conversation(conv.client, conv.server, 1, conv.tcp_events[:3], conv.request,
                        conv.response, frames, "still open")  # fmt: skip
    labels = [r.label for r in ladder_rows(conv) if r.kind in ("data", "control")]
    assert labels == [
        'TEXT "hel"  (3 B, FIN=0, masked)',
        'PING "hi"  (2 B, masked)',
        'PONG "hi"  (2 B)',
        'CONT "lo"  (2 B, masked)',
        "BINARY 00 01 02 ff  (4 B)",
    ]
    kinds = [r.kind for r in ladder_rows(conv)]
    assert kinds[-5:] == ["data", "control", "control", "data", "data"]


def test_long_text_is_cut() -> None:
    conv = echo_conversation(["x" * 500])
    label = ladder_rows(conv)[5].label
    assert label.startswith('TEXT "xxxx') and "…" in label and "(500 B, masked)" in label
    assert len(label) < 50


def test_no_summary_up_to_max_frames() -> None:
    conv = echo_conversation([str(i) for i in range(9)])  # 18 frames + 2 close frames = 20
    rows = ladder_rows(conv, max_frames=20)
    assert not [r for r in rows if r.kind == "marker"]
    assert sum(r.kind in ("data", "control") for r in rows) == 20


@pytest.mark.parametrize("max_frames", [2, 7, 20])
def test_summary_over_max_frames(max_frames: int) -> None:
    conv = echo_conversation([f"m{i}" for i in range(250)])  # 502 frames
    rows = ladder_rows(conv, max_frames=max_frames)
    markers = [r for r in rows if r.kind == "marker"]
    assert [m.label for m in markers] == [f"… {502 - max_frames} more frames …"]
    drawn = [r for r in rows if r.kind in ("data", "control")]
    assert len(drawn) == max_frames
    # the first frames and the last ones, around the marker
    assert drawn[0].label.startswith('TEXT "m0"')
    assert drawn[-1].label.startswith("CLOSE 1000")
    at = rows.index(markers[0])
    assert rows[at - 1].kind == "data" and rows[at + 1].kind in ("data", "control")
    # the TCP handshake and teardown are always there
    assert [r.label for r in rows if r.kind == "tcp"] == ["SYN", "SYN-ACK", "ACK", "FIN", "FIN"]


def test_max_frames_must_leave_something_to_draw() -> None:
    with pytest.raises(ValueError):
        ladder_rows(echo_conversation(["a"]), max_frames=1)


# --- drawing ------------------------------------------------------------------------------------


def test_draw_ladder_labels_every_event() -> None:
    conv = echo_conversation(["123", "456"])
    ax = draw_ladder(conv, title="the article's experiment")
    save(ax.figure, "ladder-echo.png")
    labels = texts(ax)
    assert sum(t.startswith("TEXT") for t in labels) == 4
    assert sum(t.startswith("TEXT") and "masked" in t for t in labels) == 2
    assert sum(t.startswith("CLOSE 1000") for t in labels) == 2
    for kind in ("SYN", "SYN-ACK", "ACK", "FIN"):
        assert kind in labels
    assert any("101 Switching Protocols" in t for t in labels)
    assert "client\n127.0.0.1:50000" in labels and "server\n127.0.0.1:8888" in labels
    assert "ended: close handshake" in labels
    assert ax.get_title() == "the article's experiment"
    # a modest figure
    width, height = ax.figure.get_size_inches()
    assert width <= 10 and height <= 8


def test_draw_ladder_summarises_a_long_conversation() -> None:
    conv = echo_conversation([f"message {i}" for i in range(240)])  # 482 frames
    ax = draw_ladder(conv)
    save(ax.figure, "ladder-long.png")
    labels = texts(ax)
    assert "… 462 more frames …" in labels
    assert sum(t.startswith(("TEXT", "CLOSE")) for t in labels) == 20
    assert ax.figure.get_size_inches()[1] <= 9


def test_labels_do_not_overlap() -> None:
    conv = echo_conversation([f"message number {i}" for i in range(40)])
    ax = draw_ladder(conv)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), "two labels overlap"


def test_draw_on_given_axes_and_figures_are_closed() -> None:
    fig, (left, right) = plt.subplots(1, 2)
    assert draw_ladder(echo_conversation(["a"]), ax=left) is left
    assert left.texts and not right.texts
    plt.close(fig)
    assert plt.get_fignums() == []


@pytest.mark.parametrize("stacked", [False, True])
def test_draw_ladders_side_by_side_or_stacked(stacked: bool) -> None:
    convs = [echo_conversation(["123"]), echo_conversation(["456", "789"])]
    fig = draw_ladders(convs, titles=["first", "second"], stacked=stacked)
    save(fig, f"ladders-{'stacked' if stacked else 'side'}.png")
    assert [ax.get_title() for ax in fig.axes] == ["first", "second"]
    assert [sum(t.startswith("TEXT") for t in texts(ax)) for ax in fig.axes] == [2, 4]
    assert len(plt.get_fignums()) == 1
    plt.close(fig)


def test_draw_ladders_checks_its_arguments() -> None:
    with pytest.raises(ValueError):
        draw_ladders([])
    with pytest.raises(ValueError):
        draw_ladders([echo_conversation(["a"])], titles=["a", "b"])
    with pytest.raises(ValueError):
        draw_ladders([echo_conversation(["a"])], lanes=[("a", "b"), ("c", "d")])
    assert plt.get_fignums() == []


def test_lanes_are_named_as_asked() -> None:
    """Through a proxy, nginx is the server of one leg and the client of the other: both lanes
    of nginx say "nginx", not "server" on one side and "client" on the other."""

    def lane_names(ax: Any) -> list[str]:
        return [t.split("\n")[0] for t in texts(ax) if "\n127.0.0.1:" in t]

    convs = [echo_conversation(["123"]), echo_conversation(["123"])]
    fig = draw_ladders(convs, lanes=[("client", "nginx"), ("nginx", "server")])
    assert [lane_names(ax) for ax in fig.axes] == [["client", "nginx"], ["nginx", "server"]]
    assert lane_names(draw_ladder(convs[0])) == ["client", "server"]
    assert lane_names(draw_ladder(convs[0], lanes=("browser", "nginx"))) == ["browser", "nginx"]


# --- real captures, dissected by wslib.lab.dissect ------------------------------------------------


def dissected(name: str, **options: object) -> list[Any]:
    from wslib.lab import dissect

    path = PCAPS / name
    assert path.exists(), f"{name} is committed in data/pcaps/ (python -m wslib.lab.recordings)"
    return list(dissect.conversations(path, **options))


def test_draw_the_shipped_echo_capture() -> None:
    (conv,) = dissected("echo-123-456.pcap")
    ax = draw_ladder(conv)
    save(ax.figure, "ladder-echo-pcap.png")
    labels = texts(ax)
    assert labels.count("SYN") == 1 and labels.count("SYN-ACK") == 1
    assert [t.split(" ")[:2] for t in labels if t.startswith("TEXT")] == [
        ["TEXT", '"123"'], ["TEXT", '"123"'], ["TEXT", '"456"'], ["TEXT", '"456"'],
    ]  # fmt: skip
    masked = [("masked" in t) for t in labels if t.startswith("TEXT")]
    assert masked == [True, False, True, False]
    assert sum(t.startswith("CLOSE 1000") for t in labels) == 2
    assert any("101 Switching Protocols" in t for t in labels)
    # the time order of the rows is the order of the packets
    rows = ladder_rows(conv)
    assert [r.label.split()[0] for r in rows][:5] == ["SYN", "SYN-ACK", "ACK", "GET", "HTTP/1.1"]
    assert [r.label for r in rows][-2:] == ["FIN", "FIN"]


def test_draw_the_two_http10_connections_side_by_side() -> None:
    convs = dissected("http10-123-456.pcap", http=True)
    assert len(convs) == 2
    fig = draw_ladders(convs, titles=["POST 123", "POST 456"])
    save(fig, "ladders-http10-pcap.png")
    for ax, body in zip(fig.axes, ("123", "456"), strict=True):
        labels = texts(ax)
        assert labels.count("SYN") == 1 and labels.count("FIN") == 2
        (post,) = [t for t in labels if t.startswith("POST")]
        assert f'body "{body}"' in post
        assert any(t.startswith("HTTP/1.0 200 OK") for t in labels)
        assert not any(t.startswith("TEXT") for t in labels)
    plt.close(fig)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("fragmented-ping.pcap", ["TEXT", "PING", "PONG", "CONT", "CONT", "TEXT"]),
        ("close-abnormal.pcap", ["RST"]),
        ("big-message.pcap", ["TEXT"]),
    ],
)
def test_draw_other_shipped_captures(name: str, expected: list[str]) -> None:
    (conv, *_) = dissected(name)
    ax = draw_ladder(conv)
    save(ax.figure, f"ladder-{name}.png")
    words = [t.split(" ")[0] for t in texts(ax)]
    found = [w for w in words if w in ("TEXT", "PING", "PONG", "CONT", "RST")]
    it = iter(found)
    assert all(w in it for w in expected), f"{expected} not in order in {found}"


def test_draw_every_shipped_capture() -> None:
    paths = sorted(PCAPS.glob("*.pcap"))
    assert paths, f"no captures in {PCAPS}"
    for path in paths:
        # One conversation of each kind per server port: the polling minute has ~500 alike
        # HTTP polls, and drawing each one (text measured to keep labels inside the lanes)
        # would cost half a minute for nothing new.
        kinds: dict[tuple[str, int, bool], Any] = {}
        for conv in dissected(path.name, http=True):
            kinds.setdefault((conv.kind, conv.server.port, bool(conv.frames)), conv)
        for conv in kinds.values():
            ax = draw_ladder(conv)
            assert ax.texts
            assert ax.figure.get_size_inches()[1] <= 11
            plt.close(ax.figure)
    assert plt.get_fignums() == []


def shifted(conv: Conversation, dt: float) -> Conversation:
    """The same conversation, dt seconds later."""
    return Conversation(
        conv.client,
        conv.server,
        conv.syns,
        [TcpEvent(e.time + dt, e.direction, e.kind) for e in conv.tcp_events],
        None,
        None,
        [FrameRecord(f.time + dt, *list(vars(f).values())[1:]) for f in conv.frames],
        conv.ended,
    )


def test_draw_ladders_on_a_shared_clock_or_not() -> None:
    first = echo_conversation(["a"])
    second = shifted(first, 0.5)
    assert ladder_rows(second)[0].time == 0.0
    assert ladder_rows(second, origin=0.0)[0].time == 0.5
    fig = draw_ladders([first, second])
    assert "500.0 ms" in texts(fig.axes[1])
    plt.close(fig)
    fig = draw_ladders([first, second], shared_clock=False)
    assert "500.0 ms" not in texts(fig.axes[1]) and "0.0 ms" in texts(fig.axes[1])
    plt.close(fig)


@dataclass(frozen=True)
class ErrorRecord:
    time: float
    direction: str
    error: str
    message: str


@dataclass(frozen=True)
class BrokenConversation(Conversation):
    errors: list[ErrorRecord] = field(default_factory=list)


def test_errors_in_the_capture_are_drawn_in_time_order() -> None:
    conv = echo_conversation(["a"])
    error = ErrorRecord(0.0015, "c2s", "ProtocolError", "reserved opcode 0x3 " + "x" * 100)
    broken = BrokenConversation(conv.client, conv.server, 1, conv.tcp_events, conv.request,
                                conv.response, conv.frames, "FIN", [error])  # fmt: skip
    rows = ladder_rows(broken)
    (row,) = [r for r in rows if r.kind == "error"]
    assert row.label.startswith("error: reserved opcode 0x3") and len(row.label) < 80
    kinds = [r.kind for r in rows]
    assert kinds.index("error") == kinds.index("data") + 2  # after the two text frames at 1 ms
    ax = draw_ladder(broken)
    assert row.label in texts(ax)
    assert "ended: FIN" in texts(ax)


def test_labels_show_any_text_as_it_is() -> None:
    conv = echo_conversation(["costs $\\nope$", "two\nlines\x07"])
    ax = draw_ladder(conv)
    ax.figure.canvas.draw()  # "$\nope$" is bad mathtext: this raises unless labels are plain text
    labels = texts(ax)
    assert 'TEXT "costs $\\nope$"  (13 B, masked)' in labels
    assert 'TEXT "two↵lines·"  (10 B)' in labels


def lane_overruns(ax: matplotlib.axes.Axes) -> list[str]:
    """The labels drawn between the lanes whose box crosses the client's or the server's lane."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    left = ax.transData.transform((0.0, 0.0))[0]
    right = ax.transData.transform((1.0, 0.0))[0]
    return [
        text.get_text()
        for text in ax.texts
        if text.get_position()[0] == 0.5
        and not left
        < text.get_window_extent(renderer).x0
        < text.get_window_extent(renderer).x1
        < right
    ]


def test_long_close_labels_stay_between_the_lanes() -> None:
    # notebook 06 drew 'CLOSE 1000 "done for today"  (16 B, masked)' across the client's lane
    conv = echo_conversation(["hello"])
    frames = [*conv.frames[:-2], close_frame(0.01, "c2s", 1000, "done for today, thank you"),
              close_frame(0.011, "s2c", 1000, "done for today, thank you")]  # fmt: skip
    long_close = Conversation(conv.client, conv.server, 1, conv.tcp_events, conv.request,
                              conv.response, frames)  # fmt: skip
    fig = draw_ladders([long_close, conv])
    save(fig, "ladders-long-close.png")
    for ax in fig.axes:
        assert lane_overruns(ax) == []
    closes = [t for t in texts(fig.axes[0]) if t.startswith("CLOSE 1000")]
    assert len(closes) == 2
    assert all(t.endswith(("(27 B, masked)", "(27 B)")) for t in closes)  # the details stay
    ax = draw_ladder(long_close)
    assert lane_overruns(ax) == []
    full = [r.label for r in ladder_rows(long_close) if r.label.startswith("CLOSE")]
    assert set(full) <= set(texts(ax))  # one ladder, 8.5 inches wide: room enough, nothing cut


def test_a_reserved_opcode_frame_is_drawn_and_flagged() -> None:
    # The dissector keeps frames that break the RFC (a reserved opcode here) and flags them.
    @dataclass(frozen=True)
    class Flagged(FrameRecord):
        violations: tuple[str, ...] = ("reserved opcode 0x3",)

    frame = Flagged(0.1, "c2s", 0x3, True, True, 2, 6, b"??", None)  # type: ignore[arg-type]
    conv = Conversation(Endpoint("127.0.0.1", 50000), Endpoint("127.0.0.1", 8765), 1, [],
                        None, None, [frame])  # fmt: skip
    rows = ladder_rows(conv)
    labels = [row.label for row in rows if "0x3" in row.label]
    assert labels and "breaks RFC 6455" in labels[0]
