"""wslib.lab.dissect: TCP reassembly, upgrade detection and frame decoding from capture files.

Most tests build their capture packet by packet with scapy (:class:`Wire`), so that every hard
case is exact: segments out of order, sent twice, overlapping; frames split across segments and
packed several per segment; SYN, FIN and RST; captures that start late or stop early. The
frames put on the wire come from wslib's own serializer with known masking keys, and the test
checks that dissection gives back exactly what went in. The shipped captures in data/pcaps/
(real traffic) are checked against the TCP payload bytes counted independently by scapy.
"""

from __future__ import annotations

import itertools
import random
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, Ether, Loopback
from scapy.packet import Raw
from scapy.utils import EDecimal, PcapNgWriter, rdpcap, wrpcap

from wslib import Frame, Opcode, accept, client_request
from wslib.lab import tools
from wslib.lab.dissect import (
    MAX_PAYLOAD,
    ConnectionKey,
    Endpoint,
    FrameRecord,
    HttpMessage,
    PcapError,
    TcpEvent,
    conversations,
    iter_frames,
    read_packets,
    timeline,
)

from .conftest import ROOT

PCAPS = sorted((ROOT / "data" / "pcaps").glob("*.pcap"))
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example key
MSS = 32_000  # segments of at most this many bytes (an IPv4 packet holds at most 65,535)


# --- building captures ---------------------------------------------------------------------------


class Wire:
    """One TCP connection, packet by packet, with sequence numbers kept right (RFC 9293)."""

    def __init__(
        self,
        client: tuple[str, int] = ("10.0.0.1", 50123),
        server: tuple[str, int] = ("10.0.0.2", 8765),
        *,
        client_isn: int = 1000,
        server_isn: int = 900_000,
        start: float = 1_700_000_000,
        layer: str = "ether",
    ) -> None:
        self.ends = {"c2s": (client, server), "s2c": (server, client)}
        self.seq = {"c2s": client_isn, "s2c": server_isn}
        self.micros = int(start * 1_000_000)  # whole microseconds: what a pcap stores
        self.layer = layer
        self.packets: list[Any] = []

    def packet(
        self, direction: str, flags: str, data: bytes = b"", *, seq: int | None = None
    ) -> Any:
        (src, sport), (dst, dport) = self.ends[direction]
        other = "s2c" if direction == "c2s" else "c2s"
        ip = IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)
        tcp = TCP(
            sport=sport,
            dport=dport,
            flags=flags,
            seq=(self.seq[direction] if seq is None else seq) & 0xFFFFFFFF,
            ack=self.seq[other] & 0xFFFFFFFF if "A" in flags else 0,
        )
        pkt = ip / tcp / Raw(data) if data else ip / tcp
        if self.layer == "ether":
            pkt = Ether() / pkt
        elif self.layer == "sll":
            pkt = CookedLinux(proto=0x86DD if ":" in src else 0x0800) / pkt
        elif self.layer == "null":
            pkt = Loopback(type=2) / pkt
        self.micros += 1000
        pkt.time = EDecimal(self.micros) / 1_000_000
        if seq is None:
            self.seq[direction] += len(data) + ("S" in flags) + ("F" in flags)
        self.packets.append(pkt)
        return pkt

    def connect(self) -> None:
        self.packet("c2s", "S")
        self.packet("s2c", "SA")
        self.packet("c2s", "A")

    def send(self, direction: str, data: bytes, cuts: Iterable[int] = ()) -> list[Any]:
        """Send ``data`` in segments cut at the given offsets."""
        cuts = {c for c in cuts if 0 < c < len(data)} | set(range(MSS, len(data), MSS))
        bounds = [0, *sorted(cuts), len(data)]
        return [self.packet(direction, "PA", data[a:b]) for a, b in itertools.pairwise(bounds)]

    def upgrade(self, host: str = "example.com") -> None:
        request = client_request(host, "/chat", key=KEY)
        self.send("c2s", request.serialize())
        self.packet("s2c", "A")
        self.send("s2c", accept(request).serialize())

    def finish(self) -> None:
        self.packet("c2s", "FA")
        self.packet("s2c", "FA")
        self.packet("c2s", "A")

    def write(self, path: Path) -> Path:
        wrpcap(str(path), self.packets)
        return path


def masked(frame: Frame, i: int = 0) -> bytes:
    return frame.serialize(mask=True, mask_key=struct.pack("!I", 0x37FA213D + i))


def echo_session(wire: Wire | None = None, messages: Iterable[str] = ("123", "456")) -> Wire:
    """The article's experiment: two text messages echoed, then a clean close."""
    wire = wire or Wire()
    wire.connect()
    wire.upgrade()
    for i, text in enumerate(messages):
        frame = Frame(Opcode.TEXT, text.encode())
        wire.send("c2s", masked(frame, i))
        wire.send("s2c", frame.serialize(mask=False))
    close = Frame(Opcode.CLOSE, struct.pack("!H", 1000) + b"bye")
    wire.send("c2s", masked(close, 99))
    wire.send("s2c", close.serialize(mask=False))
    wire.finish()
    return wire


def summary(frames: Iterable[FrameRecord]) -> list[tuple[str, Opcode | int, bool, bool, bytes]]:
    return [(f.direction, f.opcode, f.fin, f.masked, f.payload) for f in frames]


def only(path_or_packets: Any, **kwargs: Any) -> Any:
    found = conversations(path_or_packets, **kwargs)
    assert len(found) == 1, found
    return found[0]


# --- the article's experiment, synthetic --------------------------------------------------------


def test_echo_session(tmp_path: Path) -> None:
    conv = only(echo_session().write(tmp_path / "echo.pcap"))
    assert conv.client == Endpoint("10.0.0.1", 50123)
    assert conv.server == Endpoint("10.0.0.2", 8765)
    assert conv.key == ConnectionKey(0, conv.client, conv.server)
    assert conv.syns == 1
    assert [(e.direction, e.kind) for e in conv.tcp_events] == [
        ("c2s", "SYN"),
        ("s2c", "SYN-ACK"),
        ("c2s", "ACK"),
        ("c2s", "FIN"),
        ("s2c", "FIN"),
    ]
    assert conv.request is not None and conv.request.start_line == "GET /chat HTTP/1.1"
    assert conv.request.headers["Sec-WebSocket-Key"] == KEY
    assert conv.response is not None and conv.response.status == 101
    assert conv.upgraded
    assert summary(conv.frames) == [
        ("c2s", Opcode.TEXT, True, True, b"123"),
        ("s2c", Opcode.TEXT, True, False, b"123"),
        ("c2s", Opcode.TEXT, True, True, b"456"),
        ("s2c", Opcode.TEXT, True, False, b"456"),
        ("c2s", Opcode.CLOSE, True, True, b"\x03\xe8bye"),
        ("s2c", Opcode.CLOSE, True, False, b"\x03\xe8bye"),
    ]
    assert [f.text for f in conv.frames[:4]] == ["123", "123", "456", "456"]
    assert (conv.close_code, conv.close_reason) == (1000, "bye")
    assert conv.frames[-1].close_code == 1000 and conv.frames[-1].close_reason == "bye"
    assert conv.ended == "close handshake"
    assert conv.errors == []
    assert conv.packets == len(echo_session().packets)
    # 2 bytes of header, 4 of masking key client->server: RFC 6455 §5.2
    assert [f.header_length for f in conv.frames] == [6, 2, 6, 2, 6, 2]
    assert conv.payload_bytes == sum(len(f.payload) for f in conv.frames)
    assert conv.framing_bytes == 24
    assert conv.wire_bytes == sum(len(p) for p in echo_session().packets)
    assert conv.duration > 0


def test_summary_labels_its_byte_counts_as_the_frames_view_not_the_bill() -> None:
    # The byte bill (wslib.lab.bill) counts control frames as framing and IP bytes; the summary
    # counts every frame's payload and header: its numbers must say which view they are.
    conv = only(echo_session().packets)
    lines = conv.summary().splitlines()
    assert f"{conv.wire_bytes} bytes captured (link-layer headers included)" in lines[0]
    assert (
        f"  frames: payload {conv.payload_bytes} B (control frames included), "
        f"headers {conv.framing_bytes} B"
    ) in lines
    assert not any(line.lstrip().startswith("payload ") for line in lines)


def test_packets_and_pcapng_and_file_agree(tmp_path: Path) -> None:
    wire = echo_session()
    from_file = only(wire.write(tmp_path / "a.pcap"))
    from_packets = only(wire.packets)
    from_ng = only(write_pcapng(wire.packets, tmp_path / "a.pcapng"))
    for conv in (from_packets, from_ng):
        assert fingerprint(conv) == fingerprint(from_file)


def fingerprint(conv: Any) -> list[Any]:
    """What must not depend on how packets reached the dissector (times to the microsecond)."""
    return [
        (type(e).__name__, e.direction, e.packet, round(e.time, 6), getattr(e, "kind", None))
        for e in timeline(conv)
    ] + [summary(conv.frames), conv.request.raw, conv.response.raw, conv.wire_bytes]


@pytest.mark.parametrize("layer", ["ether", "sll", "null", "raw"])
def test_link_layers(tmp_path: Path, layer: str) -> None:
    wire = echo_session(Wire(layer=layer))
    conv = only(wire.write(tmp_path / f"{layer}.pcap"))
    assert [f.text for f in conv.frames[:4]] == ["123", "123", "456", "456"]


def test_ipv6(tmp_path: Path) -> None:
    wire = echo_session(Wire(("::1", 40000), ("::1", 9000)))
    conv = only(wire.write(tmp_path / "v6.pcap"))
    assert conv.client == Endpoint("::1", 40000) and str(conv.client) == "[::1]:40000"
    assert conv.ended == "close handshake"


def test_timeline_is_in_wire_order(tmp_path: Path) -> None:
    conv = only(echo_session().write(tmp_path / "echo.pcap"))
    events = timeline(conv)
    assert isinstance(events[0], TcpEvent) and events[0].kind == "SYN"
    assert isinstance(events[3], HttpMessage) and events[3].direction == "c2s"
    assert isinstance(events[4], HttpMessage) and events[4].status == 101
    assert [type(e).__name__ for e in events[5:11]] == ["FrameRecord"] * 6
    assert [e.kind for e in events[-2:] if isinstance(e, TcpEvent)] == ["FIN", "FIN"]
    assert [e.packet for e in events] == sorted(e.packet for e in events)
    assert len(events) == len(conv.tcp_events) + 2 + len(conv.frames)


# --- TCP reassembly ------------------------------------------------------------------------------


def stream_session(cuts: list[int]) -> tuple[Wire, list[Frame], int]:
    """A handshake then many frames client->server, sent as one stream cut at ``cuts``."""
    wire = Wire()
    wire.connect()
    wire.upgrade()
    frames = [
        Frame(Opcode.TEXT, b"first"),
        Frame(Opcode.BINARY, bytes(range(200)), fin=False),
        Frame(Opcode.PING, b"are you there?"),
        Frame(Opcode.CONT, b"x" * 70_000),
        Frame(Opcode.TEXT, "héllo wörld".encode()),
        Frame(Opcode.TEXT, b""),
    ]
    data = b"".join(masked(f, i) for i, f in enumerate(frames))
    start = len(wire.packets)
    wire.send("c2s", data, cuts)
    return wire, frames, start


def decoded(conv: Any) -> list[tuple[Opcode, bytes, bool]]:
    return [(f.opcode, f.payload, f.fin) for f in conv.frames if f.direction == "c2s"]


def expected(frames: list[Frame]) -> list[tuple[Opcode, bytes, bool]]:
    return [(f.opcode, f.payload[:MAX_PAYLOAD], f.fin) for f in frames]


def test_frame_split_over_three_segments_and_five_frames_in_one(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.upgrade()
    big = masked(Frame(Opcode.TEXT, b"split " * 50))
    packets = wire.send("c2s", big, [3, 100])  # header cut in two, payload in two
    five = [Frame(Opcode.TEXT, str(i).encode()) for i in range(5)]
    (together,) = wire.send("c2s", b"".join(masked(f, i) for i, f in enumerate(five)))
    conv = only(wire.write(tmp_path / "s.pcap"))
    assert len(packets) == 3
    assert decoded(conv) == [(Opcode.TEXT, b"split " * 50, True), *expected(five)]
    # a frame is shown in the packet where its last byte arrived (as Wireshark does)
    numbers = [wire.packets.index(p) + 1 for p in packets]
    assert conv.frames[0].packet == numbers[-1]
    assert {f.packet for f in conv.frames[1:]} == {wire.packets.index(together) + 1}


def test_out_of_order_segments(tmp_path: Path) -> None:
    wire, frames, start = stream_session(list(range(50, 72_000, 997)))
    head, tail = wire.packets[:start], wire.packets[start:]
    random.Random(6455).shuffle(tail)
    wire.packets = head + tail
    conv = only(wire.write(tmp_path / "ooo.pcap"))
    assert decoded(conv) == expected(frames)
    assert conv.out_of_order > 0
    assert conv.errors == []


def test_retransmissions_are_dropped(tmp_path: Path) -> None:
    wire, frames, start = stream_session([10, 20, 300, 5000])
    again = [wire.packets[start], wire.packets[start + 2], wire.packets[-1]]
    wire.packets += [p.copy() for p in again]  # the same sequence numbers sent again, late
    wire.packets.insert(start + 1, wire.packets[start].copy())  # and at once
    conv = only(wire.write(tmp_path / "re.pcap"))
    assert decoded(conv) == expected(frames)
    assert conv.retransmissions == 4


def test_overlapping_segments(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.upgrade()
    frames = [Frame(Opcode.TEXT, f"message {i}".encode()) for i in range(20)]
    data = b"".join(masked(f, i) for i, f in enumerate(frames))
    base = wire.seq["c2s"]
    # segments [0, 40), [30, 90), [80, end), then a repeat of [20, 60): every byte at least once
    for a, b in [(0, 40), (30, 90), (80, len(data)), (20, 60)]:
        wire.packet("c2s", "PA", data[a:b], seq=base + a)
    wire.seq["c2s"] += len(data)
    conv = only(wire.write(tmp_path / "overlap.pcap"))
    assert decoded(conv) == expected(frames)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(1, 4_000), max_size=30),
    seed=st.integers(0, 2**32 - 1),
    duplicates=st.integers(0, 5),
    isn=st.integers(0, 2**32 - 1),
)
# Issue 19: drawn from the whole range, the ISN practically never puts the wrap inside the
# stream. Pinned: the SYN on the last number, the wrap inside the request, inside the frames.
@example(cuts=[5, 300, 1000, 3000], seed=1, duplicates=3, isn=2**32 - 1)
@example(cuts=[5, 300, 1000, 3000], seed=2, duplicates=3, isn=2**32 - 100)
@example(cuts=[5, 300, 1000, 3000], seed=3, duplicates=3, isn=2**32 - 400)
@example(cuts=list(range(100, 4000, 100)), seed=4, duplicates=5, isn=2**32 - 2000)
def test_any_segmentation_order_and_duplication(
    cuts: list[int], seed: int, duplicates: int, isn: int
) -> None:
    """However the stream is cut, shuffled and repeated, the same frames come out."""
    wire = Wire(client_isn=isn)  # sequence numbers wrap around 2**32 for some isn
    wire.connect()
    wire.upgrade()
    frames = [
        Frame(Opcode.TEXT, b"first"),
        Frame(Opcode.BINARY, bytes(range(256)) * 3, fin=False),
        Frame(Opcode.PING, b"ping"),
        Frame(Opcode.CONT, b"y" * 2_000),
        Frame(Opcode.CLOSE, struct.pack("!H", 1001)),
    ]
    start = len(wire.packets)
    wire.send("c2s", b"".join(masked(f, i) for i, f in enumerate(frames)), cuts)
    rng = random.Random(seed)
    tail = wire.packets[start:]
    tail += [rng.choice(tail).copy() for _ in range(duplicates)]
    rng.shuffle(tail)
    wire.packets[start:] = tail
    conv = only(wire.packets)
    assert decoded(conv) == expected(frames)
    assert conv.errors == []
    assert conv.close_code == 1001


# --- how connections start and end ---------------------------------------------------------------


def test_rst_without_close_frame(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.upgrade()
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"hello")))
    wire.packet("c2s", "RA")
    conv = only(wire.write(tmp_path / "rst.pcap"))
    assert conv.ended == "RST"
    assert conv.close_code is None
    assert [e.kind for e in conv.tcp_events][-1] == "RST"


def test_fin_without_close_frame(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.upgrade()
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"hello")))
    wire.finish()
    assert only(wire.write(tmp_path / "fin.pcap")).ended == "FIN"


def test_capture_stops_while_open(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.upgrade()
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"hello")))
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"cut short"))[:5])
    conv = only(wire.write(tmp_path / "open.pcap"))
    assert conv.ended == "still open"
    assert [f.text for f in conv.frames] == ["hello"]
    (error,) = conv.errors
    assert error.error == "Truncated" and "5 bytes" in error.message


def test_fin_in_the_middle_of_a_frame(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.upgrade()
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"cut short"))[:7])
    wire.finish()
    conv = only(wire.write(tmp_path / "finmid.pcap"))
    assert conv.frames == []
    assert [e.error for e in conv.errors] == ["Truncated"]


def test_capture_without_the_syn(tmp_path: Path) -> None:
    """Started after the SYN but before the request: decoded; the client is who sends GET."""
    wire = echo_session()
    wire.packets = wire.packets[3:]
    conv = only(wire.write(tmp_path / "nosyn.pcap"))
    assert conv.syns == 0
    assert conv.client == Endpoint("10.0.0.1", 50123)
    assert [f.text for f in conv.frames[:4]] == ["123", "123", "456", "456"]


def test_capture_after_the_handshake_is_skipped(tmp_path: Path) -> None:
    """Nothing says where frames start in a stream joined midway: documented, not guessed."""
    wire = echo_session()
    wire.packets = wire.packets[7:]
    assert conversations(wire.write(tmp_path / "late.pcap")) == []
    assert list(iter_frames(tmp_path / "late.pcap", port=8765)) == []


def test_port_reuse_gives_two_conversations(tmp_path: Path) -> None:
    first = echo_session(messages=["one"])
    second = echo_session(Wire(client_isn=777_777, start=1_700_000_100), messages=["two"])
    path = tmp_path / "reuse.pcap"
    wrpcap(str(path), first.packets + second.packets)
    convs = conversations(path)
    assert [c.stream for c in convs] == [0, 1]
    assert [c.frames[0].text for c in convs] == ["one", "two"]
    assert convs[0].client == convs[1].client


def test_retransmitted_syn_is_one_connection(tmp_path: Path) -> None:
    wire = Wire()
    syn = wire.packet("c2s", "S")
    wire.packets.append(syn.copy())
    wire.packet("s2c", "SA")
    wire.packet("c2s", "A")
    wire.upgrade()
    conv = only(wire.write(tmp_path / "syn2.pcap"))
    assert conv.syns == 2
    assert [e.kind for e in conv.tcp_events] == ["SYN", "SYN-ACK", "ACK"]


# --- which connections are WebSocket -------------------------------------------------------------


def plain_http(wire: Wire) -> Wire:
    wire.connect()
    wire.send("c2s", b"GET /poll?since=1 HTTP/1.0\r\nHost: example.com\r\n\r\n")
    body = b"123\n"
    wire.send("s2c", b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
    wire.finish()
    return wire


def test_other_traffic_is_ignored_and_any_port_is_found(tmp_path: Path) -> None:
    web = echo_session(Wire(("10.0.0.1", 50000), ("10.0.0.3", 4)))  # WebSocket on port 4
    http = plain_http(Wire(("10.0.0.1", 50001), ("10.0.0.2", 80)))
    ssh = Wire(("10.0.0.1", 50002), ("10.0.0.2", 22))
    ssh.connect()
    ssh.send("s2c", b"SSH-2.0-OpenSSH_9.2\r\n")
    ssh.send("c2s", bytes(range(256)) * 40)
    packets = http.packets[:4] + ssh.packets + web.packets + http.packets[4:]
    path = tmp_path / "mixed.pcap"
    wrpcap(str(path), sorted(packets, key=lambda p: float(p.time)))
    (conv,) = conversations(path)
    assert conv.server == Endpoint("10.0.0.3", 4)
    assert [f.text for f in conv.frames[:2]] == ["123", "123"]
    assert conversations(path, port=4)[0].stream == conv.stream
    assert conversations(path, port=80) == []
    both = conversations(path, http=True)
    assert [c.kind for c in both] == ["http", "websocket"]
    polled = both[0]
    assert polled.request is not None and polled.request.start_line.startswith("GET /poll")
    assert polled.response is not None and polled.response.status == 200
    assert polled.response.raw.endswith(b"\r\n\r\n123\n")
    assert polled.frames == [] and polled.ended == "FIN"


def test_rejected_upgrade_is_a_conversation_without_frames(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.send("c2s", client_request("example.com", key=KEY).serialize())
    body = b"Failed to open a WebSocket connection: go away\n"
    wire.send(
        "s2c",
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        + body,
    )
    wire.finish()
    conv = only(wire.write(tmp_path / "403.pcap"))
    assert conv.response is not None and conv.response.status == 403
    assert not conv.upgraded and conv.frames == [] and conv.ended == "FIN"


# --- errors inside the capture are recorded ------------------------------------------------------


def upgraded_wire() -> Wire:
    wire = Wire()
    wire.connect()
    wire.upgrade()
    return wire


def test_unmasked_client_frame_is_decoded_and_flagged(tmp_path: Path) -> None:
    wire = upgraded_wire()
    wire.send("c2s", Frame(Opcode.TEXT, b"oops").serialize(mask=False))
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"after")))
    wire.send("s2c", Frame(Opcode.TEXT, b"fine").serialize(mask=False))
    conv = only(wire.write(tmp_path / "unmasked.pcap"))
    assert conv.errors == []
    assert [(f.text, f.masked) for f in conv.frames] == [
        ("oops", False),
        ("after", True),
        ("fine", False),
    ]
    ((frame, violation),) = conv.violations
    assert frame is conv.frames[0] and "MUST mask" in violation
    assert "violation (c2s, packet" in conv.summary() and "MUST mask" in conv.summary()


def test_reserved_opcode_is_decoded_and_flagged(tmp_path: Path) -> None:
    wire = upgraded_wire()
    bad = bytearray(masked(Frame(Opcode.TEXT, b"x")))
    bad[0] = 0x83  # FIN + opcode 3, reserved
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"ok")) + bytes(bad))
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"decoded after it")))
    conv = only(wire.write(tmp_path / "reserved.pcap"))
    assert [f.opcode for f in conv.frames] == [Opcode.TEXT, 3, Opcode.TEXT]
    assert [f.text for f in conv.frames] == ["ok", None, "decoded after it"]
    assert conv.frames[1].payload == b"x" and conv.frames[1].opcode_name == "0x3"
    (violation,) = conv.frames[1].violations
    assert "reserved opcode 0x3" in violation
    assert conv.errors == []


def test_bad_utf8_bad_close_and_bad_fragments_are_recorded(tmp_path: Path) -> None:
    wire = upgraded_wire()
    for i, frame in enumerate(
        [
            Frame(Opcode.TEXT, b"\xff\xfe"),
            Frame(Opcode.CONT, b"orphan"),
            Frame(Opcode.TEXT, b"a", fin=False),
            Frame(Opcode.TEXT, b"b"),
            Frame(Opcode.CLOSE, struct.pack("!H", 1005)),
        ]
    ):
        wire.send(
            "c2s",
            frame.serialize(mask=True, mask_key=bytes(4), check=False)
            if i == 4
            else masked(frame, i),
        )
    conv = only(wire.write(tmp_path / "bad.pcap"))
    assert len(conv.frames) == 5
    assert [e.error for e in conv.errors] == [
        "InvalidPayloadData",
        "ProtocolError",
        "ProtocolError",
        "ProtocolError",
    ]
    assert "§5.4" in conv.errors[1].message and "interleaved" in conv.errors[2].message
    assert "1005" in conv.errors[3].message
    assert conv.frames[0].text is None and conv.frames[-1].close_code is None


def test_wrong_accept_header_is_recorded(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.send("c2s", client_request("example.com", key=KEY).serialize())
    wire.send(
        "s2c",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: wrong\r\n\r\n" + Frame(Opcode.TEXT, b"hi").serialize(mask=False),
    )
    conv = only(wire.write(tmp_path / "accept.pcap"))
    (error,) = conv.errors
    assert error.error == "InvalidResponse" and "Sec-WebSocket-Accept" in error.message
    assert [f.text for f in conv.frames] == ["hi"]  # what the server sent is still shown


def test_lost_segment_is_recorded(tmp_path: Path) -> None:
    wire, frames, start = stream_session([100, 200, 300])
    del wire.packets[start + 1]
    conv = only(wire.write(tmp_path / "lost.pcap"))
    assert decoded(conv) == expected(frames[:1])  # the frame before the gap
    (error,) = conv.errors
    assert error.error == "LostBytes" and "100 bytes never arrived" in error.message


# --- big payloads, streaming ---------------------------------------------------------------------


def test_huge_frame_keeps_a_bounded_preview(tmp_path: Path) -> None:
    wire = upgraded_wire()
    text = "é" * 150_000  # 300,000 bytes of UTF-8
    wire.send("c2s", masked(Frame(Opcode.TEXT, text.encode())), range(0, 300_020, 60_000))
    wire.send("s2c", Frame(Opcode.TEXT, text.encode()).serialize(mask=False), [77_777])
    conv = only(wire.write(tmp_path / "big.pcap"), max_payload=1001)
    for frame in conv.frames:
        assert frame.length == 300_000 and frame.truncated
        assert frame.payload == text.encode()[:1001]
        assert frame.text == "é" * 500  # the half character at the cut is left out
        assert frame.header_length == (14 if frame.masked else 10)  # 64-bit length (§5.2)
    assert conv.payload_bytes == 600_000
    full = only(tmp_path / "big.pcap")
    assert full.frames[0].payload == text.encode()[:65536]


def test_iter_frames_streams_the_same_frames(tmp_path: Path) -> None:
    first = echo_session(messages=["a", "b"])
    second = echo_session(
        Wire(("10.0.0.9", 40000), ("10.0.0.2", 8765), start=1_700_000_000.0005),
        messages=["c"],
    )
    path = tmp_path / "two.pcap"
    packets = sorted(first.packets + second.packets, key=lambda p: float(p.time))
    wrpcap(str(path), packets)
    streamed = list(iter_frames(path))
    convs = conversations(path)
    assert len(convs) == 2
    by_key = {c.key: c.frames for c in convs}
    for key, frames in by_key.items():
        assert [f for k, f in streamed if k == key] == frames
    assert len(streamed) == sum(len(f) for f in by_key.values())
    assert [f.packet for _, f in streamed] == sorted(f.packet for _, f in streamed)


# --- reading files -------------------------------------------------------------------------------


def test_missing_file() -> None:
    with pytest.raises(PcapError, match="no such file"):
        conversations("/nonexistent/capture.pcap")


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "notes.pcap"
    path.write_text("this is not a capture\n")
    with pytest.raises(PcapError, match="not a pcap or pcapng"):
        conversations(path)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(PcapError):
        conversations(empty)
    with pytest.raises(PcapError, match="directory"):
        conversations(tmp_path)


def write_pcapng(packets: list[Any], path: Path) -> Path:
    with PcapNgWriter(str(path)) as writer:
        for pkt in packets:
            writer.write(pkt)
    return path


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
@pytest.mark.parametrize("cut", [30, 9])  # inside a packet's data; inside a record header
def test_truncated_file(tmp_path: Path, cut: int, fmt: str) -> None:
    if fmt == "pcap":
        full = echo_session().write(tmp_path / "full.pcap").read_bytes()
    else:
        full = write_pcapng(echo_session().packets, tmp_path / "full.pcapng").read_bytes()
    path = tmp_path / f"cut.{fmt}"
    path.write_bytes(full[: len(full) - cut])
    packets = []
    with pytest.raises(PcapError, match="truncated"):
        for packet in read_packets(path):
            packets.append(packet)
    assert 0 < len(packets) < len(echo_session().packets)
    assert bytes(packets[0]) == bytes(echo_session().packets[0])


def test_read_packets_streams_scapy_packets(tmp_path: Path) -> None:
    wire = echo_session()
    path = wire.write(tmp_path / "e.pcap")
    packets = list(read_packets(path))
    assert [bytes(p) for p in packets] == [bytes(p) for p in wire.packets]
    assert [float(p.time) for p in packets] == pytest.approx([float(p.time) for p in wire.packets])
    assert packets[3].haslayer(TCP)


# --- the shipped captures (real traffic) ---------------------------------------------------------


def tcp_payload_by_sender(path: Path) -> dict[tuple[Endpoint, Endpoint], list[dict[int, int]]]:
    """Read the file once: each (sender, receiver)'s TCP payload, one copy per sequence number,
    one dict per TCP connection on that pair of ports (a client port can be reused later)."""
    seen: dict[tuple[Endpoint, Endpoint], list[dict[int, int]]] = {}
    for pkt in rdpcap(str(path)):
        if not pkt.haslayer(TCP):
            continue
        ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        pair = (Endpoint(ip.src, pkt[TCP].sport), Endpoint(ip.dst, pkt[TCP].dport))
        flags = pkt[TCP].flags
        if flags.S and not flags.A:  # a client's SYN: a new connection on these ports
            seen.setdefault(pair, []).append({})
            seen.setdefault((pair[1], pair[0]), []).append({})
        data = bytes(pkt[TCP].payload)
        if data:
            connections = seen.setdefault(pair, [{}])
            sizes = connections[-1]
            sizes[pkt[TCP].seq] = max(sizes.get(pkt[TCP].seq, 0), len(data))
    return seen


def tcp_payload_bytes(
    counts: dict[tuple[Endpoint, Endpoint], list[dict[int, int]]], conv: Any, nth: int = 0
) -> dict[str, int]:
    """Each direction's TCP payload bytes of one conversation (the nth on its pair of ports)."""

    def total(pair: tuple[Endpoint, Endpoint]) -> int:
        connections = counts.get(pair, [])
        return sum(connections[nth].values()) if nth < len(connections) else 0

    return {"c2s": total((conv.client, conv.server)), "s2c": total((conv.server, conv.client))}


@pytest.mark.parametrize("path", PCAPS, ids=[p.name for p in PCAPS])
def test_shipped_capture(path: Path) -> None:
    keys = path.with_suffix(".keys")  # a wss:// capture's key log
    convs = conversations(path, http=True, keylog=keys if keys.exists() else None)
    assert convs, f"{path.name}: nothing decoded"
    counts = tcp_payload_by_sender(path)
    reused: dict[tuple[Endpoint, Endpoint], int] = {}  # connections seen so far on each pair
    for conv in convs:
        nth = reused.get((conv.client, conv.server), 0)
        reused[(conv.client, conv.server)] = nth + 1
        assert conv.errors == []
        assert conv.syns == 1
        assert [e.kind for e in conv.tcp_events][:3] == ["SYN", "SYN-ACK", "ACK"]
        http = (
            sum(len(m.raw) for m in conv.http_messages if m.direction == "c2s"),
            sum(len(m.raw) for m in conv.http_messages if m.direction == "s2c"),
        )
        counted = tcp_payload_bytes(counts, conv, nth)
        for i, direction in enumerate(("c2s", "s2c")):
            frames = conv.frames_from(direction)  # type: ignore[arg-type]
            decoded = http[i] + sum(f.wire_length for f in frames)
            if conv.tls is not None:  # wss://: the TCP stream is TLS records, nothing else,
                records = [r for r in conv.tls.records if r.direction == direction]
                assert sum(5 + r.length for r in records) == counted[direction]
                # and their application data is heads and frames, nothing left over
                data = [r.plaintext_length for r in records if r.kind == "application_data"]
                assert sum(n or 0 for n in data) == decoded
                continue
            # every byte of the TCP stream is a head, a body or a frame: nothing left over
            assert decoded == counted[direction]
            assert all(f.masked == (direction == "c2s") for f in frames)
        if conv.kind == "websocket":
            assert conv.upgraded
            assert conv.payload_bytes + conv.framing_bytes == sum(
                f.wire_length for f in conv.frames
            )


def test_shipped_echo_is_the_articles_experiment() -> None:
    path = ROOT / "data" / "pcaps" / "echo-123-456.pcap"
    if not path.exists():
        pytest.skip("data/pcaps/echo-123-456.pcap is not recorded yet")
    conv = only(path)
    texts = [(f.direction, f.text) for f in conv.frames if f.opcode is Opcode.TEXT]
    assert texts == [("c2s", "123"), ("s2c", "123"), ("c2s", "456"), ("s2c", "456")]
    assert conv.ended == "close handshake" and conv.close_code == 1000


# --- a live capture (needs capture privileges: root, as in CI) -----------------------------------


def echo(conn: Any) -> None:
    for message in conn:
        conn.send(message)


@pytest.mark.skipif(
    not tools.capture_privileges(),
    reason="live capture needs root or CAP_NET_RAW",
)
def test_live_capture_of_wslib_peers(tmp_path: Path) -> None:
    """Real traffic: wslib's client and server, captured by wslib.lab.capture, dissected both from
    the packets in memory and from the file written, and compared with what was sent."""
    import wslib
    from wslib.lab.capture import capture

    sent = ["123", "456", "é" * 40_000]  # the last one needs a 64-bit length on the wire
    with wslib.serve(echo, ping_interval=None) as server, capture([server.port]) as cap:
        with wslib.connect(f"ws://127.0.0.1:{server.port}/", ping_interval=None) as client:
            for text in sent:
                client.send(text)
                assert client.recv(timeout=5) == text
            client.close(1000, "bye")
    conv = only(cap, max_payload=1 << 20)  # the Capture itself, or cap.packets
    path = cap.write(tmp_path / "live.pcap")
    assert fingerprint(only(path, max_payload=1 << 20)) == fingerprint(conv)
    assert conv.server.port == server.port and conv.syns == 1
    texts = [(f.direction, f.text) for f in conv.frames if f.opcode is Opcode.TEXT]
    assert texts == [(d, t) for t in sent for d in ("c2s", "s2c")]
    assert conv.frames[-4].header_length == 2 + 8 + 4
    assert (conv.close_code, conv.close_reason, conv.ended) == (1000, "bye", "close handshake")
    assert conv.errors == []


def test_answer_captured_before_its_request(tmp_path: Path) -> None:
    """Two interfaces, two clocks: a merged capture may show the 101 before the request."""
    wire = echo_session()
    request = next(i for i, p in enumerate(wire.packets) if b"GET /chat" in bytes(p))
    answer = next(i for i, p in enumerate(wire.packets) if b" 101 " in bytes(p))
    wire.packets[request], wire.packets[answer] = wire.packets[answer], wire.packets[request]
    conv = only(wire.write(tmp_path / "swapped.pcap"))
    assert conv.upgraded and conv.request is not None
    assert [f.text for f in conv.frames[:4]] == ["123", "123", "456", "456"]
    assert conv.errors == []


def test_keep_alive_http_with_identical_messages(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    for _ in range(3):
        wire.send("c2s", b"GET /poll HTTP/1.1\r\nHost: example.com\r\n\r\n")
        wire.send("s2c", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno", [30])
    wire.finish()
    (conv,) = conversations(wire.write(tmp_path / "keepalive.pcap"), http=True)
    assert [m.start_line for m in conv.http_messages] == [
        "GET /poll HTTP/1.1",
        "HTTP/1.1 200 OK",
    ] * 3
    assert all(m.raw.endswith(b"\r\n\r\nno") for m in conv.http_messages[1::2])
    assert len({m.packet for m in conv.http_messages}) == 6


# --- permessage-deflate (RFC 7692) ---------------------------------------------------------------


def deflate_session(
    params: str = "permessage-deflate", *, fragment: bool = True
) -> tuple[Wire, list[str]]:
    """Compressed messages both ways, as a browser or python-websockets sends them."""
    import zlib

    wire = Wire()
    wire.connect()
    request = client_request("example.com", key=KEY)
    request.headers["Sec-WebSocket-Extensions"] = "permessage-deflate; client_max_window_bits"
    wire.send("c2s", request.serialize())
    response = accept(request)
    response.headers["Sec-WebSocket-Extensions"] = params
    wire.send("s2c", response.serialize())
    texts = ["hello hello hello", "hello hello hello", "é" * 3000, "bye"]
    reset = {"c2s": "client_no_context_takeover" in params,
             "s2c": "server_no_context_takeover" in params}  # fmt: skip
    compressors = {d: zlib.compressobj(wbits=-15) for d in ("c2s", "s2c")}
    for i, text in enumerate(texts):
        for direction in ("c2s", "s2c"):
            c = compressors[direction]
            data = c.compress(text.encode()) + c.flush(zlib.Z_SYNC_FLUSH)
            assert data.endswith(b"\x00\x00\xff\xff")
            data = data[:-4]  # RFC 7692 §7.2.1: remove the 4 octets 0x00 0x00 0xff 0xff
            if reset[direction]:
                compressors[direction] = zlib.compressobj(wbits=-15)
            if i == 2 and fragment:  # a compressed message in two fragments: RSV1 on the first
                frames = [
                    Frame(Opcode.TEXT, data[:10], fin=False, rsv1=True),
                    Frame(Opcode.CONT, data[10:]),
                ]
            else:
                frames = [Frame(Opcode.TEXT, data, rsv1=True)]
            wire.send(
                direction,
                b"".join(
                    f.serialize(
                        mask=direction == "c2s",
                        mask_key=bytes(4) if direction == "c2s" else None,
                        extensions_rsv=0x40,
                    )
                    for f in frames
                ),
            )
    return wire, texts


@pytest.mark.parametrize(
    "params", ["permessage-deflate", "permessage-deflate; server_no_context_takeover"]
)
def test_permessage_deflate_is_decompressed(tmp_path: Path, params: str) -> None:
    wire, texts = deflate_session(params)
    conv = only(wire.write(tmp_path / "deflate.pcap"))
    assert conv.errors == []
    messages: dict[str, list[str]] = {"c2s": [], "s2c": []}
    parts: dict[str, str] = {"c2s": "", "s2c": ""}
    for frame in conv.frames:
        assert frame.inflated is not None and frame.text is not None
        parts[frame.direction] += frame.text
        if frame.fin:
            messages[frame.direction].append(parts[frame.direction])
            parts[frame.direction] = ""
    assert messages == {"c2s": texts, "s2c": texts}
    assert [f.rsv for f in conv.frames[:2]] == [4, 4]
    # the second "hello hello hello" reuses the first one's context: a few bytes on the wire
    assert conv.frames[2].length < conv.frames[0].length


def test_compressed_frame_without_negotiation_is_flagged(tmp_path: Path) -> None:
    wire = upgraded_wire()
    wire.send("c2s", Frame(Opcode.TEXT, b"x", rsv1=True).serialize(mask=True, check=False))
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"y")))
    conv = only(wire.write(tmp_path / "rsv1.pcap"))
    assert [(f.text, f.rsv) for f in conv.frames] == [("x", 4), ("y", 0)]
    (violation,) = conv.frames[0].violations
    assert "RSV1 set" in violation and conv.frames[1].violations == ()


@pytest.mark.skipif(not tools.capture_privileges(), reason="live capture needs root or CAP_NET_RAW")
def test_live_capture_of_python_websockets_with_deflate(tmp_path: Path) -> None:
    """python-websockets negotiates permessage-deflate by default: real compressed traffic."""
    import threading

    from websockets.sync.client import connect
    from websockets.sync.server import serve

    from wslib.lab.capture import capture

    def handler(ws: Any) -> None:
        for message in ws:
            ws.send(message)

    sent = ["hello " * 50, "hello " * 50, "ünïcode ✓", "x" * 5000]
    with serve(handler, "127.0.0.1", 0, compression="deflate") as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        try:
            with capture([port]) as cap:
                with connect(f"ws://127.0.0.1:{port}/", open_timeout=5) as client:
                    for text in sent:
                        client.send(text)
                        assert client.recv(timeout=5) == text
        finally:
            server.shutdown()
            thread.join(timeout=5)
    conv = only(cap.packets)
    assert conv.response is not None
    assert "permessage-deflate" in conv.response.headers["Sec-WebSocket-Extensions"]
    assert conv.errors == []
    texts = [(f.direction, f.text) for f in conv.frames if f.opcode is Opcode.TEXT]
    assert texts == [(d, t) for t in sent for d in ("c2s", "s2c")]
    compressed = [f for f in conv.frames if f.rsv & 4]
    assert compressed and all(f.inflated is not None for f in compressed)
    assert conv.frames[2].length < conv.frames[0].length  # context takeover: repeats are cheap


def test_read_packets_works_in_a_fresh_interpreter() -> None:
    # Nothing else has imported scapy's layers there: read_packets must do it itself.
    import subprocess
    import sys

    code = (
        "from wslib.lab.dissect import read_packets; from wslib.lab.tools import PCAP_DIR; "
        "print(next(read_packets(PCAP_DIR / 'echo-123-456.pcap')).summary())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "TCP" in result.stdout
