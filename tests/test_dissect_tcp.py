"""wslib.lab.dissect.tcp: reassembly at scale, its memory bound, duplicates of waiting segments.

The captures are written with :mod:`tests.rawpcap` (struct, no scapy) so that tens of thousands
of packets cost milliseconds to make. Costs are compared with a control run in the same test
(twice the input must cost about twice the time), never against a wall-clock figure.
"""

from __future__ import annotations

import random
import struct
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from wslib import Frame, Opcode, accept, client_request
from wslib.lab.dissect import Dissection, conversations, dissect

from .rawpcap import ACK, PSH, Flow, pcap_record, tcp_packet, write

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
MIB = 1024 * 1024


def masked(frame: Frame, i: int = 0) -> bytes:
    return frame.serialize(mask=True, mask_key=struct.pack("!I", 0x37FA213D + i))


def upgraded_flow() -> Flow:
    flow = Flow()
    flow.connect()
    request = client_request("example.com", "/chat", key=KEY)
    flow.upgrade(request.serialize(), accept(request).serialize())
    return flow


def reversed_one_byte_segments(tmp_path: Path, n: int) -> tuple[Path, bytes]:
    """A BINARY frame of ``n`` bytes on the wire, sent as ``n`` one-byte segments, last first."""
    payload = bytes(i % 251 for i in range(n - 8))  # 2 + 2 (16-bit length) + 4 (mask) = 8
    data = masked(Frame(Opcode.BINARY, payload))
    assert len(data) == n
    flow = upgraded_flow()
    base = flow.seq["c2s"]
    for i in reversed(range(n)):
        flow.packet("c2s", PSH | ACK, data[i : i + 1], seq=base + i)
    flow.seq["c2s"] += n
    path = tmp_path / f"reversed-{n}.pcap"
    path.write_bytes(flow.pcap())
    return path, payload


def test_reversed_one_byte_segments_reassemble(tmp_path: Path) -> None:
    """Issue 10, defect 8: 32,000 one-byte segments in reverse order (46 s when quadratic)."""
    path, payload = reversed_one_byte_segments(tmp_path, 32_000)
    (conv,) = conversations(path, max_payload=1 << 20)
    assert [(f.opcode, f.length, f.payload) for f in conv.frames] == [
        (Opcode.BINARY, len(payload), payload)
    ]
    assert conv.errors == []
    assert conv.out_of_order == 32_000 - 1


def test_reversed_segments_cost_grows_near_linearly(tmp_path: Path) -> None:
    """Doubling the number of reversed segments about doubles the time (quadratic: 4x)."""
    small, _ = reversed_one_byte_segments(tmp_path, 8_000)
    big, _ = reversed_one_byte_segments(tmp_path, 16_000)

    def cost(path: Path) -> float:
        best = float("inf")
        for _ in range(3):
            begin = time.perf_counter()
            conversations(path)
            best = min(best, time.perf_counter() - begin)
        return best

    cost(small)  # warm up (imports, caches)
    ratio = cost(big) / cost(small)
    assert ratio < 3.0, f"twice the segments cost {ratio:.1f} times as much"


def gap_then_flood(tmp_path: Path, waiting: int) -> tuple[Path, int, int]:
    """One frame per segment: the first segment held back, ``waiting`` bytes of frames after
    it, then the first segment. Returns the path, the packet number of the first segment
    that puts more than 8 MiB in waiting (0 if none does), and the number of frames sent."""
    flow = upgraded_flow()
    base = flow.seq["c2s"]
    frames = []
    while sum(map(len, frames[1:])) < waiting:
        frames.append(masked(Frame(Opcode.BINARY, bytes([len(frames) % 256]) * 60_000)))
    position, crossed = len(frames[0]), 0
    for frame in frames[1:]:
        flow.packet("c2s", PSH | ACK, frame, seq=base + position)
        position += len(frame)
        if not crossed and position - len(frames[0]) > 8 * MIB:
            crossed = len(flow.records)  # packet numbers start at 1
    flow.packet("c2s", PSH | ACK, frames[0], seq=base)
    flow.seq["c2s"] = base + position
    path = tmp_path / "flood.pcap"
    path.write_bytes(flow.pcap())
    return path, crossed, len(frames)


def test_out_of_order_bytes_are_bounded_at_8_mib(tmp_path: Path) -> None:
    """MAX_OUT_OF_ORDER is 8 MiB: 9 MiB waiting for a gap is a loss, recorded where it happens,
    and decoding that direction stops (even though the gap is filled later)."""
    path, crossed, _ = gap_then_flood(tmp_path, 9 * MIB)
    assert crossed
    (conv,) = conversations(path)
    assert [(e.direction, e.error, e.packet) for e in conv.errors] == [
        ("c2s", "LostBytes", crossed)
    ]
    assert conv.frames_from("c2s") == []


def test_out_of_order_bytes_under_the_bound_wait_for_the_gap(tmp_path: Path) -> None:
    """The control: 7 MiB waiting, then the gap filled: every frame decodes."""
    path, crossed, sent = gap_then_flood(tmp_path, 7 * MIB)
    assert crossed == 0
    (conv,) = conversations(path)
    assert conv.errors == []
    assert len(conv.frames_from("c2s")) == sent
    assert [f.payload[:1] for f in conv.frames] == [bytes([i]) for i in range(sent)]


def test_duplicates_of_a_waiting_segment(tmp_path: Path) -> None:
    """A segment from the future sent three times (once longer), overlapping another waiting
    one: each byte is delivered once, the shorter repeats are counted as retransmissions."""
    frames = [Frame(Opcode.TEXT, f"message {i}".encode()) for i in range(6)]
    data = b"".join(masked(f, i) for i, f in enumerate(frames))
    flow = upgraded_flow()
    base = flow.seq["c2s"]
    segment = [(10, 30), (10, 30), (10, 45), (10, 20), (40, 60), (60, len(data)), (0, 10)]
    for a, b in segment:
        flow.packet("c2s", PSH | ACK, data[a:b], seq=base + a)
    flow.seq["c2s"] += len(data)
    path = tmp_path / "duplicates.pcap"
    path.write_bytes(flow.pcap())
    (conv,) = conversations(path)
    assert [f.text for f in conv.frames] == [f"message {i}" for i in range(6)]
    assert conv.errors == []
    assert conv.retransmissions == 2  # (10, 30) again, and (10, 20) shorter than (10, 45)
    assert conv.out_of_order == 4  # (10, 30), (10, 45) longer, (40, 60), (60, end)


def garbage_capture(path: Path, n: int) -> Path:
    """``n`` TCP packets of garbage, each on its own 4-tuple, then one WebSocket connection."""
    rng = random.Random(9)
    records = []
    for i in range(n):
        src = (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 1024 + rng.randrange(60_000))
        dst = ("192.168.0.1", 1 + rng.randrange(65_000))
        garbage = b"\x00" + rng.randbytes(rng.randrange(40))  # never an HTTP method
        frame = tcp_packet(src, dst, rng.getrandbits(32), rng.getrandbits(32), PSH | ACK, garbage)
        records.append(pcap_record(frame, 1_699_999_000 + i / 1000))
    flow = upgraded_flow()
    flow.send("c2s", masked(Frame(Opcode.TEXT, b"still found")))
    flow.finish()
    path.write_bytes(write([records, flow.records]))
    return path


def peak_of_dissecting(path: Path) -> tuple[int, Dissection]:
    tracemalloc.start()
    try:
        found = dissect(path)
        return tracemalloc.get_traced_memory()[1], found
    finally:
        tracemalloc.stop()


def test_connections_given_up_are_forgotten(tmp_path: Path) -> None:
    """Issue 10, defect 9: 100,000 garbage packets on distinct 4-tuples (a 7.6 MB pcap) peaked
    at 467 MiB. Connections that carry no upgrade are forgotten: memory stays flat, and what
    was skipped is counted."""
    small_peak, _ = peak_of_dissecting(garbage_capture(tmp_path / "small.pcap", 10_000))
    peak, found = peak_of_dissecting(garbage_capture(tmp_path / "big.pcap", 100_000))
    (conv,) = found.conversations
    assert [f.text for f in conv.frames] == ["still found"]
    assert conv.stream == 100_000  # numbered like tshark's tcp.stream: one per 4-tuple
    assert found.skipped_connections == 100_000
    assert found.skipped_packets == 100_000
    assert peak < 32 * MIB, f"peak {peak / MIB:.0f} MiB"
    assert peak < 4 * small_peak + 8 * MIB, "ten times the garbage, far more memory"


# --- issue 18: the answer checked against the real offer -------------------------------------


def negotiated(offer: dict[str, str], answer: dict[str, str]) -> Any:
    request = client_request("example.com", "/api/kernels/1/channels", key=KEY)
    for name, value in offer.items():
        request.headers[name] = value
    response = accept(request)
    for name, value in answer.items():
        response.headers[name] = value
    flow = Flow()
    flow.connect()
    flow.upgrade(request.serialize(), response.serialize())
    flow.send("c2s", masked(Frame(Opcode.TEXT, b"hi")))
    return flow


def test_subprotocol_the_client_offered_is_accepted(tmp_path: Path) -> None:
    """Issue 18: 11 of 12 real captures were flagged "the server chose the subprotocol 'v1',
    which was not offered (offered: none)": the 101 was checked without the client's offer."""
    flow = negotiated(
        {"Sec-WebSocket-Protocol": "v1.kernel.websocket.jupyter.org, v0"},
        {"Sec-WebSocket-Protocol": "v1.kernel.websocket.jupyter.org"},
    )
    path = tmp_path / "subprotocol.pcap"
    path.write_bytes(flow.pcap())
    (conv,) = conversations(path)
    assert conv.errors == []
    assert conv.subprotocol == "v1.kernel.websocket.jupyter.org"
    assert "  subprotocol: v1.kernel.websocket.jupyter.org; extensions: none" in conv.summary()


def test_subprotocol_not_offered_is_an_error(tmp_path: Path) -> None:
    flow = negotiated({"Sec-WebSocket-Protocol": "v0"}, {"Sec-WebSocket-Protocol": "v1"})
    path = tmp_path / "subprotocol.pcap"
    path.write_bytes(flow.pcap())
    (conv,) = conversations(path)
    assert [(e.direction, e.message) for e in conv.errors] == [
        ("s2c", "the server chose the subprotocol 'v1', which was not offered (offered: 'v0')")
    ]
    assert [f.text for f in conv.frames] == ["hi"]  # flagged, and still decoded


@pytest.mark.parametrize("offered", [True, False])
def test_extension_checked_against_the_offer(tmp_path: Path, offered: bool) -> None:
    offer = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}
    flow = negotiated(
        offer if offered else {},
        {"Sec-WebSocket-Extensions": "permessage-deflate; server_no_context_takeover"},
    )
    path = tmp_path / "extension.pcap"
    path.write_bytes(flow.pcap())
    (conv,) = conversations(path)
    assert conv.extensions == ["permessage-deflate; server_no_context_takeover"]
    assert "extensions: permessage-deflate; server_no_context_takeover" in conv.summary()
    expected = [] if offered else [
        "the server chose the extension 'permessage-deflate', which was not offered "
        "(offered: none)"
    ]  # fmt: skip
    assert [e.message for e in conv.errors] == expected
