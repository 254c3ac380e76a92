"""Edge cases of the protocol core that the per-module tests left to chance (issue 19).

- the close code *we* sent takes part in choosing ConnectionClosedOK or ConnectionClosedError;
- two ``Upgrade`` header fields in a 101 fail the handshake (RFC 6455 §4.1, RFC 9110 §5.3);
- ``str(Frame)`` never prints a control character raw (a peer's bytes must not drive a terminal);
- the three length encodings at their boundaries (125/126, 65535/65536) and empty payloads.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wslib.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidResponse
from wslib.frames import Close, Frame, Opcode
from wslib.handshake import Response, accept_key, check_response
from wslib.protocol import BinaryMessage, Closed, Connection, Side, State, TextMessage
from wslib.streams import StreamReader

from .conftest import run_parser

# --- close_exception: both close codes decide -----------------------------------------------------


def server_close(code: int | None, reason: str = "") -> bytes:
    payload = b"" if code is None else Close(code, reason).serialize()
    return Frame(Opcode.CLOSE, payload).serialize(mask=False)


def closed_client(sent: int | None, received: int | None) -> Connection:
    """A client that sent a close frame with ``sent``, then got ``received`` back and EOF."""
    conn = Connection(Side.CLIENT)
    conn.send_close(sent)
    conn.data_to_send()
    conn.receive_data(server_close(received))
    conn.receive_eof()
    assert conn.state is State.CLOSED
    return conn


OK = (1000, 1001, None)  # None: a close frame without a code (1005)


@pytest.mark.parametrize("sent", OK)
@pytest.mark.parametrize("received", OK)
def test_both_sides_closing_normally_is_ok(sent: int | None, received: int | None) -> None:
    exc = closed_client(sent, received).close_exception()
    assert type(exc) is ConnectionClosedOK
    assert exc.code == (1005 if received is None else received)


@pytest.mark.parametrize("sent", [1011, 3000, 4000])
@pytest.mark.parametrize("received", OK)
def test_our_own_error_code_makes_it_an_error(sent: int, received: int | None) -> None:
    """The peer answered 1000 (or 1001, or nothing), but *we* closed with an error code: the
    application must see an error, although the code it reads is the peer's."""
    exc = closed_client(sent, received).close_exception()
    assert type(exc) is ConnectionClosedError
    assert exc.code == (1005 if received is None else received)


@pytest.mark.parametrize("received", [1002, 1003, 1007, 1008, 1009, 1011, 4000])
def test_the_peers_error_code_makes_it_an_error(received: int) -> None:
    exc = closed_client(1000, received).close_exception()
    assert type(exc) is ConnectionClosedError
    assert exc.code == received


def test_our_protocol_error_close_is_an_error_even_if_the_peer_answers_1000() -> None:
    """A server that masks its frames: we fail the connection with 1002 (§5.1); its polite
    1000 afterwards does not make the ending normal."""
    conn = Connection(Side.CLIENT)
    conn.receive_data(Frame(Opcode.TEXT, b"hi").serialize(mask=True, mask_key=b"\x01\x02\x03\x04"))
    assert conn.close_sent is not None and conn.close_sent.code == 1002
    conn.receive_data(server_close(1000))
    conn.receive_eof()
    assert type(conn.close_exception()) is ConnectionClosedError


def test_no_close_frame_received_is_1006_and_an_error() -> None:
    conn = Connection(Side.CLIENT)
    conn.send_close(1000)
    conn.receive_eof()
    exc = conn.close_exception()
    assert type(exc) is ConnectionClosedError
    assert exc.code == 1006


# --- two Upgrade fields in a 101 ------------------------------------------------------------------

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3


def response_101(*upgrades: str) -> Response:
    head = "HTTP/1.1 101 Switching Protocols\r\n"
    head += "".join(f"Upgrade: {value}\r\n" for value in upgrades)
    head += f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept_key(KEY)}\r\n\r\n"
    return Response.from_bytes(head.encode())


def test_a_single_upgrade_websocket_passes() -> None:
    assert check_response(response_101("websocket"), KEY) is None


@pytest.mark.parametrize(
    "upgrades",
    [("websocket", "websocket"), ("websocket", "h2c"), ("h2c", "websocket"), ("WebSocket", "")],
)
def test_two_upgrade_fields_fail_the_handshake(upgrades: tuple[str, str]) -> None:
    """RFC 9110 §5.3: several fields of one name mean their values joined by commas, so two
    Upgrade fields read "websocket, websocket", which is not "an ASCII case-insensitive match
    for the value websocket" (RFC 6455 §4.1): the client MUST _Fail the WebSocket Connection_."""
    with pytest.raises(InvalidResponse, match="Upgrade"):
        check_response(response_101(*upgrades), KEY)


# --- str(Frame) escapes control characters --------------------------------------------------------

CONTROL = "\x1b[31m\r\n\x00\x07\x7f\x85"  # ANSI colour, CR LF, NUL, BEL, DEL, C1 NEL


def printable(text: str) -> bool:
    return all(ch.isprintable() or ch == " " for ch in text)


@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.PONG])
def test_str_of_a_data_or_ping_frame_escapes_control_characters(opcode: Opcode) -> None:
    text = str(Frame(opcode, f"a{CONTROL}b".encode()))
    assert printable(text), repr(text)


def test_str_of_a_close_frame_escapes_the_reason() -> None:
    # a peer's reason can carry CR LF or ANSI escapes: they must not reach a log line raw
    text = str(Frame(Opcode.CLOSE, Close(1000, f"bye{CONTROL}").serialize()))
    assert printable(text), repr(text)
    assert printable(str(Close(1000, f"bye{CONTROL}")))
    assert str(Close(1000, "bye")) == "1000 (normal closure) bye"  # printable reasons unchanged


# --- lengths at the boundaries of the three encodings, and empty payloads -------------------------

# length -> the header bytes after the first one, for an unmasked frame (RFC 6455 §5.2)
LENGTH_FIELDS = {
    0: bytes([0]),
    1: bytes([1]),
    125: bytes([125]),  # the largest 7-bit length
    126: bytes([126]) + struct.pack("!H", 126),  # the smallest 16-bit length
    65535: bytes([126]) + struct.pack("!H", 65535),  # the largest 16-bit length
    65536: bytes([127]) + struct.pack("!Q", 65536),  # the smallest 64-bit length
}


def parse_one(data: bytes, *, mask: bool) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    frame = run_parser(Frame.parse(reader.read_exact, mask=mask, max_size=None))
    reader.feed_eof()
    assert run_parser(reader.at_eof()), "bytes left after the frame"
    return frame


@pytest.mark.parametrize("length", sorted(LENGTH_FIELDS))
def test_length_encoding_at_each_boundary(length: int) -> None:
    frame = Frame(Opcode.BINARY, b"\xab" * length)
    wire = frame.serialize(mask=False)
    assert wire[:1] == b"\x82"
    header = wire[1 : 1 + len(LENGTH_FIELDS[length])]
    assert header == LENGTH_FIELDS[length]
    assert len(wire) == 1 + len(header) + length
    assert parse_one(wire, mask=False) == frame
    masked = frame.serialize(mask=True, mask_key=b"\x00\xff\x0f\xf0")
    assert masked[1] == LENGTH_FIELDS[length][0] | 0x80  # the MASK bit, then the same length
    assert len(masked) == len(wire) + 4
    assert parse_one(masked, mask=True) == frame


@given(length=st.integers(0, 70_000), opcode=st.sampled_from([Opcode.TEXT, Opcode.BINARY]))
@example(length=0, opcode=Opcode.TEXT)
@example(length=125, opcode=Opcode.BINARY)
@example(length=126, opcode=Opcode.BINARY)
@example(length=65535, opcode=Opcode.TEXT)
@example(length=65536, opcode=Opcode.BINARY)
def test_any_length_round_trips_masked(length: int, opcode: Opcode) -> None:
    frame = Frame(opcode, b"a" * length)
    wire = frame.serialize(mask=True, mask_key=b"\x12\x34\x56\x78")
    extra = 0 if length <= 125 else 2 if length <= 65535 else 8
    assert len(wire) == 2 + extra + 4 + length  # the shortest length form, always
    assert parse_one(wire, mask=True) == frame


@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.PONG])
def test_empty_payload_frames(opcode: Opcode) -> None:
    frame = Frame(opcode, b"")
    assert frame.serialize(mask=False) == bytes([0x80 | opcode, 0])
    assert parse_one(frame.serialize(mask=False), mask=False) == frame
    assert str(frame).endswith("len=0 ''")


def test_empty_messages_and_an_empty_close_through_a_connection() -> None:
    conn = Connection(Side.CLIENT)
    conn.receive_data(
        Frame(Opcode.TEXT, b"").serialize(mask=False)
        + Frame(Opcode.BINARY, b"").serialize(mask=False)
        + Frame(Opcode.TEXT, b"", fin=False).serialize(mask=False)
        + Frame(Opcode.CONT, b"").serialize(mask=False)
        + Frame(Opcode.CLOSE, b"").serialize(mask=False)
    )
    events = conn.events_received()
    assert events[:3] == [TextMessage(""), BinaryMessage(b""), TextMessage("")]
    # an empty close frame has no code: the application sees 1005, and we answer with none
    (sent,) = [data for data in conn.data_to_send() if data]
    assert sent[0] == 0x88 and sent[1] & 0x7F == 0
    conn.receive_eof()
    assert any(isinstance(event, Closed) for event in conn.events_received() + events)
    assert conn.close_exception().code == 1005
