"""A corpus of hand-made edge-case captures (issue 18), each decoded by wslib and by tshark.

Every capture is written here byte by byte (:mod:`tests.rawpcap`, frames with :func:`raw_frame`),
so its provenance is this file. One capture per rule a frame header can break while keeping its
boundary (RFC 6455 §5.1 the MASK bit, §5.2 the shortest length and the RSV bits and reserved
opcodes, §5.5 control frames), plus negotiated subprotocols and files cut inside a record.

Wireshark's stance, which the dissector takes too: decode what is on the wire, flag what is
wrong. Each broken frame is decoded (``FrameRecord.violations`` says what is wrong) and the
frames after it too; tshark reports the same frames, field by field.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from wslib import Opcode, accept, client_request
from wslib.lab.dissect import Conversation, dissect

from .rawpcap import Flow

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example key
MASK_KEY = b"\x37\xfa\x21\x3d"  # RFC 6455 §5.7's example masking key


def raw_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length_bytes: int | None = None,
) -> bytes:
    """A frame's bytes as RFC 6455 §5.2 draws them, with any field forced (no rule checked).

    ``rsv``: the three RSV bits as a number 0-7 (RSV1 = 4). ``length_bytes``: 0, 2 or 8 bytes
    of extended length, whatever the length (default: the shortest form).
    """
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n <= 125 else 2 if n <= 0xFFFF else 8
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    bit = 0x80 if mask else 0
    if length_bytes == 0:
        head += bytes([bit | n])
    elif length_bytes == 2:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    return head + MASK_KEY + bytes(b ^ MASK_KEY[i % 4] for i, b in enumerate(payload))


def session(
    c2s: list[bytes], s2c: list[bytes], *, offer: str = "", answer: str = "", finish: bool = True
) -> Flow:
    """A connection: TCP handshake, the upgrade, then each frame in its own segment."""
    request = client_request("example.com", "/chat", key=KEY)
    if offer:
        request.headers["Sec-WebSocket-Protocol"] = offer
    response = accept(request)
    if answer:
        response.headers["Sec-WebSocket-Protocol"] = answer
    flow = Flow()
    flow.connect()
    flow.upgrade(request.serialize(), response.serialize())
    for i in range(max(len(c2s), len(s2c))):
        if i < len(c2s):
            flow.send("c2s", c2s[i])
        if i < len(s2c):
            flow.send("s2c", s2c[i], mss=65_000)
    if finish:
        flow.finish()
    return flow


def text(data: str, **kwargs: object) -> bytes:
    return raw_frame(Opcode.TEXT, data.encode(), **kwargs)  # type: ignore[arg-type]


def close(code: int, reason: str = "", **kwargs: object) -> bytes:
    payload = struct.pack("!H", code) + reason.encode()
    return raw_frame(Opcode.CLOSE, payload, **kwargs)  # type: ignore[arg-type]


def server(frame: bytes) -> bytes:
    """The same frame as a server sends it: no masking key (it was built masked)."""
    return raw_frame(frame[0] & 0x0F, _unmasked_payload(frame), fin=frame[0] >= 0x80,
                     rsv=(frame[0] >> 4) & 7, mask=False)  # fmt: skip


def _unmasked_payload(frame: bytes) -> bytes:
    short = frame[1] & 0x7F
    start = 2 + {126: 2, 127: 8}.get(short, 0)
    key, data = frame[start : start + 4], frame[start + 4 :]
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


# Each case: the capture, then for every frame (both directions, wire order per packet) a
# word that must appear in its violations ("" for none).
Case = Callable[[], tuple[Flow, list[str]]]


def unmasked_client() -> tuple[Flow, list[str]]:
    """Issue 18's capture: tshark showed 4 frames, wslib 2 (it stopped at the unmasked one)."""
    c2s = [text("hello"), text("not masked", mask=False), text("after it")]
    return session(c2s, [server(text("hello"))]), ["", "", "MUST mask", ""]


def masked_server() -> tuple[Flow, list[str]]:
    s2c = [text("masked by the server"), server(text("then plain"))]
    return session([text("hi")], s2c), ["", "MUST NOT mask", ""]


def close_258_in_8_bytes() -> tuple[Flow, list[str]]:
    """A close frame of 258 bytes announced with 8 length bytes: three rules broken."""
    bye = close(1000, "x" * 256, length_bytes=8)
    return session([text("a"), bye], [server(close(1000))]), ["", "", "8 bytes when 2"]


def small_close_in_8_bytes() -> tuple[Flow, list[str]]:
    """Issue 18: "on the non-minimal close, tshark 1 and wslib 0"."""
    bye = close(1000, "bye", length_bytes=8)
    return session([bye], [server(close(1000))]), ["8 bytes when 1", ""]


def text_in_2_bytes() -> tuple[Flow, list[str]]:
    return session([text("short", length_bytes=2), text("ok")], []), ["2 bytes when 1", ""]


def rsv_bits() -> tuple[Flow, list[str]]:
    c2s = [text("rsv1", rsv=4), text("rsv2", rsv=2), text("rsv3", rsv=1), text("clean")]
    return session(c2s, []), ["RSV1 set", "RSV2 set", "RSV3 set", ""]


def long_ping() -> tuple[Flow, list[str]]:
    c2s = [raw_frame(Opcode.PING, b"p" * 200), text("after")]
    s2c = [server(raw_frame(Opcode.PONG, b"p" * 200))]
    return session(c2s, s2c), ["200 bytes of payload", "200 bytes of payload", ""]


def fragmented_ping() -> tuple[Flow, list[str]]:
    c2s = [raw_frame(Opcode.PING, b"half", fin=False), raw_frame(Opcode.PING, b"rest"), text("ok")]
    return session(c2s, []), ["MUST NOT be fragmented", "", ""]


def reserved_opcodes() -> tuple[Flow, list[str]]:
    c2s = [raw_frame(0x3, b"three"), raw_frame(0xB, b"eleven"), text("ok")]
    return session(c2s, []), ["reserved opcode 0x3", "reserved opcode 0xB", ""]


def subprotocol() -> tuple[Flow, list[str]]:
    flow = session(
        [text('{"msg_type": "execute_request"}')],
        [server(text('{"msg_type": "status"}'))],
        offer="v1.kernel.websocket.jupyter.org, v0",
        answer="v1.kernel.websocket.jupyter.org",
    )
    return flow, ["", ""]


CASES: dict[str, Case] = {
    "unmasked-client": unmasked_client,
    "masked-server": masked_server,
    "close-258-in-8-bytes": close_258_in_8_bytes,
    "small-close-in-8-bytes": small_close_in_8_bytes,
    "text-in-2-bytes": text_in_2_bytes,
    "rsv-bits": rsv_bits,
    "long-ping": long_ping,
    "fragmented-ping": fragmented_ping,
    "reserved-opcodes": reserved_opcodes,
    "subprotocol": subprotocol,
}


def decode(path: Path) -> Conversation:
    found = dissect(path, max_payload=1 << 20)
    (conv,) = found.conversations
    return conv


@pytest.mark.parametrize("name", CASES)
def test_every_frame_is_decoded_and_flagged(tmp_path: Path, name: str) -> None:
    flow, expected = CASES[name]()
    path = tmp_path / f"{name}.pcap"
    path.write_bytes(flow.pcap())
    conv = decode(path)
    assert conv.errors == []
    frames = sorted(conv.frames, key=lambda f: f.packet)
    assert len(frames) == len(expected)
    for frame, word in zip(frames, expected, strict=True):
        if word:
            assert any(word in v for v in frame.violations), frame.violations
        else:
            assert frame.violations == ()
    if name == "close-258-in-8-bytes":
        (bye,) = [f for f in conv.frames if f.direction == "c2s" and f.opcode is Opcode.CLOSE]
        assert bye.length == 258 and bye.header_length == 2 + 8 + 4
        assert (bye.close_code, bye.close_reason) == (1000, "x" * 256)
        assert len(bye.violations) == 2  # the length's form, and over 125 bytes
    if name == "subprotocol":
        assert conv.subprotocol == "v1.kernel.websocket.jupyter.org"


TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed; CI installs it")
@pytest.mark.parametrize("name", CASES)
def test_tshark_decodes_the_same_frames(tmp_path: Path, name: str) -> None:
    from .test_tshark import compare

    flow, _ = CASES[name]()
    path = tmp_path / f"{name}.pcap"
    path.write_bytes(flow.pcap())
    assert compare(path) >= 2


@pytest.mark.parametrize("cut", [5, 40])
def test_file_cut_inside_a_record(tmp_path: Path, cut: int) -> None:
    """A capture stopped with ``kill -9``: every complete record is decoded, like tshark does,
    and :attr:`Dissection.truncated` says where the file ends."""
    flow, _ = unmasked_client()
    whole = flow.pcap()
    last = len(flow.records[-1])
    path = tmp_path / "cut.pcap"
    path.write_bytes(whole[: len(whole) - last + cut])
    found = dissect(path)
    n = len(flow.records)
    assert found.truncated is not None
    assert f"the file ends inside packet {n}: " in found.truncated
    assert found.truncated.endswith(f"{cut - 16} of {last - 16} bytes" if cut > 16 else
                                    f"{cut} of its record header's 16 bytes")  # fmt: skip
    (conv,) = found.conversations
    assert [f.text for f in conv.frames] == ["hello", "hello", "not masked", "after it"]
    if TSHARK is not None:
        from .test_tshark import tshark_frames, wslib_frames

        assert wslib_frames([conv]) == tshark_frames(path, {8765}, cut=True)
