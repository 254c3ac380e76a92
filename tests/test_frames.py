"""Frames (RFC 6455 §5): the RFC's own examples, every rule, round trips, and websockets' parser."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterable
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wslib import (
    Close,
    CloseCode,
    Frame,
    InvalidPayloadData,
    InvalidState,
    Opcode,
    PayloadTooBig,
    ProtocolError,
    StreamReader,
    WebSocketError,
)
from wslib.frames import (
    CTRL_OPCODES,
    DATA_OPCODES,
    RSV1,
    RSV2,
    RSV3,
    check_frame,
    is_sendable_close_code,
)
from wslib.masking import NUMPY_FROM

from .conftest import run_parser

T = TypeVar("T")
KEY = bytes.fromhex("37fa213d")  # the masking key of the RFC's examples
RESERVED_OPCODES = [*range(0x3, 0x8), *range(0xB, 0x10)]


def parse(data: bytes, *, mask: bool, max_size: int | None = None, ext: int = 0) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    frame = run_parser(
        Frame.parse(reader.read_exact, mask=mask, max_size=max_size, extensions_rsv=ext)
    )
    assert not reader.buffer, "the parser left bytes behind"
    return frame


def parse_chunks(chunks: Iterable[bytes], *, mask: bool) -> list[Frame]:
    """Feed chunks one by one; parse frames as they complete (the way a connection does)."""
    reader = StreamReader()
    frames: list[Frame] = []
    parser = Frame.parse(reader.read_exact, mask=mask)
    for chunk in chunks:
        reader.feed_data(chunk)
        while True:
            try:
                next(parser)  # runs until it needs more data, or finishes a frame
            except StopIteration as done:
                frames.append(done.value)
                parser = Frame.parse(reader.read_exact, mask=mask)
                continue  # the next frame may be complete already
            break
    return frames


# --- RFC 6455 §5.7 examples, byte for byte ---------------------------------------------------

RFC_EXAMPLES = [
    # (name, wire bytes, frame, mask key or None)
    ("unmasked text", "810548656c6c6f", Frame(Opcode.TEXT, b"Hello"), None),
    ("masked text", "818537fa213d7f9f4d5158", Frame(Opcode.TEXT, b"Hello"), KEY),
    ("fragment 1", "010348656c", Frame(Opcode.TEXT, b"Hel", fin=False), None),
    ("fragment 2", "80026c6f", Frame(Opcode.CONT, b"lo"), None),
    ("unmasked ping", "890548656c6c6f", Frame(Opcode.PING, b"Hello"), None),
    ("masked pong", "8a8537fa213d7f9f4d5158", Frame(Opcode.PONG, b"Hello"), KEY),
    ("256 bytes", "827e0100" + "00" * 256, Frame(Opcode.BINARY, bytes(256)), None),
    ("64 KiB", "827f0000000000010000" + "00" * 65536, Frame(Opcode.BINARY, bytes(65536)), None),
]


@pytest.mark.parametrize(("name", "wire", "frame", "key"), RFC_EXAMPLES, ids=lambda x: x)
def test_rfc_examples_parse(name: str, wire: str, frame: Frame, key: bytes | None) -> None:
    assert parse(bytes.fromhex(wire), mask=key is not None) == frame


@pytest.mark.parametrize(("name", "wire", "frame", "key"), RFC_EXAMPLES, ids=lambda x: x)
def test_rfc_examples_serialize(name: str, wire: str, frame: Frame, key: bytes | None) -> None:
    assert frame.serialize(mask=key is not None, mask_key=key) == bytes.fromhex(wire)


def test_rfc_fragmented_hello_reads_as_two_frames_from_one_chunk() -> None:
    frames = parse_chunks([bytes.fromhex("010348656c80026c6f")], mask=False)
    assert frames == [Frame(Opcode.TEXT, b"Hel", fin=False), Frame(Opcode.CONT, b"lo")]


# --- length forms (§5.2) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, "8200"),
        (125, "827d"),
        (126, "827e007e"),
        (65535, "827effff"),
        (65536, "827f0000000000010000"),
        (65537, "827f0000000000010001"),
    ],
)
def test_length_forms_at_their_boundaries(length: int, header: str) -> None:
    frame = Frame(Opcode.BINARY, bytes(length))
    wire = frame.serialize(mask=False)
    assert wire == bytes.fromhex(header) + bytes(length)
    assert parse(wire, mask=False) == frame
    masked = frame.serialize(mask=True, mask_key=KEY)
    assert masked[1] & 0x80 and masked[1] & 0x7F == bytes.fromhex(header)[1] & 0x7F
    assert parse(masked, mask=True) == frame


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ("827e007d", "used 2 bytes when 1 would have sufficed"),
        ("827e0000", "used 2 bytes when 1 would have sufficed"),
        ("827f000000000000007d", "used 8 bytes when 1 would have sufficed"),
        ("827f000000000000007e", "used 8 bytes when 2 would have sufficed"),
        ("827f000000000000ffff", "used 8 bytes when 2 would have sufficed"),
    ],
)
def test_non_minimal_lengths_are_rejected(wire: str, message: str) -> None:
    # Our choice (documented in Frame.parse): the RFC's "MUST" is enforced, like wsproto does.
    reader = StreamReader()
    reader.feed_data(bytes.fromhex(wire))  # header only: rejected before the payload
    with pytest.raises(ProtocolError, match=message) as exc:
        run_parser(Frame.parse(reader.read_exact, mask=False))
    assert exc.type is ProtocolError and exc.value.close_code == 1002


@pytest.mark.parametrize("header", ["827e007d", "827f000000000000007d", "827f000000000000ffff"])
def test_non_minimal_lengths_where_the_libraries_stand(header: str) -> None:
    # wslib and wsproto enforce the MUST; websockets is lenient. Same bytes, three verdicts.
    from wsproto.frame_protocol import FrameDecoder, ParseFailed

    length = int(header[4:], 16)
    wire = bytes.fromhex(header) + bytes(length)
    with pytest.raises(ProtocolError, match="would have sufficed"):
        parse(wire, mask=False)
    decoder = FrameDecoder(client=True)
    decoder.receive_bytes(wire)
    with pytest.raises(ParseFailed, match="would have sufficed"):
        decoder.process_buffer()
    assert verdict_websockets(wire, False, 2**20) == (
        Opcode.BINARY,
        bytes(length),
        True,
        False,
        False,
        False,
    )


def test_64_bit_length_with_most_significant_bit_set() -> None:
    reader = StreamReader()
    reader.feed_data(bytes.fromhex("827f8000000000000000"))
    with pytest.raises(ProtocolError, match="most significant bit") as exc:
        run_parser(Frame.parse(reader.read_exact, mask=False))  # no max_size: still rejected
    assert exc.type is ProtocolError


@pytest.mark.parametrize("mask", [False, True])
def test_huge_length_fails_at_once_from_the_header(mask: bool) -> None:
    # 2**63 - 1 bytes announced; nothing after the 10-byte header (not even the mask key).
    header = bytes([0x82, (0x80 if mask else 0) | 127]) + struct.pack("!Q", 2**63 - 1)
    reader = StreamReader()
    reader.feed_data(header)
    parser = Frame.parse(reader.read_exact, mask=mask, max_size=2**20)
    with pytest.raises(PayloadTooBig, match="over this endpoint's limit") as exc:
        next(parser)  # the very first step: no waiting for data
    assert exc.value.close_code == 1009
    assert not reader.buffer  # the header was consumed, nothing else was asked for


def test_max_size_is_inclusive() -> None:
    frame = Frame(Opcode.BINARY, bytes(1000))
    assert parse(frame.serialize(mask=False), mask=False, max_size=1000) == frame
    with pytest.raises(PayloadTooBig):
        parse(frame.serialize(mask=False), mask=False, max_size=999)


# --- masking direction (§5.1) --------------------------------------------------------------------


def test_server_rejects_unmasked_frame() -> None:
    with pytest.raises(ProtocolError, match="unmasked frame from a client") as exc:
        parse(bytes.fromhex("810548656c6c6f"), mask=True)
    assert exc.value.close_code == 1002


def test_client_rejects_masked_frame() -> None:
    with pytest.raises(ProtocolError, match="masked frame from a server"):
        parse(bytes.fromhex("818537fa213d7f9f4d5158"), mask=False)


def test_serialize_uses_a_fresh_random_key() -> None:
    frame = Frame(Opcode.TEXT, b"Hello")
    wires = {frame.serialize(mask=True) for _ in range(8)}
    assert len({wire[2:6] for wire in wires}) > 1  # 8 equal random keys: chance 2**-224
    for wire in wires:
        assert wire[:2] == b"\x81\x85"
        assert parse(wire, mask=True) == frame


def test_serialize_refuses_bad_keys() -> None:
    frame = Frame(Opcode.TEXT, b"Hello")
    with pytest.raises(ValueError, match="mask=False"):
        frame.serialize(mask=False, mask_key=KEY)
    with pytest.raises(ValueError, match="4 bytes"):
        frame.serialize(mask=True, mask_key=b"abc")


# --- the checks (§5.2, §5.5) ------------------------------------------------------------------


@pytest.mark.parametrize("opcode", RESERVED_OPCODES)
def test_reserved_opcodes_are_rejected_while_parsing(opcode: int) -> None:
    reader = StreamReader()
    reader.feed_data(bytes([0x80 | opcode, 0x00]))
    with pytest.raises(ProtocolError, match=f"reserved opcode 0x{opcode:X}") as exc:
        run_parser(Frame.parse(reader.read_exact, mask=False))
    assert exc.type is ProtocolError


@pytest.mark.parametrize("opcode", RESERVED_OPCODES)
def test_reserved_opcodes_are_rejected_by_check(opcode: int) -> None:
    frame = Frame(opcode, b"")  # type: ignore[arg-type]  # built by hand, on purpose
    with pytest.raises(ProtocolError, match="reserved opcode"):
        frame.check()
    with pytest.raises(InvalidState, match="reserved opcode"):
        frame.serialize(mask=False)


@pytest.mark.parametrize(("bit", "name"), [(RSV1, "rsv1"), (RSV2, "rsv2"), (RSV3, "rsv3")])
def test_reserved_bits_need_an_extension(bit: int, name: str) -> None:
    wire = bytes([0x81 | bit, 0x02]) + b"hi"
    with pytest.raises(
        ProtocolError, match=f"{name.upper()} set, but no negotiated extension uses it"
    ) as exc:
        parse(wire, mask=False)
    assert exc.value.close_code == 1002
    # an extension that uses this bit was negotiated: accepted
    frame = parse(wire, mask=False, ext=bit)
    assert getattr(frame, name) is True
    assert frame.serialize(mask=False, extensions_rsv=bit) == wire
    with pytest.raises(InvalidState):
        frame.serialize(mask=False)
    # ... but only that bit
    other = (RSV1 | RSV2 | RSV3) & ~bit
    with pytest.raises(ProtocolError):
        parse(wire, mask=False, ext=other)


@pytest.mark.parametrize("opcode", CTRL_OPCODES)
def test_control_frame_payload_limit(opcode: Opcode) -> None:
    ok = Frame(opcode, bytes(125))
    assert parse(ok.serialize(mask=False), mask=False) == ok
    too_long = Frame(opcode, bytes(126))
    with pytest.raises(ProtocolError, match="at most 125 bytes"):
        too_long.check()
    with pytest.raises(InvalidState, match="at most 125 bytes"):
        too_long.serialize(mask=False)
    wire = too_long.serialize(mask=False, check=False)
    reader = StreamReader()
    reader.feed_data(wire[:4])  # the header alone is enough to say no
    with pytest.raises(ProtocolError, match="at most 125 bytes"):
        run_parser(Frame.parse(reader.read_exact, mask=False))


@pytest.mark.parametrize("opcode", CTRL_OPCODES)
def test_control_frames_are_never_fragmented(opcode: Opcode) -> None:
    frame = Frame(opcode, b"", fin=False)
    with pytest.raises(ProtocolError, match="MUST NOT be fragmented"):
        frame.check()
    with pytest.raises(ProtocolError, match="MUST NOT be fragmented"):
        parse(frame.serialize(mask=True, check=False), mask=True)


@pytest.mark.parametrize("opcode", DATA_OPCODES)
def test_data_frames_may_be_fragmented_and_long(opcode: Opcode) -> None:
    Frame(opcode, bytes(1000), fin=False).check()
    check_frame(opcode, fin=False, rsv=0, length=2**63 - 1)


def test_opcode_names_and_kinds() -> None:
    assert [op.value for op in Opcode] == [0x0, 0x1, 0x2, 0x8, 0x9, 0xA]
    assert [op for op in Opcode if op.is_control] == list(CTRL_OPCODES)
    assert [op for op in Opcode if not op.is_control] == list(DATA_OPCODES)


# --- reading from a stream: any chunking, many frames at once ----------------------------------

frames_strategy = st.builds(
    Frame,
    opcode=st.sampled_from(DATA_OPCODES),
    payload=st.one_of(
        st.binary(max_size=300),
        st.sampled_from([125, 126, 127, 65535, 65536]).map(lambda n: b"x" * n),
    ),
    fin=st.booleans(),
) | st.builds(Frame, opcode=st.sampled_from(CTRL_OPCODES), payload=st.binary(max_size=125))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(
    st.lists(frames_strategy, min_size=1, max_size=5),
    st.booleans(),
    st.randoms(use_true_random=False),
    st.data(),
)
def test_any_chunking_gives_the_same_frames(
    frames: list[Frame], mask: bool, rng: random.Random, data: st.DataObject
) -> None:
    wire = b"".join(
        f.serialize(mask=mask, mask_key=rng.randbytes(4) if mask else None) for f in frames
    )
    # cut the stream anywhere: single bytes, one big chunk, random cuts
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(wire) - 1)), max_size=20)))
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    assert parse_chunks(chunks, mask=mask) == frames
    assert parse_chunks([wire], mask=mask) == frames


def test_one_byte_at_a_time() -> None:
    frames = [
        Frame(Opcode.TEXT, b"Hel", fin=False),
        Frame(Opcode.PING, b"!"),
        Frame(Opcode.CONT, b"lo"),
    ]
    wire = b"".join(f.serialize(mask=True, mask_key=KEY) for f in frames)
    assert parse_chunks([wire[i : i + 1] for i in range(len(wire))], mask=True) == frames


# --- watching a payload as it arrives (a text frame's UTF-8 is checked early) -------------------


@settings(max_examples=100, deadline=None)
@given(
    st.binary(min_size=1, max_size=300),
    st.booleans(),
    st.binary(min_size=4, max_size=4),
    st.lists(st.integers(1, 299), max_size=12),
)
def test_payload_checker_sees_the_unmasked_payload_piece_by_piece(
    payload: bytes, mask: bool, key: bytes, cut_at: list[int]
) -> None:
    frame = Frame(Opcode.BINARY, payload)
    wire = frame.serialize(mask=mask, mask_key=key if mask else None)
    header = len(wire) - len(payload)
    # the header arrives whole, then the payload in pieces cut anywhere
    cuts = sorted({header + c for c in cut_at if c < len(payload)})
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    seen: list[bytes] = []
    opcodes: list[Opcode] = []

    def checker(opcode: Opcode) -> Callable[[bytes], None]:
        opcodes.append(opcode)
        return seen.append

    reader = StreamReader()
    parser = Frame.parse(reader.read_exact, mask=mask, payload_checker=checker)
    result = None
    for chunk in chunks:
        reader.feed_data(chunk)
        try:
            next(parser)
        except StopIteration as done:
            result = done.value
    assert result == frame
    assert opcodes == [Opcode.BINARY]
    # every piece seen before the last one is unmasked with the key turned to its offset
    joined = b"".join(seen)
    assert payload.startswith(joined)
    assert len(seen) == len(chunks) - 1  # each piece that arrived before the payload was whole


def test_payload_checker_fails_the_frame_before_it_is_whole() -> None:
    def no_x(opcode: Opcode) -> Callable[[bytes], None] | None:
        def check(piece: bytes) -> None:
            if b"x" in piece:
                raise ProtocolError("x")

        return check if opcode is Opcode.TEXT else None

    wire = Frame(Opcode.TEXT, b"abcx" + bytes(1000)).serialize(mask=True, mask_key=KEY)
    reader = StreamReader()
    parser = Frame.parse(reader.read_exact, mask=True, payload_checker=no_x)
    reader.feed_data(wire[:4])  # header with its 16-bit length
    next(parser)
    reader.feed_data(wire[4:10])  # the key and "ab"
    next(parser)
    reader.feed_data(wire[10:12])  # "cx", 1000 bytes still missing
    with pytest.raises(ProtocolError, match="x"):
        next(parser)


@given(
    st.sampled_from(list(Opcode)),
    st.binary(max_size=200),
    st.booleans(),
    st.booleans(),
    st.binary(min_size=4, max_size=4),
)
def test_round_trip(opcode: Opcode, payload: bytes, fin: bool, mask: bool, key: bytes) -> None:
    frame = Frame(opcode, payload, fin=fin)
    try:
        frame.check()
    except ProtocolError:
        assume(False)
    wire = frame.serialize(mask=mask, mask_key=key if mask else None)
    assert parse(wire, mask=mask) == frame
    # and back: the bytes are the only possible encoding of that frame with that key
    assert parse(wire, mask=mask).serialize(mask=mask, mask_key=key if mask else None) == wire


@settings(max_examples=300)
@given(st.binary(max_size=400), st.booleans(), st.sampled_from([None, 0, 125, 1000]))
def test_random_bytes_raise_only_wslib_errors_or_wait(
    data: bytes, mask: bool, max_size: int | None
) -> None:
    """Garbage in: frames, a wslib error or EOFError; never another exception, never a hang."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    for _ in range(len(data) // 2 + 1):  # every frame takes 2 bytes or more: a bound on the loop
        parser = Frame.parse(reader.read_exact, mask=mask, max_size=max_size)
        try:
            next(parser)
        except StopIteration:
            continue  # a frame
        except (WebSocketError, EOFError):
            return  # a protocol error, or the end of the stream in the middle of a frame
        raise AssertionError("after feed_eof(), the parser must finish or fail")  # pragma: no cover
    assert not reader.buffer


@given(st.binary(max_size=100), st.booleans())
def test_random_bytes_without_eof_wait_for_more(data: bytes, mask: bool) -> None:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=mask, max_size=2**20)
    try:
        next(parser)
    except (StopIteration, WebSocketError):
        return
    # it paused for bytes that have not arrived: if they never come, that is an EOFError
    reader.feed_eof()
    with pytest.raises(EOFError):
        next(parser)


# --- what learners see --------------------------------------------------------------------------


def test_str_and_repr() -> None:
    assert str(Frame(Opcode.TEXT, b"Hello")) == "TEXT fin=1 len=5 'Hello'"
    assert str(Frame(Opcode.CONT, b"lo", fin=False)) == "CONT fin=0 len=2 'lo'"
    assert str(Frame(Opcode.BINARY, b"\x00\xff")) == "BINARY fin=1 len=2 00 ff"
    assert str(Frame(Opcode.TEXT, b"x", rsv1=True)) == "TEXT fin=1 rsv=100 len=1 'x'"
    close = Frame(Opcode.CLOSE, Close(1000, "bye").serialize())
    assert str(close) == "CLOSE fin=1 len=5 1000 (normal closure) bye"
    assert str(Frame(Opcode.PING, b"")) == "PING fin=1 len=0 ''"
    long_text = str(Frame(Opcode.TEXT, b"a" * 1000))
    assert len(long_text) < 80 and "len=1000" in long_text and long_text.endswith("...")
    assert repr(Frame(Opcode.TEXT, b"Hello")) == "Frame(Opcode.TEXT, b'Hello')"
    assert repr(Frame(Opcode.TEXT, b"Hel", fin=False)) == "Frame(Opcode.TEXT, b'Hel', fin=False)"
    assert "<1000 bytes>" in repr(Frame(Opcode.BINARY, bytes(1000)))


# --- close frame payloads (§5.5.1, §7.4) -----------------------------------------------------

SENDABLE = {*range(1000, 1004), *range(1007, 1015), *range(3000, 5000)}


def test_sendable_close_codes() -> None:
    assert {code for code in range(0, 70000) if is_sendable_close_code(code)} == SENDABLE
    for code in (1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, 999, 0):
        assert not is_sendable_close_code(code)


def test_close_codes_0_to_5000() -> None:
    for code in range(0, 5001):
        payload = struct.pack("!H", code) + b"why"
        if code in SENDABLE:
            close = Close.parse(payload)
            assert close == Close(code, "why")
            assert close.serialize() == payload
        else:
            with pytest.raises(ProtocolError, match=f"close code {code} may not be sent") as exc:
                Close.parse(payload)
            assert exc.type is ProtocolError  # 1002, not 1007
            with pytest.raises(InvalidState):
                Close(code, "why").serialize()


@pytest.mark.parametrize(
    ("code", "member"),
    [
        (1012, CloseCode.SERVICE_RESTART),
        (1013, CloseCode.TRY_AGAIN_LATER),
        (1014, CloseCode.BAD_GATEWAY),
    ],
)
def test_iana_codes_1012_to_1014_are_received_and_sent(code: int, member: CloseCode) -> None:
    # RFC 6455 §7.4.2 left 1012-1014 reserved; IANA registered them later (a server restarting,
    # overloaded, or a gateway whose upstream failed), and real servers close with them.
    payload = struct.pack("!H", code) + b"later"
    close = Close.parse(payload)
    assert close == Close(code, "later") and close.code is member
    assert close.serialize() == payload
    assert member.explanation in str(close)
    # python-websockets, an independent implementation, agrees
    from websockets.frames import Close as WebsocketsClose

    assert WebsocketsClose.parse(payload).code == code


@pytest.mark.parametrize("code", [1015, 1016, 2999])
def test_codes_around_the_iana_ones_are_still_refused(code: int) -> None:
    with pytest.raises(ProtocolError, match=f"close code {code} may not be sent"):
        Close.parse(struct.pack("!H", code))
    with pytest.raises(InvalidState):
        Close(code, "").serialize()


@pytest.mark.parametrize("code", [5000, 5001, 2**15, 65535])
def test_codes_above_4999_are_a_protocol_error(code: int) -> None:
    # RFC 6455 §7.4 defines codes up to 4999 and says nothing of what a receiver does with a
    # larger one: wslib's choice is 1002 (ProtocolError, not a subclass).
    with pytest.raises(ProtocolError, match=f"close code {code}") as exc:
        Close.parse(struct.pack("!H", code) + b"why")
    assert exc.type is ProtocolError and exc.value.close_code == 1002


def test_close_known_codes_become_close_code_members() -> None:
    close = Close.parse(b"\x03\xe8")
    assert close.code is CloseCode.NORMAL_CLOSURE and close.reason == ""
    assert CloseCode.MESSAGE_TOO_BIG.explanation == "message too big"


def test_close_empty_payload_means_no_status() -> None:
    assert Close.parse(b"") == Close(CloseCode.NO_STATUS_RCVD, "")
    assert Close(CloseCode.NO_STATUS_RCVD, "").serialize() == b""
    with pytest.raises(InvalidState):
        Close(CloseCode.NO_STATUS_RCVD, "a reason needs a code").serialize()


def test_close_one_byte_payload() -> None:
    with pytest.raises(ProtocolError, match="1-byte payload") as exc:
        Close.parse(b"\x03")
    assert exc.type is ProtocolError


@pytest.mark.parametrize("size", [0, 1, 122, 123])
def test_close_reason_up_to_123_bytes(size: int) -> None:
    close = Close(1000, "é" * (size // 2) + "x" * (size % 2))
    payload = close.serialize()
    assert len(payload) == 2 + size
    assert Close.parse(payload) == close
    frame = Frame(Opcode.CLOSE, payload)
    assert parse(frame.serialize(mask=False), mask=False) == frame


def test_close_reason_of_124_bytes_is_refused() -> None:
    with pytest.raises(InvalidState, match="124 bytes"):
        Close(1000, "x" * 124).serialize()
    with pytest.raises(InvalidState, match="124 bytes"):
        Close(1000, "é" * 62).serialize()  # 62 characters, 124 bytes
    with pytest.raises(ProtocolError, match="126 bytes"):
        Close.parse(b"\x03\xe8" + b"x" * 124)


@pytest.mark.parametrize(
    "reason", [b"\xff", b"caf\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"ok\xf4\x90\x80\x80"]
)
def test_close_reason_must_be_utf8(reason: bytes) -> None:
    with pytest.raises(InvalidPayloadData, match="not valid UTF-8") as exc:
        Close.parse(b"\x03\xe8" + reason)
    assert exc.value.close_code == 1007


def test_close_str() -> None:
    assert str(Close(1001, "")) == "1001 (going away)"
    assert str(Close(3001, "x")) == "3001 (registered at IANA) x"
    assert str(Close(4000, "")) == "4000 (private use)"


# --- differential: the websockets library's own parser -----------------------------------------
#
# Both parsers get the same complete bytes and must agree: the same frame, or the same verdict
# (1002 protocol error, 1009 too big). The known, deliberate differences:
# - non-minimal length encodings: wslib rejects them (RFC 6455 §5.2 MUST), websockets accepts;
# - a 64-bit length with its top bit set: wslib says 1002, websockets (with max_size) 1009;
# - close payloads are judged by Close.parse (below), not by the frame parser, in both.


def verdict_wslib(wire: bytes, mask: bool, max_size: int) -> object:
    reader = StreamReader()
    reader.feed_data(wire)
    reader.feed_eof()
    try:
        frame = run_parser(Frame.parse(reader.read_exact, mask=mask, max_size=max_size))
    except PayloadTooBig:
        return 1009
    except ProtocolError:
        return 1002
    except EOFError:
        return "eof"
    return (frame.opcode, frame.payload, frame.fin, frame.rsv1, frame.rsv2, frame.rsv3)


def verdict_websockets(wire: bytes, mask: bool, max_size: int) -> object:
    from websockets.exceptions import PayloadTooBig as WsPayloadTooBig
    from websockets.exceptions import ProtocolError as WsProtocolError
    from websockets.frames import Frame as WsFrame
    from websockets.streams import StreamReader as WsStreamReader

    reader = WsStreamReader()
    reader.feed_data(wire)
    reader.feed_eof()
    parser = WsFrame.parse(reader.read_exact, mask=mask, max_size=max_size)
    try:
        next(parser)
    except StopIteration as done:
        frame = done.value
    except WsPayloadTooBig:
        return 1009
    except WsProtocolError:
        return 1002
    except EOFError:
        return "eof"
    else:  # pragma: no cover
        raise AssertionError("websockets wanted more data after EOF")
    return (frame.opcode, bytes(frame.data), frame.fin, frame.rsv1, frame.rsv2, frame.rsv3)


def encode_header(head1: int, masked: bool, length: int, form: str) -> bytes:
    """A frame header with the length in the given form: 7-bit, 16-bit, 64-bit or msb."""
    head2 = 0x80 if masked else 0
    if form == "7-bit":
        return bytes([head1, head2 | length])
    if form == "16-bit":
        return bytes([head1, head2 | 126]) + struct.pack("!H", length)
    if form == "msb":  # 64-bit with the most significant bit set
        return bytes([head1, head2 | 127]) + struct.pack("!Q", length | 1 << 63)
    return bytes([head1, head2 | 127]) + struct.pack("!Q", length)


def minimal_form(length: int) -> str:
    return "7-bit" if length <= 125 else "16-bit" if length <= 0xFFFF else "64-bit"


@st.composite
def wire_frames(draw: st.DrawFn) -> tuple[int, bool, int, str, bytes]:
    """Every header field random: valid frames and malformed ones, and the rest of the frame."""
    head1 = draw(st.integers(0, 255))
    masked = draw(st.booleans())
    length = draw(st.integers(0, 300) | st.sampled_from([125, 126, 127, 65535, 65536, 65537]))
    form = draw(st.sampled_from(["minimal"] * 3 + ["16-bit", "64-bit", "msb"]))
    if form == "minimal" or (form == "16-bit" and length > 0xFFFF):
        form = minimal_form(length)
    key = draw(st.binary(min_size=4, max_size=4)) if masked else b""
    payload = random.Random(draw(st.integers(0, 2**32))).randbytes(length)
    return head1, masked, length, form, key + payload


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(wire_frames(), st.booleans(), st.sampled_from([0, 100, 125, 300, 65536, 2**20]))
def test_differential_with_websockets(
    case: tuple[int, bool, int, str, bytes], mask: bool, max_size: int
) -> None:
    head1, masked, length, form, rest = case
    wire = encode_header(head1, masked, length, form) + rest
    ours = verdict_wslib(wire, mask, max_size)
    theirs = verdict_websockets(wire, mask, max_size)
    if form == minimal_form(length):
        assert ours == theirs
    elif form == "msb":
        # Both refuse. websockets (with a max_size) says "too big", wslib "protocol error";
        # both say 1002 if the opcode or the MASK bit, which come first, are already wrong.
        early = head1 & 0x0F in RESERVED_OPCODES or masked != mask
        assert ours == 1002
        assert theirs == (1002 if early else 1009)
    else:
        # A non-minimal length: wslib refuses it (1002); websockets reads it like the minimal
        # form, so websockets on these bytes == wslib on the same frame encoded minimally.
        assert ours == 1002
        minimal = encode_header(head1, masked, length, minimal_form(length)) + rest
        assert theirs == verdict_wslib(minimal, mask, max_size)


def test_differential_agrees_on_valid_frames_of_every_kind() -> None:
    # the hypothesis test above is random; here each opcode, both sides, each length form
    for opcode in Opcode:
        for length in (0, 5, 125, 126, 65535, 65536):
            if opcode.is_control and length > 125:
                continue
            frame = Frame(opcode, bytes(range(256)) * (length // 256) + bytes(length % 256))
            for mask in (False, True):
                wire = frame.serialize(mask=mask, mask_key=KEY if mask else None)
                expected = (frame.opcode, frame.payload, True, False, False, False)
                assert verdict_wslib(wire, mask, 2**20) == expected
                assert verdict_websockets(wire, mask, 2**20) == expected


@settings(max_examples=500)
@given(
    st.one_of(
        st.binary(max_size=125),
        st.builds(
            lambda code, reason: struct.pack("!H", code) + reason,
            st.integers(0, 65535) | st.sampled_from(sorted(SENDABLE)),
            st.binary(max_size=20) | st.text(max_size=20).map(str.encode),
        ),
    )
)
def test_close_differential_with_websockets(payload: bytes) -> None:
    from websockets.exceptions import ProtocolError as WsProtocolError
    from websockets.frames import Close as WsClose

    try:
        ours: object = Close.parse(payload)
    except InvalidPayloadData:
        ours = 1007
    except ProtocolError:
        ours = 1002
    try:
        ws = WsClose.parse(payload)
        theirs: object = Close(int(ws.code), ws.reason)
    except UnicodeDecodeError:
        theirs = 1007
    except WsProtocolError:
        theirs = 1002
    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    if ours == 1002 and theirs == 1007:
        # a bad code AND a bad reason: wslib looks at the code first, websockets at the reason
        assert code is not None and not is_sendable_close_code(code)
    else:
        assert ours == theirs


def test_several_reserved_bits_are_all_named() -> None:
    with pytest.raises(
        ProtocolError, match="RSV1 and RSV3 set, but no negotiated extension uses them"
    ):
        parse(bytes([0x81 | RSV1 | RSV3, 0x00]), mask=False)
    with pytest.raises(ProtocolError, match=r"^RSV3 set"):
        parse(bytes([0x81 | RSV1 | RSV3, 0x00]), mask=False, ext=RSV1)


def test_parsed_frames_are_ordinary_frozen_frames() -> None:
    # Frame.parse builds frames without calling __init__ (for speed): the result must not differ
    import dataclasses

    parsed = parse(bytes.fromhex("818537fa213d7f9f4d5158"), mask=True)
    built = Frame(Opcode.TEXT, b"Hello")
    assert parsed == built and hash(parsed) == hash(built) and repr(parsed) == repr(built)
    assert vars(parsed) == vars(built)
    assert type(parsed.payload) is bytes and type(parsed.opcode) is Opcode
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.fin = False  # type: ignore[misc]
    assert dataclasses.replace(parsed, fin=False) == Frame(Opcode.TEXT, b"Hello", fin=False)


# --- large masked payloads: unmasked in place, in a buffer of their own -------------------------


def reference_mask(data: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3 word for word, independent of wslib.masking."""
    return bytes(octet ^ key[i % 4] for i, octet in enumerate(data))


@pytest.mark.parametrize("length", [NUMPY_FROM - 1, NUMPY_FROM, NUMPY_FROM + 5, 70_001])
@pytest.mark.parametrize("trailing", [b"", b"\x89\x80" + KEY])
@pytest.mark.parametrize("chunk", [1000, 65536, None])
def test_large_masked_payloads_read_in_place(
    length: int, trailing: bytes, chunk: int | None
) -> None:
    # The connection reads large masked payloads with read_owned: handed over when the payload
    # ends what arrived (trailing=b""), copied out when another frame follows; either way the
    # bytes are those of the RFC's definition, and the next frame still parses.
    payload = random.Random(length).randbytes(length)
    header = Frame(Opcode.BINARY, payload).serialize(mask=True, mask_key=KEY)[: -length - 4]
    wire = header + KEY + reference_mask(payload, KEY) + trailing
    reader = StreamReader()
    parser = Frame.parse(reader.read_exact, mask=True, read_owned=reader.read_exact_owned)
    frame = None
    for start in range(0, len(wire), chunk or len(wire)):
        reader.feed_data(wire[start : start + (chunk or len(wire))])
        if frame is None:
            try:
                next(parser)
            except StopIteration as done:
                frame = done.value
    assert frame == Frame(Opcode.BINARY, payload)
    assert type(frame.payload) is bytes
    if trailing:
        pong = run_parser(Frame.parse(reader.read_exact, mask=True))
        assert pong == Frame(Opcode.PING, b"")
    assert not reader.buffer


@pytest.mark.parametrize("length", [NUMPY_FROM - 1, NUMPY_FROM, NUMPY_FROM + 3, 65536, 65537])
def test_large_payloads_serialize_masked_like_the_definition(length: int) -> None:
    payload = random.Random(length).randbytes(length)
    frame = Frame(Opcode.BINARY, payload)
    wire = frame.serialize(mask=True, mask_key=KEY)
    unmasked = frame.serialize(mask=False)
    header = bytes([unmasked[0], unmasked[1] | 0x80]) + unmasked[2 : len(unmasked) - length]
    assert wire == header + KEY + reference_mask(payload, KEY)
    assert type(wire) is bytes
    assert frame.payload == payload  # masking in place never touches the frame's own payload
