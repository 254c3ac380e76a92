"""Hostile peers against the real server and client, over real sockets on 127.0.0.1.

The sans-I/O tests (``tests/test_protocol.py``) prove each defence on the Connection; these prove
that ``wslib.serve`` and ``wslib.connect`` use it: a flood of empty continuation frames (issue 10,
defect 4), a text frame whose UTF-8 breaks in its first bytes, and the IANA close codes 1012-1014.
Every socket has a timeout and every server is closed.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

import wslib
from wslib import ConnectionClosed, Frame, Opcode, StreamReader

TIMEOUT = 10.0  # an upper bound ("does not hang"), never a speed requirement
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example key
MASK_KEY = bytes.fromhex("37fa213d")


def echo(conn: wslib.ServerConnection) -> None:
    for message in conn:
        conn.send(message)


@pytest.fixture
def echo_server() -> Iterator[wslib.Server]:
    server = wslib.serve(echo, ping_interval=None, close_timeout=2.0)
    try:
        yield server
    finally:
        server.close()


def read_frames_until_eof(sock: socket.socket, data: bytes = b"") -> list[Frame]:
    """Read until the server ends TCP; the server's frames (unmasked) that arrived."""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False, max_size=None)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
    return frames


def open_raw(port: int) -> tuple[socket.socket, bytes]:
    """A raw TCP client that did the opening handshake; returns the bytes after the 101."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(
        (
            "GET / HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the server ended TCP during the handshake"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, rest


def masked(opcode: Opcode, payload: bytes = b"", fin: bool = True) -> bytes:
    return Frame(opcode, payload, fin).serialize(mask=True, mask_key=MASK_KEY)


def close_code(frames: list[Frame]) -> int:
    closes = [f for f in frames if f.opcode is Opcode.CLOSE]
    assert len(closes) == 1, frames
    code: int = struct.unpack("!H", closes[0].payload[:2])[0]
    return code


def send_until_refused(sock: socket.socket, chunk: bytes, times: int) -> None:
    """Send ``chunk`` up to ``times`` times; stop quietly once the server closed on us."""
    try:
        for _ in range(times):
            sock.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.shutdown(socket.SHUT_WR)


def test_server_fails_a_flood_of_empty_continuations_with_1009(echo_server: wslib.Server) -> None:
    sock, rest = open_raw(echo_server.port)
    with sock:
        sock.sendall(masked(Opcode.BINARY, b"", fin=False))
        # 200,000 empty continuation frames, 6 bytes each: no max_size byte among them
        send_until_refused(sock, masked(Opcode.CONT, b"", fin=False) * 1000, 200)
        frames = read_frames_until_eof(sock, rest)
    assert close_code(frames) == 1009
    # ... and the server keeps serving
    with wslib.connect(f"ws://127.0.0.1:{echo_server.port}/", timeout=TIMEOUT) as conn:
        conn.send("still here")
        assert conn.recv(timeout=TIMEOUT) == "still here"


def test_server_fails_bad_utf8_early_in_a_long_text_frame(echo_server: wslib.Server) -> None:
    sock, rest = open_raw(echo_server.port)
    with sock:
        payload = b"bad \xff here" + bytes(2**20 - 10)
        data = masked(Opcode.TEXT, payload)
        header = len(data) - len(payload)
        sock.sendall(data[: header + 10])  # the rest of the 1 MiB never comes
        frames = read_frames_until_eof(sock, rest)
    assert close_code(frames) == 1007


class RawServer:
    """A one-connection TCP server that answers the handshake, then runs ``script(sock)``."""

    def __init__(self, script: object) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.received: list[Frame] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sock, _ = self.listener.accept()
        with sock:
            sock.settimeout(TIMEOUT)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                request += chunk
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest()).decode()
            sock.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            self.script(sock)  # type: ignore[operator]
            # Read the client's frames; after its close frame, end TCP first, as a server does
            # (RFC 6455 §7.1.1), and read on until the client ends its side too.
            reader = StreamReader()
            parser = Frame.parse(reader.read_exact, mask=True, max_size=None)
            shut = False
            while True:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                reader.feed_data(chunk)
                while True:  # every frame this chunk completes; a partial one waits for more
                    try:
                        next(parser)
                    except StopIteration as done:
                        self.received.append(done.value)
                        parser = Frame.parse(reader.read_exact, mask=True, max_size=None)
                        continue
                    break
                if not shut and any(f.opcode is Opcode.CLOSE for f in self.received):
                    shut = True
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

    def close(self) -> None:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()
        self.listener.close()


def test_client_fails_a_flood_of_empty_continuations_with_1009() -> None:
    def flood(sock: socket.socket) -> None:
        unmasked = Frame(Opcode.CONT, b"", fin=False).serialize(mask=False)
        sock.sendall(Frame(Opcode.BINARY, b"", fin=False).serialize(mask=False))
        send_until_refused(sock, unmasked * 1000, 200)

    server = RawServer(flood)
    try:
        conn = wslib.connect(f"ws://127.0.0.1:{server.port}/", timeout=TIMEOUT, ping_interval=None)
        with pytest.raises(ConnectionClosed):
            conn.recv(timeout=TIMEOUT)
        conn.close()
    finally:
        server.close()
    assert close_code(server.received) == 1009


@pytest.mark.parametrize("code", [1012, 1013, 1014])
def test_client_accepts_a_server_closing_with_an_iana_code(code: int) -> None:
    def close_with_code(sock: socket.socket) -> None:
        payload = struct.pack("!H", code) + b"come back later"
        sock.sendall(Frame(Opcode.CLOSE, payload).serialize(mask=False))

    server = RawServer(close_with_code)
    try:
        conn = wslib.connect(f"ws://127.0.0.1:{server.port}/", timeout=TIMEOUT, ping_interval=None)
        with pytest.raises(ConnectionClosed) as exc:
            conn.recv(timeout=TIMEOUT)
        assert exc.value.code == code and exc.value.reason == "come back later"
        conn.close()
    finally:
        server.close()
    assert close_code(server.received) == code  # echoed, not a 1002 protocol error


@pytest.mark.parametrize("code", [1012, 1013])
def test_server_may_close_with_an_iana_code(code: int) -> None:
    def busy(conn: wslib.ServerConnection) -> None:
        conn.close(code, "busy")

    server = wslib.serve(busy, ping_interval=None, close_timeout=2.0)
    try:
        with wslib.connect(f"ws://127.0.0.1:{server.port}/", timeout=TIMEOUT) as conn:
            with pytest.raises(ConnectionClosed) as exc:
                conn.recv(timeout=TIMEOUT)
        assert exc.value.code == code and exc.value.reason == "busy"
    finally:
        server.close()


# --- messages that came before a bad frame are answered (issue 10, strictness) -----------------


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(Frame(Opcode.TEXT, b"x", rsv1=True), id="reserved-bit"),
        pytest.param(Frame(Opcode.CONT, b"orphan"), id="continuation-without-start"),
        pytest.param(Frame(Opcode.PING, b"p" * 126), id="control-frame-too-long"),
    ],
)
def test_server_echoes_what_came_before_a_bad_frame(echo_server: wslib.Server, bad: Frame) -> None:
    sock, rest = open_raw(echo_server.port)
    with sock:
        valid = masked(Opcode.TEXT, b"first") + masked(Opcode.BINARY, b"second")
        wire = bad.serialize(mask=True, mask_key=MASK_KEY, check=False)
        sock.sendall(valid + wire)  # one write: the bad frame arrives with the good ones
        frames = read_frames_until_eof(sock, rest)
    data = [(f.opcode, f.payload) for f in frames if f.opcode is not Opcode.CLOSE]
    assert data == [(Opcode.TEXT, b"first"), (Opcode.BINARY, b"second")]
    assert frames[-1].opcode is Opcode.CLOSE and close_code(frames) == 1002


def test_client_reads_what_came_before_a_bad_frame_then_fails_at_once() -> None:
    def good_then_masked(sock: socket.socket) -> None:
        good = Frame(Opcode.TEXT, b"before").serialize(mask=False)
        bad = Frame(Opcode.TEXT, b"masked").serialize(mask=True, mask_key=MASK_KEY)
        sock.sendall(good + bad)

    server = RawServer(good_then_masked)
    try:
        conn = wslib.connect(f"ws://127.0.0.1:{server.port}/", timeout=TIMEOUT, ping_interval=None)
        assert conn.recv(timeout=TIMEOUT) == "before"
        started = time.monotonic()
        with pytest.raises(ConnectionClosed):
            conn.recv(timeout=TIMEOUT)
        # the failure waited for the application to ask for more, not for a timer
        assert time.monotonic() - started < TIMEOUT / 2
        conn.close()
    finally:
        server.close()
    assert close_code(server.received) == 1002
