"""wslib.protocol: the sans-I/O connection. Bytes in, events and bytes out; no sockets.

Inputs are written byte by byte with ``wire()`` (the RFC 6455 §5.2 layout, broken on purpose where
a test needs it) or taken from the RFC's own §5.7 examples. What a connection sends is decoded with
the ``websockets`` library's frame parser, an implementation independent of ours. The last part
connects our connection to the ``websockets`` and ``wsproto`` sans-I/O connections, real peers.
"""

from __future__ import annotations

import itertools
import struct
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest
import websockets.frames as ws_frames
import websockets.protocol as ws_protocol
import websockets.streams as ws_streams
import wsproto
import wsproto.connection
import wsproto.events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wslib import (
    BinaryMessage,
    Closed,
    CloseReceived,
    Connection,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidState,
    Ping,
    Pong,
    Side,
    State,
    TextMessage,
)
from wslib.protocol import SEND_EOF

# RFC 6455 §5.7 uses this masking key in its masked examples.
MASK = bytes.fromhex("37fa213d")

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def wire(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """One frame as it travels, laid out like the RFC 6455 §5.2 diagram.

    ``rsv`` sets the three reserved bits (0b100 is RSV1); ``length`` announces another payload
    length than the real one. Test input only: it builds broken frames on purpose.
    """
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload) if length is None else length
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        header = bytes([first, mask_bit | n])
    elif n < 2**16:
        header = bytes([first, mask_bit | 126]) + struct.pack("!H", n)
    else:
        header = bytes([first, mask_bit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return header + payload
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def from_client(opcode: int, payload: bytes = b"", **kwargs: Any) -> bytes:
    """A frame as a client sends it: masked (RFC 6455 §5.1)."""
    return wire(opcode, payload, mask=MASK, **kwargs)


def from_server(opcode: int, payload: bytes = b"", **kwargs: Any) -> bytes:
    """A frame as a server sends it: unmasked (RFC 6455 §5.1)."""
    return wire(opcode, payload, **kwargs)


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


def server(**kwargs: Any) -> Connection:
    return Connection(Side.SERVER, **kwargs)


def client(**kwargs: Any) -> Connection:
    kwargs.setdefault("mask_key_generator", lambda: MASK)
    return Connection(Side.CLIENT, **kwargs)


EOF = "EOF"
Sent = tuple[str, bytes, bool] | str


def decode(chunks: list[bytes], *, masked: bool) -> list[Sent]:
    """Decode bytes that a connection sent with the websockets library's frame parser.

    Each frame becomes ``(opcode name, payload, fin)``; the end of the stream (b"") becomes EOF.
    """
    out: list[Sent] = []
    for chunk in chunks:
        if chunk == b"":
            out.append(EOF)
            continue
        reader = ws_streams.StreamReader()
        reader.feed_data(chunk)
        reader.feed_eof()
        while reader.buffer:
            parser = ws_frames.Frame.parse(reader.read_exact, mask=masked)
            try:
                next(parser)
            except StopIteration as done:
                frame = done.value
            else:  # pragma: no cover - a test failure, not a branch
                raise AssertionError("a frame was cut short")
            out.append((frame.opcode.name, bytes(frame.data), frame.fin))
    return out


def sent(conn: Connection) -> list[Sent]:
    """What ``conn`` asks to send right now, decoded. A client's frames must be masked."""
    return decode(conn.data_to_send(), masked=conn.side is Side.CLIENT)


def close_sent(frames: list[Sent]) -> tuple[int, str]:
    """Code and reason of the close frame among ``frames`` (decoded by websockets)."""
    closes = [f for f in frames if isinstance(f, tuple) and f[0] == "CLOSE"]
    assert len(closes) == 1, frames
    close = ws_frames.Close.parse(closes[0][1])
    return int(close.code), close.reason


def test_a_connection_starts_open_after_the_handshake() -> None:
    # the opening handshake (CONNECTING) is done by the server and client before they build one
    for conn in (server(), client()):
        assert conn.state is State.OPEN
        assert not conn.close_expected()
        assert conn.events_received() == []
        assert conn.data_to_send() == []
    assert [s.name for s in State] == [
        "CONNECTING",
        "OPEN",
        "LOCAL_CLOSING",
        "REMOTE_CLOSING",
        "CLOSED",
    ]


def test_limits_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="max_size"):
        server(max_size=-1)
    with pytest.raises(ValueError, match="max_frame_size"):
        server(max_frame_size=-1)
    with pytest.raises(ValueError, match="max_fragments"):
        server(max_fragments=0)


# --- receiving the RFC 6455 §5.7 examples ---------------------------------------------------------


def test_rfc_single_frame_unmasked_text() -> None:
    conn = client()
    conn.receive_data(bytes.fromhex("810548656c6c6f"))
    assert conn.events_received() == [TextMessage("Hello")]
    assert conn.data_to_send() == []


def test_rfc_single_frame_masked_text() -> None:
    conn = server()
    conn.receive_data(bytes.fromhex("818537fa213d7f9f4d5158"))
    assert conn.events_received() == [TextMessage("Hello")]
    assert conn.data_to_send() == []


def test_rfc_fragmented_unmasked_text() -> None:
    conn = client()
    conn.receive_data(bytes.fromhex("010348656c"))
    assert conn.events_received() == []  # a message is delivered whole, never in pieces
    conn.receive_data(bytes.fromhex("80026c6f"))
    assert conn.events_received() == [TextMessage("Hello")]


def test_rfc_ping_and_masked_pong() -> None:
    # §5.7: "Unmasked Ping request and masked Ping response": the response is byte for byte the
    # RFC's, since the client draws the RFC's masking key.
    conn = client()
    conn.receive_data(bytes.fromhex("890548656c6c6f"))
    assert conn.events_received() == [Ping(b"Hello")]
    assert conn.data_to_send() == [bytes.fromhex("8a8537fa213d7f9f4d5158")]


@pytest.mark.parametrize(
    ("header", "size"),
    [("827e0100", 256), ("827f0000000000010000", 65536)],
    ids=["16-bit length", "64-bit length"],
)
def test_rfc_binary_with_extended_length(header: str, size: int) -> None:
    payload = bytes(range(256)) * (size // 256)
    conn = client()
    conn.receive_data(bytes.fromhex(header) + payload)
    assert conn.events_received() == [BinaryMessage(payload)]


# --- sending --------------------------------------------------------------------------------------


def test_server_sends_rfc_unmasked_text() -> None:
    conn = server()
    conn.send_text("Hello")
    assert conn.data_to_send() == [bytes.fromhex("810548656c6c6f")]


def test_client_sends_rfc_masked_text() -> None:
    conn = client()
    conn.send_text("Hello")
    assert conn.data_to_send() == [bytes.fromhex("818537fa213d7f9f4d5158")]


def test_server_sends_binary_with_16_bit_length() -> None:
    conn = server()
    conn.send_binary(bytes(256))
    assert conn.data_to_send() == [bytes.fromhex("827e0100") + bytes(256)]


def test_server_never_masks_client_always_masks() -> None:
    for conn in (server(), client()):
        conn.send_text("é")
        conn.send_binary(b"\x00\x01")
        conn.send_ping(b"p")
        conn.send_pong(b"q")
        conn.send_close(1000, "bye")
        chunks = conn.data_to_send()
        assert len(chunks) == 5
        for chunk in chunks:
            # §5.1: "a client MUST mask all frames that it sends to the server";
            # "A server MUST NOT mask any frames that it sends to the client".
            assert bool(chunk[1] & 0x80) is (conn.side is Side.CLIENT), chunk


def test_client_draws_a_fresh_mask_key_for_every_frame() -> None:
    keys = iter([b"\x01\x02\x03\x04", b"\xaa\xbb\xcc\xdd"])
    conn = client(mask_key_generator=lambda: next(keys))
    conn.send_binary(b"\x00" * 4)
    conn.send_binary(b"\x00" * 4)
    first, second = conn.data_to_send()
    # masking zeros reveals the key: §5.3 "MUST pick a fresh masking key" for each frame
    assert first[2:6] == first[6:10] == b"\x01\x02\x03\x04"
    assert second[2:6] == second[6:10] == b"\xaa\xbb\xcc\xdd"


def test_default_mask_keys_are_unpredictable() -> None:
    conn = Connection(Side.CLIENT)
    for _ in range(200):
        conn.send_binary(b"")
    keys = {chunk[2:6] for chunk in conn.data_to_send()}
    assert len(keys) > 190  # 200 draws from 2**32 values: a repeat is all but impossible


def test_echo_text_and_binary_server_side() -> None:
    conn = server()
    conn.receive_data(from_client(TEXT, "Grüße".encode()) + from_client(BINARY, b"\x00\xff"))
    events = conn.events_received()
    assert events == [TextMessage("Grüße"), BinaryMessage(b"\x00\xff")]
    for event in events:
        if isinstance(event, TextMessage):
            conn.send_text(event.data)
        elif isinstance(event, BinaryMessage):
            conn.send_binary(event.data)
    assert sent(conn) == [("TEXT", "Grüße".encode(), True), ("BINARY", b"\x00\xff", True)]


def test_send_a_fragmented_message_with_a_ping_in_between() -> None:
    conn = client()
    conn.send_text("Hel", fin=False)
    conn.send_ping(b"?")
    conn.send_continuation("lo", fin=True)
    assert sent(conn) == [("TEXT", b"Hel", False), ("PING", b"?", True), ("CONT", b"lo", True)]


def test_fragmented_sending_misuse_is_invalid_state() -> None:
    conn = server()
    with pytest.raises(InvalidState, match="no fragmented message"):
        conn.send_continuation(b"x", fin=True)
    conn.send_binary(b"a", fin=False)
    with pytest.raises(InvalidState, match="fragmented message"):
        conn.send_text("b")
    conn.send_continuation(b"b", fin=True)
    conn.send_text("c")  # the fragmented message is over
    assert [f[0] for f in sent(conn) if isinstance(f, tuple)] == ["BINARY", "CONT", "TEXT"]


def test_control_frame_payload_limit_on_sending() -> None:
    # sending a frame the RFC forbids is this program's mistake: InvalidState, nothing queued
    conn = server()
    conn.send_ping(b"x" * 125)
    conn.data_to_send()
    with pytest.raises(InvalidState, match="125"):
        conn.send_ping(b"x" * 126)
    with pytest.raises(InvalidState, match="125"):
        conn.send_pong(b"x" * 126)
    with pytest.raises(InvalidState, match="123"):
        conn.send_close(1000, "x" * 124)  # 2 bytes of code + 124 > 125
    with pytest.raises(InvalidState, match="needs a close code"):
        conn.send_close(None, "reason without code")
    assert conn.state is State.OPEN
    assert conn.data_to_send() == []


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_reserved_close_codes_are_never_sent(code: int) -> None:
    # §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame"
    conn = server()
    with pytest.raises(InvalidState, match=str(code)):
        conn.send_close(code)
    assert conn.state is State.OPEN
    assert conn.data_to_send() == []


def test_close_without_a_code_on_purpose() -> None:
    conn = server()
    conn.send_close(None)
    assert conn.data_to_send() == [b"\x88\x00"]
    assert conn.state is State.LOCAL_CLOSING


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_valid_close_codes_are_sent(code: int) -> None:
    conn = server()
    conn.send_close(code, "why")
    assert close_sent(sent(conn)) == (code, "why")


# --- ping and pong --------------------------------------------------------------------------------


def test_every_ping_is_answered_with_its_payload() -> None:
    conn = server()
    conn.receive_data(from_client(PING, b"1") + from_client(PING, b"") + from_client(PING, b"3"))
    assert conn.events_received() == [Ping(b"1"), Ping(b""), Ping(b"3")]
    # §5.5.3: the pong "must have identical Application data" as the ping
    assert sent(conn) == [("PONG", b"1", True), ("PONG", b"", True), ("PONG", b"3", True)]


def test_pong_latest_only_answers_the_last_of_pings_arriving_together() -> None:
    # §5.5.3: an endpoint "MAY elect to send a Pong frame for only the most recently processed
    # Ping frame" when it has not yet sent the pongs of earlier ones.
    conn = server(pong_latest_only=True)
    conn.receive_data(from_client(PING, b"1") + from_client(PING, b"2"))
    conn.receive_data(from_client(PING, b"3"))
    assert conn.events_received() == [Ping(b"1"), Ping(b"2"), Ping(b"3")]
    assert sent(conn) == [("PONG", b"3", True)]
    conn.receive_data(from_client(PING, b"4"))  # the earlier pong went out: this one is answered
    assert sent(conn) == [("PONG", b"4", True)]


def test_pong_latest_only_keeps_the_order_with_other_frames() -> None:
    conn = server(pong_latest_only=True)
    conn.receive_data(from_client(PING, b"1"))
    conn.send_text("after the first ping")
    conn.receive_data(from_client(PING, b"2"))
    assert sent(conn) == [("TEXT", b"after the first ping", True), ("PONG", b"2", True)]


def test_unsolicited_pong_is_an_event_and_nothing_else() -> None:
    conn = server()
    conn.receive_data(from_client(PONG, b"heartbeat"))
    assert conn.events_received() == [Pong(b"heartbeat")]
    assert conn.data_to_send() == []
    assert conn.state is State.OPEN


def test_pong_goes_out_between_fragments() -> None:
    conn = server()
    conn.receive_data(from_client(TEXT, b"Hel", fin=False))
    conn.receive_data(from_client(PING, b"!"))
    # the pong is ready before the message is complete: §5.4 control frames "MAY be injected in
    # the middle of a fragmented message", §5.5.2 answered "as soon as is practical"
    assert conn.events_received() == [Ping(b"!")]
    assert sent(conn) == [("PONG", b"!", True)]
    conn.receive_data(from_client(CONT, b"lo"))
    assert conn.events_received() == [TextMessage("Hello")]


def test_fragments_and_ping_in_one_chunk() -> None:
    conn = server()
    conn.receive_data(
        from_client(BINARY, b"\x01", fin=False)
        + from_client(PING, b"p")
        + from_client(CONT, b"\x02", fin=False)
        + from_client(CONT, b"\x03")
    )
    assert conn.events_received() == [Ping(b"p"), BinaryMessage(b"\x01\x02\x03")]
    assert sent(conn) == [("PONG", b"p", True)]


# --- the closing handshake (RFC 6455 §7) ----------------------------------------------------------


def test_server_initiates_close() -> None:
    conn = server()
    conn.send_close(1000, "bye")
    assert conn.data_to_send() == [b"\x88\x05\x03\xe8bye"]
    assert conn.state is State.LOCAL_CLOSING
    assert conn.close_expected()
    conn.receive_data(from_client(CLOSE, close_payload(1000, "bye")))
    assert conn.events_received() == [CloseReceived(1000, "bye")]
    # both close frames are through: §7.1.1 the server closes the TCP connection first
    assert conn.data_to_send() == [SEND_EOF]
    assert conn.state is State.LOCAL_CLOSING
    conn.receive_eof()
    assert conn.state is State.CLOSED
    assert conn.events_received() == [Closed(1000, "bye")]
    assert conn.data_to_send() == []
    assert not conn.close_expected()


def test_client_initiates_close_and_waits_for_the_server_to_end_tcp() -> None:
    conn = client()
    conn.send_close(1001, "")
    assert sent(conn) == [("CLOSE", b"\x03\xe9", True)]
    assert conn.state is State.LOCAL_CLOSING
    conn.receive_data(from_server(CLOSE, close_payload(1001)))
    assert conn.events_received() == [CloseReceived(1001, "")]
    # §5.5.1: "the client SHOULD wait for the server to close the connection"
    assert conn.data_to_send() == []
    assert conn.close_expected()  # the I/O layer starts its close timeout
    conn.receive_eof()
    assert conn.data_to_send() == [SEND_EOF]
    assert conn.events_received() == [Closed(1001, "")]
    assert conn.state is State.CLOSED


def test_server_answers_a_close_and_ends_tcp() -> None:
    conn = server()
    conn.receive_data(from_client(CLOSE, close_payload(1000, "done")))
    assert conn.events_received() == [CloseReceived(1000, "done")]
    # §5.5.1: "MUST send a Close frame in response"; "typically echos the status code"
    assert conn.data_to_send() == [b"\x88\x06\x03\xe8done", SEND_EOF]
    assert conn.state is State.REMOTE_CLOSING
    assert conn.close_expected()
    conn.receive_eof()
    assert conn.events_received() == [Closed(1000, "done")]
    assert conn.data_to_send() == []
    assert conn.state is State.CLOSED


def test_client_answers_a_close_and_waits() -> None:
    conn = client()
    conn.receive_data(from_server(CLOSE, close_payload(1001, "restart")))
    assert conn.events_received() == [CloseReceived(1001, "restart")]
    assert sent(conn) == [("CLOSE", close_payload(1001, "restart"), True)]
    assert conn.state is State.REMOTE_CLOSING
    conn.receive_eof()
    assert conn.data_to_send() == [SEND_EOF]
    assert conn.events_received() == [Closed(1001, "restart")]


def test_close_without_code_is_echoed_without_code() -> None:
    conn = server()
    conn.receive_data(from_client(CLOSE, b""))
    # §7.1.5: no status code received -> the application sees 1005 ...
    assert conn.events_received() == [CloseReceived(1005, "")]
    # ... which "MUST NOT be set as a status code in a Close control frame": the echo is empty
    assert conn.data_to_send() == [b"\x88\x00", SEND_EOF]
    conn.receive_eof()
    assert conn.events_received() == [Closed(1005, "")]


def test_simultaneous_close() -> None:
    a, b = client(), server()
    a.send_close(1000, "a")
    b.send_close(1001, "b")
    pump(a, b)
    assert a.state is b.state is State.CLOSED
    assert a.events_received() == [CloseReceived(1001, "b"), Closed(1001, "b")]
    assert b.events_received() == [CloseReceived(1000, "a"), Closed(1000, "a")]


def test_data_after_a_close_frame_is_discarded() -> None:
    conn = server()
    conn.receive_data(
        from_client(CLOSE, close_payload(1000)) + from_client(TEXT, b"late") + from_client(PING)
    )
    # §1.4: "after receiving a control frame indicating the connection should be closed, a peer
    # discards any further data received"; §5.5.2 no pong "if it already received a Close frame"
    assert conn.events_received() == [CloseReceived(1000, "")]
    assert conn.data_to_send() == [b"\x88\x02\x03\xe8", SEND_EOF]
    conn.receive_data(from_client(TEXT, b"later") + b"\xff\xff garbage")
    assert conn.events_received() == []
    assert conn.data_to_send() == []


def test_messages_and_pings_still_arrive_while_local_closing() -> None:
    conn = client()
    conn.send_close()
    conn.data_to_send()
    # the server sent these before it saw our close frame
    conn.receive_data(from_server(TEXT, b"in flight") + from_server(PING, b"p"))
    assert conn.events_received() == [TextMessage("in flight"), Ping(b"p")]
    assert sent(conn) == [("PONG", b"p", True)]  # a control frame: still allowed after our close


def test_close_in_the_middle_of_a_fragmented_message() -> None:
    conn = server()
    conn.receive_data(from_client(TEXT, b"unfinished", fin=False) + from_client(CLOSE))
    assert conn.events_received() == [CloseReceived(1005, "")]  # the unfinished message is lost
    assert conn.data_to_send() == [b"\x88\x00", SEND_EOF]


@pytest.mark.parametrize("code", [1012, 1013, 1014])
@pytest.mark.parametrize("side", [Side.CLIENT, Side.SERVER])
def test_iana_close_codes_1012_to_1014_are_received(code: int, side: Side) -> None:
    # IANA registered them after RFC 6455: service restart, try again later, bad gateway. A
    # server going down for a restart closes with 1012; the connection closes cleanly.
    conn = server() if side is Side.SERVER else client()
    frame = from_client if side is Side.SERVER else from_server
    conn.receive_data(frame(CLOSE, close_payload(code, "later")))
    assert conn.events_received() == [CloseReceived(code, "later")]
    assert conn.failure is None
    assert close_sent(sent(conn)) == (code, "later")  # echoed, not answered with 1002
    assert conn.state is State.REMOTE_CLOSING


def test_sending_after_close_is_invalid_state() -> None:
    conn = server()
    conn.send_close(1000)
    for send in (
        lambda: conn.send_text("x"),
        lambda: conn.send_binary(b"x"),
        lambda: conn.send_close(1000),
    ):
        with pytest.raises(InvalidState, match="local_closing"):
            send()
    conn.send_ping(b"still allowed: a control frame while waiting for the answer")
    conn.receive_data(from_client(CLOSE, close_payload(1000)))
    with pytest.raises(InvalidState, match="closing handshake is over"):
        conn.send_ping(b"")
    conn.receive_eof()
    with pytest.raises(InvalidState, match="closed"):
        conn.send_text("x")
    with pytest.raises(InvalidState, match="closed"):
        conn.send_pong(b"")


def test_sending_after_the_peer_closed_is_invalid_state() -> None:
    conn = client()
    conn.receive_data(from_server(CLOSE, close_payload(1000)))
    with pytest.raises(InvalidState, match="remote_closing"):
        conn.send_text("too late")
    with pytest.raises(InvalidState, match="remote_closing"):
        conn.send_close(1000)


def test_close_expected_follows_the_state() -> None:
    conn = server()
    assert conn.state is State.OPEN
    assert not conn.close_expected()
    conn.send_close(1000)
    assert conn.close_expected()
    conn.receive_eof()
    assert not conn.close_expected()


def test_close_exception() -> None:
    conn = server()
    with pytest.raises(InvalidState):
        conn.close_exception()  # still open: no code to report yet
    conn.receive_data(from_client(CLOSE, close_payload(1001, "bye")))
    exc = conn.close_exception()
    assert isinstance(exc, ConnectionClosedOK)
    assert (exc.code, exc.reason) == (1001, "bye")
    other = server()
    other.receive_eof()
    lost = other.close_exception()
    assert isinstance(lost, ConnectionClosedError)
    assert lost.code == 1006
    failed = server()
    failed.receive_data(wire(TEXT, b"unmasked"))
    failed.receive_eof()
    exc = failed.close_exception()
    assert isinstance(exc, ConnectionClosedError)
    assert exc.code == 1006  # no close frame came back: we stopped reading after failing
    assert exc.__cause__ is failed.failure
    assert "unmasked" in str(exc.__cause__)


# --- receive_eof: the TCP connection ended without a closing handshake ----------------------------


@pytest.mark.parametrize("make", [server, client])
def test_eof_in_the_middle_of_a_frame_is_1006(make: Callable[[], Connection]) -> None:
    conn = make()
    frame = wire(TEXT, b"Hello", mask=MASK if conn.side is Side.SERVER else None)
    conn.receive_data(frame[:4])
    conn.receive_eof()
    # §7.1.5: no close frame received -> 1006, reported to the application, never sent
    assert conn.events_received() == [Closed(1006, "")]
    assert conn.data_to_send() == [SEND_EOF]  # only "close the socket": no close frame
    assert conn.state is State.CLOSED


def test_eof_between_frames_is_1006() -> None:
    conn = server()
    conn.receive_data(from_client(TEXT, b"last words"))
    conn.receive_eof()
    assert conn.events_received() == [TextMessage("last words"), Closed(1006, "")]


def test_eof_while_waiting_for_the_close_answer_is_1006() -> None:
    conn = server()
    conn.send_close(1000)
    conn.data_to_send()
    conn.receive_eof()
    assert conn.events_received() == [Closed(1006, "")]
    assert conn.data_to_send() == [SEND_EOF]


def test_receive_eof_is_idempotent_and_data_after_it_is_ignored() -> None:
    conn = server()
    conn.receive_eof()
    conn.receive_eof()
    conn.receive_data(from_client(TEXT, b"ghost"))
    assert conn.events_received() == [Closed(1006, "")]
    assert conn.data_to_send() == [SEND_EOF]


# --- failing the connection (RFC 6455 §7.1.7): errors become close frames -------------------------


def assert_failed(conn: Connection, code: int) -> str:
    """``conn`` sent one close frame with ``code``, then ended TCP; returns the reason sent."""
    frames = sent(conn)
    assert frames[-1] == EOF, frames
    assert [f for f in frames if f == EOF] == [EOF]
    sent_code, reason = close_sent(frames)
    assert sent_code == code, (sent_code, reason)
    assert conn.state is State.LOCAL_CLOSING
    assert conn.failure is not None
    # §7.1.7: "An endpoint MUST NOT continue to attempt to process data (including a responding
    # Close frame) from the remote endpoint after being instructed to Fail the WebSocket Connection"
    conn.receive_data(from_client(PING) + from_client(CLOSE, close_payload(1000)))
    conn.receive_data(from_server(PING) + from_server(CLOSE, close_payload(1000)))
    assert conn.events_received() == []
    assert conn.data_to_send() == []
    conn.receive_eof()
    assert conn.events_received() == [Closed(1006, "")]
    assert conn.state is State.CLOSED
    return reason


BAD_FRAMES_FOR_A_SERVER = {
    # §5.1: "The server MUST close the connection upon receiving a frame that is not masked."
    "unmasked client frame": (wire(TEXT, b"Hello"), 1002),
    # §5.5: "All control frames ... MUST NOT be fragmented."
    "fragmented ping": (from_client(PING, b"p", fin=False), 1002),
    "fragmented close": (from_client(CLOSE, close_payload(1000), fin=False), 1002),
    # §5.5: "All control frames MUST have a payload length of 125 bytes or less"
    "ping of 126 bytes": (from_client(PING, bytes(126)), 1002),
    # §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail_"
    **{f"reserved opcode {op:#x}": (from_client(op, b"x"), 1002) for op in [3, 7, 0xB, 0xF]},
    # §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated"
    **{f"rsv bits {rsv:03b}": (from_client(TEXT, b"x", rsv=rsv), 1002) for rsv in [4, 2, 1, 7]},
    # §5.4: a continuation frame belongs to a message that was started
    "continuation without start": (from_client(CONT, b"x"), 1002),
    "new message inside a fragmented one": (
        from_client(TEXT, b"a", fin=False) + from_client(BINARY, b"b"),
        1002,
    ),
    # §5.5.1: a close body is empty or at least a 2-byte code; codes per §7.4
    "close with a 1-byte body": (from_client(CLOSE, b"\x03"), 1002),
    **{
        f"close with code {code}": (from_client(CLOSE, close_payload(code)), 1002)
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]
    },
    # §8.1: text "MUST _Fail the WebSocket Connection_" if it is not valid UTF-8
    "invalid UTF-8 text": (from_client(TEXT, b"caf\xc3"), 1007),
    "UTF-16 surrogate in text": (from_client(TEXT, b"\xed\xa0\x80"), 1007),
    "invalid UTF-8 close reason": (from_client(CLOSE, close_payload(1000) + b"\xff"), 1007),
    # §5.2: "the most significant bit MUST be 0" in the 64-bit length
    "64-bit length with the top bit set": (from_client(BINARY, length=2**63)[:14], 1002),
    # §10.4: "MUST protect themselves against exceeding those limits" (default 1 MiB)
    "2**63-1 byte header": (from_client(BINARY, length=2**63 - 1)[:14], 1009),
    "just over 1 MiB": (from_client(BINARY, length=2**20 + 1)[:14], 1009),
}


@pytest.mark.parametrize(
    ("data", "code"), BAD_FRAMES_FOR_A_SERVER.values(), ids=BAD_FRAMES_FOR_A_SERVER.keys()
)
def test_server_fails_on_bad_input(data: bytes, code: int) -> None:
    conn = server()
    conn.receive_data(data)
    assert conn.events_received() == []
    assert_failed(conn, code)


# What arrived before an error is delivered (RFC 6455 §7.1.7 stops the processing at the error,
# not before it): messages and pings in front of the bad frame, in one chunk, in several orders.
BEFORE_AN_ERROR = {
    "text then reserved opcode": (
        from_client(TEXT, b"hello") + from_client(3),
        [TextMessage("hello")],
        [],
        1002,
    ),
    "ping, binary, then unmasked frame": (
        from_client(PING, b"p") + from_client(BINARY, b"\x00") + wire(TEXT, b"x"),
        [Ping(b"p"), BinaryMessage(b"\x00")],
        [("PONG", b"p", True)],
        1002,
    ),
    "fragments and a ping, then invalid UTF-8": (
        from_client(TEXT, b"Hel", fin=False)
        + from_client(PING, b"p")
        + from_client(CONT, b"lo")
        + from_client(TEXT, b"\xff"),
        [Ping(b"p"), TextMessage("Hello")],
        [("PONG", b"p", True)],
        1007,
    ),
    "two messages, then too big": (
        from_client(TEXT, b"one") + from_client(TEXT, b"two") + from_client(BINARY, length=2**21),
        [TextMessage("one"), TextMessage("two")],
        [],
        1009,
    ),
    "message, then a continuation without start": (
        from_client(BINARY, b"b") + from_client(CONT, b"x"),
        [BinaryMessage(b"b")],
        [],
        1002,
    ),
    "message, then close code 5000": (
        from_client(TEXT, b"last words") + from_client(CLOSE, close_payload(5000)),
        [TextMessage("last words")],
        [],
        1002,
    ),
}


@pytest.mark.parametrize(
    ("data", "events", "pongs", "code"), BEFORE_AN_ERROR.values(), ids=BEFORE_AN_ERROR.keys()
)
def test_what_precedes_an_error_is_delivered(
    data: bytes, events: list[object], pongs: list[Sent], code: int
) -> None:
    conn = server()
    conn.receive_data(data)
    assert conn.events_received() == events
    frames = sent(conn)
    assert frames[: len(pongs)] == pongs  # pongs first, then the close frame and the end
    assert close_sent(frames)[0] == code


@pytest.mark.parametrize(
    ("data", "events", "pongs", "code"), BEFORE_AN_ERROR.values(), ids=BEFORE_AN_ERROR.keys()
)
def test_defer_failure_lets_the_application_answer_first(
    data: bytes, events: list[object], pongs: list[Sent], code: int
) -> None:
    # An echo server must echo the messages that came before a bad frame: with
    # defer_failure=True the close frame waits until the I/O layer calls fail_pending().
    conn = server(defer_failure=True)
    conn.receive_data(data)
    assert conn.events_received() == events
    assert conn.failure_pending
    assert conn.state is State.OPEN
    assert sent(conn) == pongs  # no close frame yet
    # nothing after the error is processed, even while the failure waits
    conn.receive_data(from_client(TEXT, b"after the error") + from_client(PING, b"late"))
    assert conn.events_received() == []
    for event in events:  # the application echoes what it got
        if isinstance(event, TextMessage):
            conn.send_text(event.data)
        elif isinstance(event, BinaryMessage):
            conn.send_binary(event.data)
    echoes = sent(conn)
    assert len(echoes) == sum(isinstance(e, (TextMessage, BinaryMessage)) for e in events)
    conn.fail_pending()
    assert not conn.failure_pending
    assert_failed(conn, code)


def test_defer_failure_when_nothing_went_wrong() -> None:
    conn = server(defer_failure=True)
    conn.receive_data(from_client(TEXT, b"fine"))
    assert not conn.failure_pending
    conn.fail_pending()  # nothing to do
    assert conn.state is State.OPEN
    assert conn.data_to_send() == []


def test_deferred_failure_still_goes_out_when_tcp_ends() -> None:
    conn = server(defer_failure=True)
    conn.receive_data(from_client(TEXT, b"hi") + from_client(3))
    assert conn.events_received() == [TextMessage("hi")]
    conn.receive_eof()
    assert conn.events_received() == [Closed(1006, "")]
    frames = sent(conn)
    assert close_sent(frames)[0] == 1002 and frames[-1] == EOF
    assert conn.failure is not None and conn.state is State.CLOSED


def test_deferred_failure_after_the_application_closed() -> None:
    # the application closed first (with its own code): no second close frame, only the end
    conn = server(defer_failure=True)
    conn.receive_data(from_client(TEXT, b"hi") + from_client(3))
    conn.send_close(1013, "busy")
    conn.fail_pending()
    frames = sent(conn)
    assert close_sent(frames) == (1013, "busy") and frames[-1] == EOF
    assert conn.failure is not None


def test_client_fails_on_a_masked_frame() -> None:
    # §5.1: "A client MUST close a connection if it detects a masked frame."
    conn = client()
    conn.receive_data(from_client(TEXT, b"masked"))
    assert conn.events_received() == []
    assert_failed(conn, 1002)


def test_huge_header_fails_at_once_without_waiting_for_the_payload() -> None:
    conn = server()
    header = from_client(BINARY, length=2**63 - 1)[:14]  # 2 + 8 bytes of length + 4 of mask
    conn.receive_data(header[:10])  # the length is known: no need to wait for anything else
    assert close_sent(sent(conn))[0] == 1009


def test_invalid_utf8_fails_on_the_first_bad_fragment() -> None:
    conn = server()
    conn.receive_data(from_client(TEXT, b"ok so far ", fin=False))
    assert conn.data_to_send() == []
    conn.receive_data(from_client(CONT, b"\xff", fin=False))  # no need to wait for the last part
    assert conn.events_received() == []
    assert_failed(conn, 1007)


@pytest.mark.parametrize("make", [server, client])
def test_invalid_utf8_fails_inside_a_frame_before_the_frame_is_whole(
    make: Callable[[], Connection],
) -> None:
    # A 1 MiB text frame whose first 10 bytes can never be UTF-8: fail at once with 1007, without
    # waiting for (or buffering) the other 1,048,566 bytes.
    conn = make()
    frame = from_client if conn.side is Side.SERVER else from_server
    payload = b"ok so far\xff" + bytes(2**20 - 10)
    data = frame(TEXT, payload)
    header = len(data) - len(payload)
    conn.receive_data(data[: header + 10])
    assert conn.events_received() == []
    reason = assert_failed(conn, 1007)
    assert "UTF-8" in reason


def test_invalid_utf8_fails_inside_a_continuation_frame() -> None:
    conn = server()
    conn.receive_data(from_client(TEXT, b"price: " + "€".encode()[:1], fin=False))
    data = from_client(CONT, "€".encode()[1:] + b"\xc0" + bytes(5000))
    conn.receive_data(data[:12])  # header (2 + 2 + 4 of mask), then 2 good bytes and a bad one
    assert conn.events_received() == []
    assert_failed(conn, 1007)


def test_valid_text_arriving_in_pieces_is_one_message() -> None:
    conn = server()
    text = "é€😀 " * 5000
    data = from_client(TEXT, text.encode(), fin=False) + from_client(CONT, text.encode())
    for i in range(0, len(data), 997):  # cuts inside characters, inside the header, anywhere
        conn.receive_data(data[i : i + 997])
    assert conn.events_received() == [TextMessage(text * 2)]
    assert conn.data_to_send() == []


def test_a_character_split_across_fragments_is_fine() -> None:
    conn = server()
    data = "é€😀".encode()
    conn.receive_data(
        b"".join(
            from_client(CONT if i else TEXT, data[i : i + 1], fin=i == len(data) - 1)
            for i in range(len(data))
        )
    )
    assert conn.events_received() == [TextMessage("é€😀")]


def test_message_size_limit_counts_every_fragment() -> None:
    conn = server(max_size=10)
    conn.receive_data(from_client(BINARY, bytes(10)))
    assert conn.events_received() == [BinaryMessage(bytes(10))]  # exactly the limit is fine
    conn.receive_data(from_client(BINARY, bytes(6), fin=False))
    conn.receive_data(from_client(CONT, bytes(4), fin=False))
    assert conn.data_to_send() == []
    conn.receive_data(from_client(CONT, bytes(1)))  # 11 bytes in all
    assert_failed(conn, 1009)


def test_message_size_limit_is_checked_from_the_frame_header() -> None:
    conn = server(max_size=1000)
    conn.receive_data(from_client(BINARY, bytes(600), fin=False))
    conn.receive_data(from_client(CONT, bytes(401))[:4])  # only the header: 2 + 2 length bytes
    assert close_sent(sent(conn))[0] == 1009


def test_a_small_limit_still_lets_pings_through() -> None:
    # control frames carry up to 125 bytes whatever the message limit (they are not messages)
    conn = server(max_size=4)
    conn.receive_data(from_client(BINARY, b"abc", fin=False) + from_client(PING, bytes(125)))
    conn.receive_data(from_client(CONT, b"d"))
    assert conn.events_received() == [Ping(bytes(125)), BinaryMessage(b"abcd")]
    conn.receive_data(from_client(BINARY, bytes(5)))
    assert_failed(conn, 1009)


def empty_continuations(count: int) -> bytes:
    return from_client(CONT, b"", fin=False) * count


def test_fragment_count_is_bounded() -> None:
    # Empty continuation frames cost no max_size bytes: a message in progress is bounded in
    # frames too (default MAX_FRAGMENTS), and going over fails with 1009 like going over max_size.
    conn = server(max_fragments=5)
    conn.receive_data(from_client(BINARY, b"", fin=False) + empty_continuations(3))
    conn.receive_data(from_client(CONT, b"end"))
    assert conn.events_received() == [BinaryMessage(b"end")]  # 5 frames: fine
    conn.receive_data(from_client(BINARY, b"", fin=False) + empty_continuations(4))
    assert conn.data_to_send() == []  # 5 frames and the message still in progress: fine
    conn.receive_data(from_client(CONT, b"", fin=False))  # the 6th
    assert conn.events_received() == []
    reason = assert_failed(conn, 1009)
    assert "frames" in reason


@pytest.mark.parametrize("opcode", [BINARY, TEXT])
def test_endless_empty_continuations_keep_memory_flat(opcode: int) -> None:
    # The attack: BINARY fin=0, then empty continuations forever. 200,000 of them, fed in
    # chunks as a socket would: the connection fails with 1009 and memory stays flat.
    conn = server()
    chunk = empty_continuations(1000)
    tracemalloc.start()
    try:
        conn.receive_data(from_client(opcode, b"", fin=False))
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            conn.receive_data(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 256 * 1024, peak - before  # a list entry per frame would be 1.6 MB
    assert conn.events_received() == []
    assert_failed(conn, 1009)


def test_max_fragments_none_still_keeps_memory_flat() -> None:
    conn = server(max_fragments=None)
    conn.receive_data(from_client(TEXT, b"", fin=False))
    chunk = empty_continuations(1000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # 60,000 empty fragments: a list entry per fragment (8 bytes a pointer, and more for
        # the list's growth) would pass 480 KB; what stays is the parser's working memory
        for _ in range(60):
            conn.receive_data(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 256 * 1024, peak - before
    conn.receive_data(from_client(CONT, b"done"))
    assert conn.events_received() == [TextMessage("done")]


def test_client_bounds_fragments_too() -> None:
    conn = client(max_fragments=10)
    conn.receive_data(from_server(BINARY, b"", fin=False) + from_server(CONT, b"", fin=False) * 20)
    assert close_sent(sent(conn))[0] == 1009


def test_frame_size_limit() -> None:
    conn = server(max_size=100, max_frame_size=10)
    conn.receive_data(from_client(TEXT, b"x" * 10, fin=False) + from_client(CONT, b"y" * 10))
    assert conn.events_received() == [TextMessage("x" * 10 + "y" * 10)]
    conn.receive_data(from_client(BINARY, bytes(11)))
    assert_failed(conn, 1009)


def test_no_limit() -> None:
    conn = server(max_size=None)
    conn.receive_data(from_client(BINARY, bytes(2**20 + 1)))
    assert conn.events_received() == [BinaryMessage(bytes(2**20 + 1))]


def test_unexpected_error_is_1011_without_details() -> None:
    def trace(direction: str, frame: object) -> None:
        if direction == "<":  # a bug somewhere while handling an incoming frame
            raise RuntimeError("secret internal detail")

    conn = server(trace=trace)
    conn.receive_data(from_client(TEXT, b"boom"))
    reason = assert_failed(conn, 1011)
    # §7.4.1 1011: "an unexpected condition that prevented it from fulfilling the request"
    assert "secret" not in reason
    assert isinstance(conn.failure, RuntimeError)  # the I/O layer can log it


def test_protocol_error_reason_fits_in_a_close_frame() -> None:
    conn = server()
    conn.receive_data(from_client(TEXT, b"\xff" * 1000))
    reason = assert_failed(conn, 1007)
    assert len(reason.encode()) <= 123


def test_failure_after_sending_close_does_not_send_a_second_close() -> None:
    conn = server()
    conn.send_close(1000)
    conn.data_to_send()
    conn.receive_data(wire(TEXT, b"unmasked"))
    assert conn.data_to_send() == [SEND_EOF]  # §5.5.1: only one close frame per connection


def test_trace_sees_every_frame_in_and_out() -> None:
    seen: list[tuple[str, int]] = []
    conn = server(trace=lambda direction, frame: seen.append((direction, int(frame.opcode))))
    conn.receive_data(from_client(PING, b"x") + from_client(TEXT, b"hi"))
    conn.send_close(1000)
    assert seen == [("<", PING), (">", PONG), ("<", TEXT), (">", CLOSE)]


# --- any chunking gives the same result -----------------------------------------------------------


Item = tuple[str, bytes | str, int]  # kind, payload, number of fragments


@st.composite
def conversations(draw: st.DrawFn) -> list[Item]:
    item = st.one_of(
        st.tuples(st.just("text"), st.text(max_size=300), st.integers(1, 4)),
        st.tuples(st.just("binary"), st.binary(max_size=300), st.integers(1, 4)),
        st.tuples(st.just("ping"), st.binary(max_size=125), st.just(1)),
        st.tuples(st.just("pong"), st.binary(max_size=125), st.just(1)),
    )
    return draw(st.lists(item, max_size=8))


def split(payload: Any, parts: int) -> list[Any]:
    """Cut a str or bytes payload into about ``parts`` pieces (at least one, maybe empty)."""
    cut = max(1, len(payload) // parts)
    return [payload[i : i + cut] for i in range(0, len(payload), cut)] or [payload[:0]]


def encode_conversation(items: list[Item], masks: Iterator[bytes]) -> tuple[bytes, list[object]]:
    """What a client sends for ``items``, and the events a server should report."""
    data = b""
    expected: list[object] = []
    for kind, payload, parts in items:
        if kind in ("ping", "pong"):
            assert isinstance(payload, bytes)
            data += wire(PING if kind == "ping" else PONG, payload, mask=next(masks))
            expected.append(Ping(payload) if kind == "ping" else Pong(payload))
            continue
        # cut the bytes anywhere, even inside a UTF-8 character
        pieces = split(payload.encode() if isinstance(payload, str) else payload, parts)
        for i, piece in enumerate(pieces):
            first = TEXT if kind == "text" else BINARY
            data += wire(
                first if i == 0 else CONT, piece, fin=i == len(pieces) - 1, mask=next(masks)
            )
        expected.append(
            TextMessage(payload) if isinstance(payload, str) else BinaryMessage(payload)
        )
    return data, expected


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets: how TCP might deliver it."""
    bounds = [0, *sorted({min(c, len(data)) for c in cuts}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    conversations(), st.lists(st.integers(0, 3000), max_size=20), st.binary(min_size=4, max_size=4)
)
def test_any_chunking_gives_the_same_events(
    items: list[Item], cuts: list[int], mask: bytes
) -> None:
    data, expected = encode_conversation(items, itertools.repeat(mask))
    whole = server()
    whole.receive_data(data)
    pieces = server()
    for chunk in chunked(data, cuts):
        pieces.receive_data(chunk)
    assert whole.events_received() == expected
    assert pieces.events_received() == expected
    pongs = [("PONG", i[1], True) for i in items if i[0] == "ping"]
    assert sent(whole) == pongs
    assert sent(pieces) == pongs


def test_one_byte_at_a_time() -> None:
    data, expected = encode_conversation(
        [("text", "héllo", 3), ("ping", b"p", 1), ("binary", bytes(300), 2)], itertools.repeat(MASK)
    )
    conn = server()
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1])
    assert conn.events_received() == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_and_never_send_reserved_codes(data: bytes) -> None:
    for conn in (server(), client()):
        conn.receive_data(data)
        conn.receive_eof()
        frames = sent(conn)
        for frame in frames:
            if isinstance(frame, tuple) and frame[0] == "CLOSE" and frame[1]:
                code = struct.unpack("!H", frame[1][:2])[0]
                assert code not in (1005, 1006, 1015)
        assert frames[-1] == EOF
        assert conn.state is State.CLOSED
        closed = conn.events_received()[-1]
        assert isinstance(closed, Closed)


# --- two of ours talking, and real peers: websockets and wsproto ----------------------------------


class Endpoint(Protocol):
    """What our Connection and the websockets library's Protocol have in common."""

    def receive_data(self, data: bytes) -> None: ...
    def receive_eof(self) -> None: ...
    def data_to_send(self) -> list[bytes]: ...


def pump(a: Endpoint, b: Endpoint, eofs: list[str] | None = None) -> None:
    """Carry bytes both ways between two sans-I/O endpoints until neither has anything to send.

    ``eofs`` records who ended the TCP stream first ("a" or "b").
    """
    moved = True
    while moved:
        moved = False
        for name, src, dst in (("a", a, b), ("b", b, a)):
            for chunk in src.data_to_send():
                moved = True
                if chunk == b"":
                    if eofs is not None:
                        eofs.append(name)
                    dst.receive_eof()
                else:
                    dst.receive_data(chunk)


@pytest.mark.parametrize("initiator", ["client", "server"])
def test_two_of_ours_close_cleanly_and_the_server_ends_tcp_first(initiator: str) -> None:
    a, b = Connection(Side.CLIENT), Connection(Side.SERVER)
    a.send_text("hello")
    b.send_binary(b"\x00")
    (a if initiator == "client" else b).send_close(1000, "done")
    eofs: list[str] = []
    pump(a, b, eofs)
    assert eofs == ["b", "a"]  # the server first, then the client answers the EOF
    assert a.state is b.state is State.CLOSED
    assert a.events_received() == [
        BinaryMessage(b"\x00"),
        CloseReceived(1000, "done"),
        Closed(1000, "done"),
    ]
    assert b.events_received() == [
        TextMessage("hello"),
        CloseReceived(1000, "done"),
        Closed(1000, "done"),
    ]


def ws_peer(side: Side) -> ws_protocol.Protocol:
    """The websockets library's sans-I/O connection, already OPEN (no handshake needed here)."""
    ws_side = ws_protocol.Side.SERVER if side is Side.SERVER else ws_protocol.Side.CLIENT
    return ws_protocol.Protocol(ws_side, state=ws_protocol.State.OPEN, max_size=None)


def ws_messages(peer: ws_protocol.Protocol) -> list[object]:
    """The websockets connection's frames, assembled into our event types for comparison."""
    events: list[object] = []
    parts: list[bytes] = []
    kind = ""
    for frame in peer.events_received():
        name = frame.opcode.name
        if name in ("TEXT", "BINARY"):
            kind, parts = name, []
        if name in ("TEXT", "BINARY", "CONT"):
            parts.append(bytes(frame.data))
            if frame.fin:
                raw = b"".join(parts)
                events.append(TextMessage(raw.decode()) if kind == "TEXT" else BinaryMessage(raw))
        elif name == "PING":
            events.append(Ping(bytes(frame.data)))
        elif name == "PONG":
            events.append(Pong(bytes(frame.data)))
        elif name == "CLOSE":
            close = ws_frames.Close.parse(frame.data)
            events.append(CloseReceived(int(close.code), close.reason))
    return events


def send_items(conn: Any, items: list[Item]) -> None:
    """Send ``items`` with either library's send methods (same names), fragmenting as told.

    Our ``send_text`` takes a str, so text is cut between characters; the websockets library's
    takes UTF-8 bytes, so callers give it bytes, cut anywhere, even inside a character.
    """
    for kind, payload, parts in items:
        if kind == "ping":
            conn.send_ping(payload)
        elif kind == "pong":
            conn.send_pong(payload)
        else:
            pieces = split(payload, parts)
            for i, piece in enumerate(pieces):
                fin = i == len(pieces) - 1
                if i > 0:
                    conn.send_continuation(piece, fin=fin)
                elif kind == "text":
                    conn.send_text(piece, fin=fin)
                else:
                    conn.send_binary(piece, fin=fin)


def expected_events(items: list[Item]) -> list[object]:
    return [
        Ping(p)
        if k == "ping"
        else Pong(p)
        if k == "pong"
        else TextMessage(p)
        if isinstance(p, str)
        else BinaryMessage(p)
        for k, p, _ in items
    ]


@settings(max_examples=100, deadline=None)
@given(conversations())
def test_our_client_to_a_websockets_server(items: list[Item]) -> None:
    ours, theirs = Connection(Side.CLIENT), ws_peer(Side.SERVER)
    send_items(ours, items)
    ours.send_close(1000, "the end")
    pump(ours, theirs)
    assert ws_messages(theirs) == [*expected_events(items), CloseReceived(1000, "the end")]
    # websockets answered each ping and our close; we saw its pongs and its close frame
    pongs = [Pong(p) for k, p, _ in items if k == "ping"]
    assert ours.events_received() == [
        *pongs,
        CloseReceived(1000, "the end"),
        Closed(1000, "the end"),
    ]
    assert ours.state is State.CLOSED
    assert theirs.state is ws_protocol.State.CLOSED


@settings(max_examples=100, deadline=None)
@given(conversations())
def test_a_websockets_client_to_our_server(items: list[Item]) -> None:
    theirs, ours = ws_peer(Side.CLIENT), Connection(Side.SERVER)
    send_items(theirs, [(k, p.encode() if isinstance(p, str) else p, n) for k, p, n in items])
    theirs.send_close(1001, "bye")
    eofs: list[str] = []
    pump(theirs, ours, eofs)
    assert ours.events_received() == [
        *expected_events(items),
        CloseReceived(1001, "bye"),
        Closed(1001, "bye"),
    ]
    pongs = [Pong(p) for k, p, _ in items if k == "ping"]
    assert ws_messages(theirs) == [*pongs, CloseReceived(1001, "bye")]
    assert eofs == ["b", "a"]  # our server ended TCP first, as §7.1.1 asks
    assert theirs.state is ws_protocol.State.CLOSED


def test_websockets_server_sees_our_failure_code() -> None:
    theirs, ours = ws_peer(Side.SERVER), Connection(Side.CLIENT)
    theirs.send_text("é".encode()[:1])  # half a character: not UTF-8
    pump(theirs, ours)
    assert ours.close_received is None
    assert ws_messages(theirs) == [
        CloseReceived(1007, ours.close_sent.reason if ours.close_sent else "")
    ]
    assert theirs.close_code == 1007


def test_our_server_with_a_wsproto_client() -> None:
    theirs = wsproto.connection.Connection(wsproto.connection.ConnectionType.CLIENT)
    ours = Connection(Side.SERVER)
    ours.receive_data(
        theirs.send(wsproto.events.TextMessage("hi", message_finished=False))
        + theirs.send(wsproto.events.Ping(b"ping"))
        + theirs.send(wsproto.events.TextMessage(" there"))
        + theirs.send(wsproto.events.BytesMessage(b"\x00" * 70000))
        + theirs.send(wsproto.events.CloseConnection(1000, "ok"))
    )
    assert ours.events_received() == [
        Ping(b"ping"),
        TextMessage("hi there"),
        BinaryMessage(b"\x00" * 70000),
        CloseReceived(1000, "ok"),
    ]
    reply = ours.data_to_send()
    assert reply[-1] == SEND_EOF
    theirs.receive_data(b"".join(reply[:-1]))
    events = list(theirs.events())
    assert events[0] == wsproto.events.Pong(b"ping")
    assert events[1] == wsproto.events.CloseConnection(1000, "ok")


def test_our_client_with_a_wsproto_server() -> None:
    theirs = wsproto.connection.Connection(wsproto.connection.ConnectionType.SERVER)
    ours = Connection(Side.CLIENT)
    ours.send_binary(b"\x01\x02")
    ours.send_text("Grüße", fin=False)
    ours.send_continuation("!", fin=True)
    ours.send_close(1000)
    theirs.receive_data(b"".join(ours.data_to_send()))
    events = list(theirs.events())
    assert events[0] == wsproto.events.BytesMessage(b"\x01\x02", True, True)
    text = "".join(e.data for e in events if isinstance(e, wsproto.events.TextMessage))
    assert text == "Grüße!"
    assert isinstance(events[-1], wsproto.events.CloseConnection)
    assert events[-1].code == 1000
    ours.receive_data(theirs.send(events[-1].response()))
    ours.receive_eof()
    assert ours.events_received() == [CloseReceived(1000, ""), Closed(1000, "")]


# --- failing for a reason of the I/O layer (a rate limit, a keepalive timeout) -------------------


def test_fail_sends_one_close_frame_then_ends_tcp_like_a_bad_frame() -> None:
    from wslib.exceptions import ConnectionFailed

    conn = server()
    conn.fail(1008, "too many messages per second")
    reason = b"too many messages per second"
    assert conn.data_to_send() == [b"\x88" + bytes([2 + len(reason)]) + b"\x03\xf0" + reason,
                                   SEND_EOF]  # fmt: skip
    assert conn.state is State.LOCAL_CLOSING
    assert isinstance(conn.failure, ConnectionFailed) and conn.failure.close_code == 1008
    conn.fail(1011, "again")  # a close frame went out already, and the end of TCP: nothing more
    assert conn.data_to_send() == []
    conn.receive_data(from_client(TEXT, b"late"))  # what the peer still sends is dropped
    assert not [e for e in conn.events_received() if isinstance(e, TextMessage)]
