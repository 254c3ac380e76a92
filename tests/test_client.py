"""wslib.connect: URLs, the handshake check, masking, timeouts, closing.

The servers are real: wslib.serve, or a plain listening socket that answers with the bytes a
test chooses (a wrong Sec-WebSocket-Accept, nothing at all, ...) and reads the client's frames
with wslib.frames.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

import wslib
from wslib.frames import Close, Frame, Opcode
from wslib.streams import StreamReader
from wslib.sync.client import parse_uri

from .test_server import echo, no_thread_left, running, url, wait_for, wire

__all__ = ["no_thread_left"]  # the autouse fixture, imported to apply here too

pytestmark = pytest.mark.timeout(30)


# --- URLs (RFC 6455 §3) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "host", "port", "resource", "authority"),
    [
        ("ws://example.com", "example.com", 80, "/", "example.com"),
        ("ws://example.com/", "example.com", 80, "/", "example.com"),
        (
            "ws://example.com:8765/chat?room=1",
            "example.com",
            8765,
            "/chat?room=1",
            "example.com:8765",
        ),
        ("ws://127.0.0.1:80/x", "127.0.0.1", 80, "/x", "127.0.0.1"),
        ("ws://[::1]:9000/", "::1", 9000, "/", "[::1]:9000"),
        ("WS://Example.COM/Path", "example.com", 80, "/Path", "example.com"),
        ("ws://h/caf\u00e9", "h", 80, "/caf%C3%A9", "h"),
    ],
)
def test_parse_uri(uri: str, host: str, port: int, resource: str, authority: str) -> None:
    parsed = parse_uri(uri)
    assert (parsed.host, parsed.port, parsed.resource_name) == (host, port, resource)
    assert parsed.authority == authority


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("http://example.com/", "not a ws:// or wss:// URL"),
        ("example.com", "not a ws:// or wss:// URL"),
        ("ws:///path", "no host"),
        ("ws://user:pw@example.com/", "user info"),
        ("ws://example.com/#frag", "fragment"),
        ("ws://example.com:99999/", "not a valid URL"),
    ],
)
def test_invalid_uris(uri: str, match: str) -> None:
    with pytest.raises(wslib.InvalidURI, match=match):
        wslib.connect(uri)


# --- a fake server on a plain socket --------------------------------------------------------------


@contextmanager
def fake_server(answer: Callable[[socket.socket, bytes], None]) -> Iterator[int]:
    """Listen on 127.0.0.1:0; for one client, read its request head, then run ``answer``."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    port = listener.getsockname()[1]

    def run() -> None:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        with sock:
            sock.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                head += chunk
            answer(sock, head)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(10)
        assert not thread.is_alive()


def key_of(head: bytes) -> str:
    request = wslib.Request.from_bytes(head)
    return request.headers["Sec-WebSocket-Key"]


def switching(head: bytes, *, accept: str | None = None, extra: str = "") -> bytes:
    accept = wslib.accept_key(key_of(head)) if accept is None else accept
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
    ).encode()


def test_wrong_accept_key_is_refused() -> None:
    def answer(sock: socket.socket, head: bytes) -> None:
        sock.sendall(switching(head, accept=wslib.accept_key("dGhlIHNhbXBsZSBub25jZQ==")))

    with fake_server(answer) as port, pytest.raises(wslib.InvalidResponse, match="Accept"):
        wslib.connect(f"ws://127.0.0.1:{port}/")


def test_unoffered_subprotocol_is_refused() -> None:
    def answer(sock: socket.socket, head: bytes) -> None:
        sock.sendall(switching(head, extra="Sec-WebSocket-Protocol: mqtt\r\n"))

    with fake_server(answer) as port, pytest.raises(wslib.InvalidResponse, match="subprotocol"):
        wslib.connect(f"ws://127.0.0.1:{port}/", subprotocols=["chat"])


def test_plain_http_server_is_refused() -> None:
    def answer(sock: socket.socket, head: bytes) -> None:
        sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here\n")

    with fake_server(answer) as port, pytest.raises(wslib.InvalidResponse, match="404"):
        wslib.connect(f"ws://127.0.0.1:{port}/")


def test_server_that_hangs_up_is_refused() -> None:
    with fake_server(lambda sock, head: None) as port:
        with pytest.raises(wslib.InvalidResponse, match="closed the connection"):
            wslib.connect(f"ws://127.0.0.1:{port}/")


def test_server_that_never_answers_times_out() -> None:
    def answer(sock: socket.socket, head: bytes) -> None:
        sock.recv(1)  # until the client gives up

    with fake_server(answer) as port:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            wslib.connect(f"ws://127.0.0.1:{port}/", timeout=0.3)
        assert time.monotonic() - start < 3


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        # §5.1: "A client MUST close a connection if it detects a masked frame"
        (wire(Opcode.TEXT, b"masked"), 1002),
        # §10.4: a header announcing 2**63 - 1 bytes, far over max_size: 1009
        (wire(Opcode.BINARY, length=2**63 - 1, mask=None), 1009),
    ],
    ids=["masked frame", "2**63-1 bytes announced"],
)
def test_client_that_fails_the_connection_does_not_wait_for_the_hostile_server(
    frame: bytes, code: int
) -> None:
    """After failing the connection (§7.1.7) the client ends TCP at once: recv() raises
    promptly instead of waiting close_timeout for a server that keeps TCP open."""

    test_over = threading.Event()

    def answer(sock: socket.socket, head: bytes) -> None:
        sock.sendall(switching(head) + frame)
        test_over.wait(15)  # never answers the close frame, never ends TCP, even after a FIN

    with fake_server(answer) as port:
        conn = wslib.connect(f"ws://127.0.0.1:{port}/", close_timeout=10, ping_interval=None)
        start = time.monotonic()
        try:
            with pytest.raises(wslib.ConnectionClosedError) as info:
                conn.recv(timeout=30)
            elapsed = time.monotonic() - start
            conn.close()
        finally:
            test_over.set()
    assert elapsed < 5, elapsed  # close_timeout / 2: generous, and far from the 10 s wait
    assert conn.protocol.close_sent is not None and conn.protocol.close_sent.code == code
    # No close frame came back (§7.1.5: 1006); the cause names the server's fault and its code.
    assert info.value.code == 1006
    assert isinstance(info.value.__cause__, wslib.ProtocolError)
    assert info.value.__cause__.close_code == code


def test_connection_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        wslib.connect(f"ws://127.0.0.1:{port}/")


def test_request_and_frames_on_the_wire_are_masked() -> None:
    seen: dict[str, object] = {}

    def answer(sock: socket.socket, head: bytes) -> None:
        seen["request"] = wslib.Request.from_bytes(head)
        # a frame in the same segment as the 101: the client must not lose it
        sock.sendall(switching(head) + b"\x81\x05Hello")
        reader = StreamReader()
        frames: list[Frame] = []
        deadline = time.monotonic() + 5
        while not frames or frames[-1].opcode is not Opcode.CLOSE:
            parser = Frame.parse(reader.read_exact, mask=True)  # a client MUST mask (§5.1)
            frames.append(wslib.sync.connection.read_until_parsed(sock, reader, parser, deadline))
        seen["frames"] = frames
        sock.sendall(b"\x88\x02\x03\xe8")  # the close answer, then the server ends TCP

    with fake_server(answer) as port:
        with wslib.connect(f"ws://127.0.0.1:{port}/path", origin="http://o.example") as conn:
            assert conn.recv(timeout=5) == "Hello"
            conn.send("hi")
            conn.send(b"\x00")
        assert conn.close_code == 1000
    request = seen["request"]
    assert isinstance(request, wslib.Request)
    assert request.path == "/path"
    assert request.headers["Host"] == f"127.0.0.1:{port}"
    assert request.headers["Origin"] == "http://o.example"
    frames = seen["frames"]
    assert isinstance(frames, list)
    assert [(f.opcode, f.payload) for f in frames] == [
        (Opcode.TEXT, b"hi"),
        (Opcode.BINARY, b"\x00"),
        (Opcode.CLOSE, Close(1000, "").serialize()),
    ]


def test_client_ignores_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("all_proxy", "http://127.0.0.1:9")
    with running() as server, wslib.connect(url(server)) as conn:
        conn.send("direct")
        assert conn.recv(timeout=5) == "direct"


# --- a session with wslib.serve -------------------------------------------------------------------


def test_iteration_and_close_with_code_and_reason() -> None:
    received: list[tuple[int | None, str | None]] = []

    def three(conn: wslib.ServerConnection) -> None:
        for i in range(3):
            conn.send(str(i))
        with pytest.raises(wslib.ConnectionClosedError):  # 4001 is not a normal closure
            for _ in conn:
                pass
        received.append((conn.close_code, conn.close_reason))

    with running(three) as server:
        conn = wslib.connect(url(server))
        assert [conn.recv(timeout=5) for _ in range(3)] == ["0", "1", "2"]
        conn.close(4001, "client done")
        assert (conn.close_code, conn.close_reason) == (4001, "client done")
        with pytest.raises(wslib.ConnectionClosedError):
            conn.send("too late")
        conn.close()  # twice is fine
        assert wait_for(lambda: bool(received))
    assert received == [(4001, "client done")]


def test_iteration_ends_quietly_when_the_server_closes_normally() -> None:
    def two(conn: wslib.ServerConnection) -> None:
        conn.send("a")
        conn.send(b"b")

    with running(two) as server, wslib.connect(url(server)) as conn:
        assert list(conn) == ["a", b"b"]
        assert conn.close_code == 1000


def test_recv_after_the_server_vanished_raises_1006() -> None:
    def vanish(conn: wslib.ServerConnection) -> None:
        conn.recv(timeout=5)
        conn.socket.shutdown(socket.SHUT_RDWR)  # no closing handshake

    with running(vanish) as server, wslib.connect(url(server)) as conn:
        conn.send("x")
        with pytest.raises(wslib.ConnectionClosedError) as info:
            conn.recv(timeout=5)
        assert info.value.code == 1006


def test_ping_returns_an_event_set_by_the_pong() -> None:
    with running() as server, wslib.connect(url(server)) as conn:
        assert conn.ping().wait(5)
        assert conn.ping(b"payload").wait(5)
        assert conn.ping("text payload").wait(5)


def test_send_fragmented_messages() -> None:
    with running() as server, wslib.connect(url(server)) as conn:
        conn.send(["Hel", "lo"])
        assert conn.recv(timeout=5) == "Hello"
        conn.send([b"\x01", b"", b"\x02"])
        assert conn.recv(timeout=5) == b"\x01\x02"
        with pytest.raises(TypeError):
            conn.send(["a", b"b"])  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            conn.send(42)  # type: ignore[arg-type]


def test_sizes_from_empty_to_two_mebibytes() -> None:
    with running(max_size=2**21 + 1) as server:
        with wslib.connect(url(server), max_size=2**21 + 1) as conn:
            for size in (0, 1, 125, 126, 65535, 65536, 2**20, 2**21):
                conn.send(bytes(size))
                assert conn.recv(timeout=10) == bytes(size)
            conn.send("")
            assert conn.recv(timeout=5) == ""


def test_echo_helper_is_the_documented_echo() -> None:
    assert echo.__doc__ == "The complete echo server of the docs."


@pytest.mark.parametrize("size", [1023, 1024, 1029, 70_001, 2**23 + 1])
def test_random_payloads_around_the_fast_paths_both_ways(size: int) -> None:
    # Large payloads are masked in place by the client, unmasked in place by the server (numpy
    # from wslib.masking.NUMPY_FROM bytes on), and written with os.write, then sendall for what
    # the kernel did not take at once (8 MiB is more than a loopback socket takes in one write):
    # the echo must come back byte for byte, text as well as binary.
    payload = random.Random(size).randbytes(size)
    with running(max_size=2**24) as server, wslib.connect(url(server), max_size=2**24) as conn:
        conn.send(payload)
        assert conn.recv(timeout=20) == payload
        if size < 2**20:
            text = payload.hex()[:size]
            conn.send(text)
            assert conn.recv(timeout=20) == text
