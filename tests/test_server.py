"""wslib.serve: lifecycle, threads, push, keepalive, limits, subprotocols, trace, the page.

Every peer is real: wslib.connect, websocket-client, or a plain socket that writes the bytes of
a test by hand (and reads the server's frames with wslib.frames). Servers bind 127.0.0.1:0.
The helpers at the top are shared with test_client, test_interop and test_bad_input.
"""

from __future__ import annotations

import base64
import logging
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import websocket  # websocket-client

import wslib
from wslib.frames import Close, Frame, Opcode
from wslib.streams import StreamReader

pytestmark = pytest.mark.timeout(30)


# --- helpers shared by the I/O tests --------------------------------------------------------------


def echo(conn: wslib.ServerConnection) -> None:
    """The complete echo server of the docs."""
    for message in conn:
        conn.send(message)


def wslib_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("wslib-")]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Every test stops every thread that wslib started for it."""
    yield
    assert wait_for(lambda: not wslib_threads()), wslib_threads()


@contextmanager
def running(
    handler: Callable[[wslib.ServerConnection], Any] = echo, kind: str = "sync", **options: Any
) -> Iterator[wslib.Server]:
    """A server of ``kind``: "sync" (wslib.serve) or "asyncio" (wslib.asyncio.serve on a loop
    in a background thread, behind the same synchronous face: see tests/servers.py)."""
    from .servers import start

    with start(kind, handler, **options) as server:
        yield server


#: Run a test against both servers: ``@both`` and a ``kind`` argument passed to running().
both = pytest.mark.parametrize("kind", ["sync", "asyncio"])


def read_close_code(ws: websocket.WebSocket) -> int:
    """With websocket-client: read frames until the server's close frame; its code."""
    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int(struct.unpack("!H", frame.data[:2])[0])


def url(server: wslib.Server, path: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def handshake_bytes(port: int, *, path: str = "/", extra: str = "", **replace: str) -> bytes:
    """A valid client handshake; ``replace`` swaps or (with "") drops a header, by its name with
    dashes as underscores."""
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    for name, value in replace.items():
        headers[name.replace("_", "-")] = value
    lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items() if v]
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def read_http(sock: socket.socket, timeout: float = 5.0) -> wslib.Response:
    """Read one HTTP response from a raw socket (with wslib's parser)."""
    reader = StreamReader()
    parser = wslib.Response.parse(reader.read_line, reader.read_exact)
    return wslib.sync.connection.read_until_parsed(sock, reader, parser, time.monotonic() + timeout)


class Raw:
    """A client on a plain socket: writes whatever bytes a test wants, reads frames with wslib."""

    def __init__(self, port: int, request: bytes | None = None, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = StreamReader()
        self.timeout = timeout
        if request is not None:
            self.sock.sendall(request)

    def handshake(self, port: int, **kwargs: Any) -> Raw:
        self.sock.sendall(handshake_bytes(port, **kwargs))
        parser = wslib.Response.parse(self.reader.read_line, self.reader.read_exact)
        response = wslib.sync.connection.read_until_parsed(
            self.sock, self.reader, parser, time.monotonic() + self.timeout
        )
        assert response.status == 101, response
        assert response.headers["Sec-WebSocket-Accept"] == ACCEPT
        return self

    def response(self) -> wslib.Response:
        parser = wslib.Response.parse(self.reader.read_line, self.reader.read_exact)
        return wslib.sync.connection.read_until_parsed(
            self.sock, self.reader, parser, time.monotonic() + self.timeout
        )

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self) -> Frame:
        """The next frame from the server (which MUST NOT mask, RFC 6455 §5.1)."""
        parser = Frame.parse(self.reader.read_exact, mask=False)
        return wslib.sync.connection.read_until_parsed(
            self.sock, self.reader, parser, time.monotonic() + self.timeout
        )

    def close_frame(self) -> Close:
        """Skip frames up to the server's close frame; return its code and reason."""
        while True:
            frame = self.frame()
            if frame.opcode is Opcode.CLOSE:
                return Close.parse(frame.payload)

    def at_eof(self) -> bool:
        """Did the server end TCP (after what is buffered)? Waits up to the timeout."""
        self.sock.settimeout(self.timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def wire(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = b"\x37\xfa\x21\x3d",
    length: int | None = None,
) -> bytes:
    """A frame laid out by hand as in RFC 6455 §5.2 (masked like a client's, unless mask=None);
    ``rsv`` sets reserved bits and ``length`` announces another length: broken on purpose."""
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes([first, bit | n])
    elif n < 2**16:
        head = bytes([first, bit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([first, bit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + wslib.apply_mask(payload, mask)


# --- lifecycle ------------------------------------------------------------------------------------


def test_close_with_1012_tells_clients_the_service_restarts() -> None:
    server = wslib.serve(echo)
    client = wslib.connect(url(server))
    with pytest.raises(ValueError, match="1006"):
        server.close(1006)  # never sent on the wire (RFC 6455 §7.4.1)
    server.close(1012, "restarting")
    assert wait_for(lambda: client.close_code is not None)
    assert (client.close_code, client.close_reason) == (1012, "restarting")
    with pytest.raises(wslib.ConnectionClosedError):
        client.recv(timeout=1)
    client.close()


@both
def test_serve_starts_at_once_on_a_free_port_and_echoes(kind: str) -> None:
    with running(kind=kind) as server:
        assert server.port > 0
        with wslib.connect(url(server)) as conn:
            conn.send("héllo")
            assert conn.recv(timeout=5) == "héllo"  # text stays text
            conn.send(b"\x00\xff")
            assert conn.recv(timeout=5) == b"\x00\xff"  # binary stays binary


def test_no_thread_leaks_after_close() -> None:
    before = set(threading.enumerate())
    server = wslib.serve(echo)
    clients = [wslib.connect(url(server)) for _ in range(5)]
    for i, client in enumerate(clients):
        client.send(str(i))
        assert client.recv(timeout=5) == str(i)
    assert len(server.connections) == 5
    server.close()
    # every connection got 1001 (going away), and every thread the server started is gone
    for client in clients:
        assert wait_for(lambda c=client: c.close_code is not None)  # type: ignore[misc]
        assert (client.close_code, client.close_reason) == (1001, "server shutting down")
        with pytest.raises(wslib.ConnectionClosedOK):
            client.recv(timeout=1)
    assert wait_for(lambda: set(threading.enumerate()) == before), (
        set(threading.enumerate()) - before
    )
    server.close()  # closing twice is fine


def test_close_is_prompt_and_stops_accepting() -> None:
    server = wslib.serve(echo)
    port = server.port
    conn = wslib.connect(url(server))
    start = time.monotonic()
    server.shutdown()
    assert time.monotonic() - start < 2
    assert conn.close_code == 1001 or wait_for(lambda: conn.close_code == 1001)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_close_wakes_up_a_client_in_the_middle_of_its_handshake() -> None:
    server = wslib.serve(echo)
    raw = Raw(server.port, b"GET / HTTP/1.1\r\n")  # ... and nothing more
    time.sleep(0.1)
    start = time.monotonic()
    server.close()
    assert time.monotonic() - start < 2
    assert raw.at_eof()
    raw.close()


def test_a_handler_can_stop_the_server() -> None:
    servers: list[wslib.Server] = []

    def stopper(conn: wslib.ServerConnection) -> None:
        if conn.recv(timeout=5) == "stop":
            servers[0].close()

    server = wslib.serve(stopper)
    servers.append(server)
    with wslib.connect(url(server)) as conn:
        conn.send("stop")
        with pytest.raises(wslib.ConnectionClosedOK):
            conn.recv(timeout=5)
        assert conn.close_code == 1001


@both
def test_handler_return_closes_with_1000(kind: str) -> None:
    def once(conn: wslib.ServerConnection) -> None:
        conn.send(conn.recv(timeout=5))

    with running(once, kind=kind) as server, wslib.connect(url(server)) as conn:
        conn.send("one")
        assert conn.recv(timeout=5) == "one"
        assert list(conn) == []  # iteration ends quietly on a normal close
        assert conn.close_code == 1000


@both
def test_handler_exception_closes_with_1011_without_details(
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    def broken(conn: wslib.ServerConnection) -> None:
        conn.recv(timeout=5)
        raise RuntimeError("secret internal detail")

    with running(broken, kind=kind) as server, wslib.connect(url(server)) as conn:
        conn.send("boom")
        with pytest.raises(wslib.ConnectionClosedError) as info:
            conn.recv(timeout=5)
        assert info.value.code == 1011
        assert "secret" not in info.value.reason
    assert "secret internal detail" in caplog.text  # logged on the server side only


@both
def test_handler_closes_with_a_code_and_reason(kind: str) -> None:
    def bye(conn: wslib.ServerConnection) -> None:
        conn.close(4000, "see you")
        assert (conn.close_code, conn.close_reason) == (4000, "see you")

    with running(bye, kind=kind) as server, wslib.connect(url(server)) as conn:
        with pytest.raises(wslib.ConnectionClosedError) as info:
            conn.recv(timeout=5)
        assert (info.value.code, info.value.reason) == (4000, "see you")


@both
def test_handler_sees_path_headers_and_address(kind: str) -> None:
    seen: dict[str, Any] = {}

    def inspect(conn: wslib.ServerConnection) -> None:
        seen["path"] = conn.path
        seen["xff"] = conn.request_headers.get("X-Forwarded-For")
        seen["address"] = conn.remote_address
        seen["subprotocol"] = conn.subprotocol
        conn.send("ok")

    with running(inspect, kind=kind) as server:
        with wslib.connect(
            url(server, "/chat?room=1"), additional_headers=[("X-Forwarded-For", "203.0.113.7")]
        ) as conn:
            assert conn.recv(timeout=5) == "ok"
            local = conn.local_address  # the socket may be closed by now
    assert seen == {
        "path": "/chat?room=1",
        "xff": "203.0.113.7",
        "address": local,
        "subprotocol": None,
    }


@both
def test_recv_timeout(kind: str) -> None:
    with running(kind=kind) as server, wslib.connect(url(server)) as conn:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            conn.recv(timeout=0.2)
        assert 0.15 < time.monotonic() - start < 2


# --- push -----------------------------------------------------------------------------------------


@both
def test_push_from_another_thread_while_the_handler_waits(kind: str) -> None:
    """The article's case: a background task reports its progress the moment it happens."""

    def task(conn: wslib.ServerConnection) -> None:
        job = conn.recv(timeout=5)

        def work() -> None:
            for percent in (25, 50, 75, 100):
                conn.send(f"{job}: {percent}%")
            conn.send(f"{job}: done")

        worker = threading.Thread(target=work)
        worker.start()
        worker.join(5)
        for message in conn:  # the handler still answers whatever the client says
            conn.send(message)

    with running(task, kind=kind) as server, wslib.connect(url(server)) as conn:
        conn.send("job-1")
        got = [conn.recv(timeout=5) for _ in range(5)]
        assert got == ["job-1: 25%", "job-1: 50%", "job-1: 75%", "job-1: 100%", "job-1: done"]


@both
def test_concurrent_senders_never_interleave_frames(kind: str) -> None:
    def flood(conn: wslib.ServerConnection) -> None:
        def send_many(tag: str) -> None:
            for i in range(50):
                conn.send(f"{tag}{i}" * 1000)  # 2 to 5 kB each: several TCP segments

        threads = [threading.Thread(target=send_many, args=(t,)) for t in "abcd"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        conn.recv(timeout=10)

    with running(flood, kind=kind) as server, wslib.connect(url(server), max_queue=1000) as conn:
        messages = [conn.recv(timeout=10) for _ in range(200)]
        conn.send("done")
    assert sorted(messages) == sorted(f"{t}{i}" * 1000 for t in "abcd" for i in range(50))


@both
def test_broadcast_reaches_every_open_connection_and_skips_failing_ones(kind: str) -> None:
    ready = threading.Barrier(4, timeout=5)

    def wait(conn: wslib.ServerConnection) -> None:
        ready.wait()
        for _ in conn:
            pass

    with running(wait, kind=kind) as server:
        clients = [wslib.connect(url(server)) for _ in range(3)]
        ready.wait()
        assert len(server.connections) == 3
        # one client disappears without a closing handshake
        clients[0].socket.shutdown(socket.SHUT_RDWR)
        assert wait_for(lambda: len(server.connections) == 2)
        assert server.broadcast("news") == 2
        for client in clients[1:]:
            assert client.recv(timeout=5) == "news"
            client.close()


def test_broadcast_goes_on_past_a_peer_that_does_not_read() -> None:
    """A peer that never reads blocks the write of a big message: after close_timeout that
    connection is cut, and the broadcast carries on to the others."""
    ready = threading.Barrier(4, timeout=5)

    def wait(conn: wslib.ServerConnection) -> None:
        ready.wait()
        for _ in conn:
            pass

    big = bytes(2**25)  # 32 MiB: more than loopback's socket buffers hold
    with running(wait, close_timeout=0.5, ping_interval=None) as server:
        readers = [wslib.connect(url(server), max_size=None) for _ in range(2)]
        stuck = Raw(server.port).handshake(server.port)  # never reads a byte
        ready.wait()
        assert len(server.connections) == 3
        start = time.monotonic()
        assert server.broadcast(big) == 2
        assert time.monotonic() - start < 10
        for reader in readers:
            assert reader.recv(timeout=10) == big
            reader.close()
        assert wait_for(lambda: not server.connections)
        stuck.close()


@both
def test_a_busy_handler_does_not_stop_pongs_or_the_close(kind: str) -> None:
    """The reader thread answers pings and close frames while the handler only pushes."""
    stopped = threading.Event()

    def pusher(conn: wslib.ServerConnection) -> None:
        try:
            for i in range(1000):
                conn.send(f"progress {i}")
                time.sleep(0.01)
        except wslib.ConnectionClosedOK:
            stopped.set()

    with running(pusher, kind=kind) as server, wslib.connect(url(server), max_queue=1000) as conn:
        assert conn.recv(timeout=5) == "progress 0"
        assert conn.ping().wait(5)  # answered although the handler never calls recv()
        conn.close(1000, "enough")
        assert conn.close_code == 1000
        assert stopped.wait(5)  # the handler's next send saw the closed connection


@both
def test_frames_sent_with_the_handshake_are_not_lost(kind: str) -> None:
    # RFC 6455 §4.1: the client MUST wait for the 101 before sending, but if one does not,
    # the frames that came in the same segment as the request are still delivered.
    with running(kind=kind) as server:
        frames = b"".join(wire(Opcode.TEXT, str(i).encode()) for i in range(40))
        raw = Raw(server.port, handshake_bytes(server.port) + frames)
        assert raw.response().status == 101
        assert [raw.frame().payload for _ in range(40)] == [str(i).encode() for i in range(40)]
        raw.close()


# --- keepalive ------------------------------------------------------------------------------------


@both
def test_keepalive_pings_are_sent_and_answered(kind: str) -> None:
    with running(ping_interval=0.1, ping_timeout=1, kind=kind) as server:
        raw = Raw(server.port).handshake(server.port)
        ping = raw.frame()
        assert ping.opcode is Opcode.PING
        raw.send(wire(Opcode.PONG, ping.payload))
        second = raw.frame()
        assert second.opcode is Opcode.PING
        assert second.payload != ping.payload  # each ping has its own payload
        raw.send(wire(Opcode.PONG, second.payload))
        assert len(server.connections) == 1  # alive
        raw.close()


@both
def test_peer_that_never_answers_pings_is_closed_with_1011(kind: str) -> None:
    # websockets' convention: a keepalive timeout fails the connection with 1011
    # ("keepalive ping timeout"); RFC 6455 §7.4.1: 1011 is "an unexpected condition".
    with running(ping_interval=0.1, ping_timeout=0.3, kind=kind) as server:
        raw = Raw(server.port).handshake(server.port)
        start = time.monotonic()
        close = raw.close_frame()
        assert (close.code, close.reason) == (1011, "keepalive ping timeout")
        assert 0.3 < time.monotonic() - start < 3
        assert raw.at_eof()  # and TCP ends at once (RFC 6455 §7.1.7)
        raw.close()
        assert wait_for(lambda: not server.connections)


@both
def test_ping_from_the_handler_waits_for_the_pong(kind: str) -> None:
    results: list[bool] = []

    def pinger(conn: wslib.ServerConnection) -> None:
        results.append(conn.ping(b"are you there?").wait(5))
        conn.send("pinged")
        for _ in conn:
            pass

    with running(pinger, kind=kind) as server, wslib.connect(url(server)) as conn:
        assert conn.recv(timeout=5) == "pinged"
    assert results == [True]


@both
def test_a_pong_answers_earlier_pings_too(kind: str) -> None:
    with running(ping_interval=None, kind=kind) as server:
        raw = Raw(server.port).handshake(server.port)
        assert wait_for(lambda: len(server.connections) == 1)
        conn = server.connections[0]
        first, second = conn.ping(b"1"), conn.ping(b"2")
        assert raw.frame().payload == b"1" and raw.frame().payload == b"2"
        raw.send(wire(Opcode.PONG, b"2"))  # §5.5.3: the peer may answer only the latest
        assert first.wait(5) and second.wait(5)
        with pytest.raises(wslib.InvalidState):
            conn.ping(b"3")
            conn.ping(b"3")
        raw.close()


# --- close timeout --------------------------------------------------------------------------------


@both
def test_close_timeout_cuts_a_peer_that_never_answers_the_close(kind: str) -> None:
    closed: list[tuple[float, int | None]] = []

    def closer(conn: wslib.ServerConnection) -> None:
        start = time.monotonic()
        conn.close(1000, "bye")
        closed.append((time.monotonic() - start, conn.close_code))

    with running(closer, close_timeout=0.3, ping_interval=None, kind=kind) as server:
        raw = Raw(server.port).handshake(server.port)
        assert raw.close_frame().code == 1000  # ... and the raw client never answers
        assert raw.at_eof()
        raw.close()
        assert wait_for(lambda: bool(closed))
    duration, code = closed[0]
    # It happens, after close_timeout, and does not hang (a generous bound for a loaded machine).
    assert 0.3 <= duration < 5, duration
    assert code == 1006  # no close frame came back (RFC 6455 §7.1.5)


@both
def test_client_close_handshake_server_ends_tcp_first(kind: str) -> None:
    with running(kind=kind) as server:
        raw = Raw(server.port).handshake(server.port)
        raw.send(wire(Opcode.CLOSE, struct.pack("!H", 1000) + b"done"))
        close = raw.close_frame()
        assert (close.code, close.reason) == (1000, "done")  # echoed (§5.5.1)
        assert raw.at_eof()  # the server closes TCP first (§7.1.1)
        raw.close()


# --- limits, origins, subprotocols ----------------------------------------------------------------


@both
def test_max_connections_answers_503(kind: str) -> None:
    with running(max_connections=2, kind=kind) as server:
        first, second = wslib.connect(url(server)), wslib.connect(url(server))
        with pytest.raises(wslib.InvalidResponse, match="503"):
            wslib.connect(url(server))
        raw = Raw(server.port, handshake_bytes(server.port))
        response = raw.response()
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert raw.at_eof()
        raw.close()
        first.close()
        assert wait_for(lambda: len(server.connections) == 1)
        with wslib.connect(url(server)) as third:  # a place is free again
            third.send("x")
            assert third.recv(timeout=5) == "x"
        second.close()


@both
def test_origins_allow_list(kind: str) -> None:
    with running(origins=["http://good.example"], kind=kind) as server:
        with wslib.connect(url(server), origin="http://good.example") as conn:
            conn.send("ok")
            assert conn.recv(timeout=5) == "ok"
        with pytest.raises(wslib.InvalidResponse, match="403"):
            wslib.connect(url(server), origin="http://evil.example")
        with pytest.raises(wslib.InvalidResponse, match="403"):
            wslib.connect(url(server))  # no Origin: not in the list


@both
def test_subprotocol_negotiation(kind: str) -> None:
    chosen: list[str | None] = []

    def record(conn: wslib.ServerConnection) -> None:
        chosen.append(conn.subprotocol)

    with running(record, subprotocols=["chat.v2", "chat.v1"], kind=kind) as server:
        # the server picks the client's first offer that it speaks (RFC 6455 §4.1: by preference)
        with wslib.connect(url(server), subprotocols=["chat.v1", "chat.v2"]) as conn:
            assert conn.subprotocol == "chat.v1"
        with wslib.connect(url(server), subprotocols=["other"]) as conn:
            assert conn.subprotocol is None
        with wslib.connect(url(server)) as conn:
            assert conn.subprotocol is None
    assert chosen == ["chat.v1", None, None]


@both
def test_max_size_closes_with_1009(kind: str) -> None:
    with (
        running(max_size=1000, kind=kind) as server,
        wslib.connect(url(server), max_size=None) as conn,
    ):
        conn.send(b"x" * 1000)
        assert conn.recv(timeout=5) == b"x" * 1000
        conn.send(b"x" * 1001)
        with pytest.raises(wslib.ConnectionClosedError) as info:
            conn.recv(timeout=5)
        assert info.value.code == 1009


@both
def test_backpressure_does_not_lose_messages(kind: str) -> None:
    release = threading.Event()

    def slow(conn: wslib.ServerConnection) -> None:
        release.wait(5)  # a handler busy elsewhere: the server stops reading after max_queue
        for message in conn:
            conn.send(message)

    with (
        running(slow, max_queue=2, kind=kind) as server,
        wslib.connect(url(server), max_queue=100) as conn,
    ):
        for i in range(50):
            conn.send(str(i))
        release.set()
        assert [conn.recv(timeout=5) for _ in range(50)] == [str(i) for i in range(50)]


# --- trace ----------------------------------------------------------------------------------------


@both
def test_trace_to_a_function_shows_every_frame_in_and_out(kind: str) -> None:
    lines: list[str] = []
    with running(trace=lines.append, ping_interval=None, kind=kind) as server:
        with wslib.connect(url(server), ping_interval=None) as conn:
            conn.send("hello")
            assert conn.recv(timeout=5) == "hello"
    text = "\n".join(lines)
    assert "< GET / HTTP/1.1" in text
    assert "> HTTP/1.1 101 Switching Protocols" in text
    assert "< TEXT fin=1 len=5 'hello'" in text
    assert "> TEXT fin=1 len=5 'hello'" in text
    assert "< CLOSE fin=1 len=2 1000" in text
    assert "> CLOSE fin=1 len=2 1000" in text
    assert all(line.startswith("[server, client 127.0.0.1:") for line in lines)


@both
def test_trace_true_prints_and_logs(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    caplog.set_level(logging.INFO, logger="wslib.trace")
    with running(trace=True, ping_interval=None, kind=kind) as server:
        with wslib.connect(url(server), trace=True, ping_interval=None) as conn:
            conn.send(b"\x01\x02")
            assert conn.recv(timeout=5) == b"\x01\x02"
    out = capsys.readouterr().out
    assert "[client, server 127.0.0.1:" in out
    assert "> BINARY fin=1 len=2 01 02" in out  # the client's frame, as it goes out
    assert "[server, client 127.0.0.1:" in out
    assert any("BINARY fin=1 len=2" in r.getMessage() for r in caplog.records)


# --- the browser page -----------------------------------------------------------------------------


@both
def test_get_without_upgrade_serves_the_page(kind: str) -> None:
    with running(kind=kind) as server:
        raw = Raw(server.port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        response = raw.response()
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b'new WebSocket("ws://" + location.host + "/")' in response.body
        assert raw.at_eof()
        raw.close()
        # any path serves it, and the server still speaks WebSocket
        raw = Raw(server.port, b"GET /any HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.response().status == 200
        raw.close()
        with wslib.connect(url(server)) as conn:
            conn.send("still here")
            assert conn.recv(timeout=5) == "still here"


@pytest.mark.parametrize(
    "header",
    ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"],
)
@both
def test_an_attempted_handshake_without_upgrade_is_refused_not_served_the_page(
    header: str,
    kind: str,
) -> None:
    """A Sec-WebSocket-* header means a WebSocket client (a page's script cannot send one: the
    Fetch standard forbids "Sec-" names), so a missing Upgrade is a bad handshake (RFC 6455
    §4.2.1: "an appropriate error code (such as 400 Bad Request)"), not a visit."""
    with running(kind=kind) as server:
        request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{header}\r\n\r\n"
        raw = Raw(server.port, request.encode())
        response = raw.response()
        assert response.status == 400, response
        assert b"'Upgrade: websocket', but it is missing" in response.body
        assert raw.at_eof()
        raw.close()


@both
def test_websocket_client_echo(kind: str) -> None:
    with running(kind=kind) as server:
        ws = websocket.create_connection(url(server), timeout=5)
        ws.send("123")
        ws.send("456")
        assert ws.recv() == "123"
        assert ws.recv() == "456"
        ws.close()


def test_base64_key_of_the_rfc_example() -> None:
    assert base64.b64decode(KEY) == b"the sample nonce"


# --- resource limits: threads that cannot start, file descriptors running out --------------------


def fail_thread_starts(monkeypatch: pytest.MonkeyPatch, prefix: str, times: int) -> list[str]:
    """Make the next ``times`` starts of threads named ``prefix...`` raise what CPython raises at
    a thread or memory limit; return the names of the threads that failed to start."""
    real_start = threading.Thread.start
    failed: list[str] = []

    def start(thread: threading.Thread) -> None:
        if thread.name.startswith(prefix) and len(failed) < times:
            failed.append(thread.name)
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    return failed


def refused(raw: Raw) -> int | None:
    """The status of what the server answered before closing (a 503), or None: closed at once."""
    try:
        return raw.response().status
    except (EOFError, OSError):
        return None


def test_the_acceptor_survives_a_connection_thread_that_cannot_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = wslib.serve(echo)
    try:
        failed = fail_thread_starts(monkeypatch, "wslib-conn-", 1)
        raw = Raw(server.port, handshake_bytes(server.port))
        assert refused(raw) in (503, None)  # that one connection is refused...
        assert raw.at_eof()
        raw.close()
        assert len(failed) == 1
        with wslib.connect(url(server), timeout=5) as conn:  # ... and the server goes on
            conn.send("next")
            assert conn.recv(timeout=5) == "next"
    finally:
        server.close()  # always finishes, and without "cannot join thread before it is started"
    lines = [r for r in caplog.records if "can't start new thread" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None  # one line, no traceback


def test_a_reader_that_cannot_start_does_not_use_up_max_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running(max_connections=2) as server:
        failed = fail_thread_starts(monkeypatch, "wslib-reader-", 2)
        for _ in range(2):
            raw = Raw(server.port).handshake(server.port)  # the 101 went out, then no reader:
            assert raw.close_frame().code == 1013  # "try again later": out of threads for now
            assert raw.at_eof()
            raw.close()
        assert len(failed) == 2
        # Both places are free again: before the fix, every later client got 503.
        with wslib.connect(url(server)) as first, wslib.connect(url(server)) as second:
            for conn in (first, second):
                conn.send("in")
                assert conn.recv(timeout=5) == "in"


EMFILE_SERVER = """
import logging, os, resource, sys
import wslib

logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="LOG %(message)s")
server = wslib.serve(lambda conn: [conn.send(m) for m in conn], open_timeout=30)
# Room for two more file descriptors above the highest open now, then accept() fails: EMFILE.
highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 3, hard))
print(server.port, flush=True)
sys.stdin.readline()  # until the test says stop
server.close()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="counts descriptors in /proc/self/fd")
def test_out_of_file_descriptors_logs_one_line_per_burst_and_recovers() -> None:
    """accept() failing with EMFILE: no traceback ten times a second, and the server serves
    again once descriptors are free (the connections waited in the kernel's backlog)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", EMFILE_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    silent: list[socket.socket] = []
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port = int(proc.stdout.readline())
        for _ in range(10):  # a few are accepted, then the server runs out of descriptors
            silent.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(2)  # a burst of failed accept() calls
        for sock in silent:  # their threads end, descriptors are free again
            sock.close()
        with wslib.connect(f"ws://127.0.0.1:{port}/", timeout=10) as conn:
            conn.send("back")
            assert conn.recv(timeout=5) == "back"
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        _, err = proc.communicate(timeout=20)
    finally:
        for sock in silent:
            sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    failures = [line for line in err.splitlines() if "accept() failed" in line]
    recoveries = re.findall(r"accept\(\) works again after (\d+) failures", err)
    # One line when a burst starts, one when it ends (the backlog drains a few at a time, so
    # there may be a second, shorter burst), instead of a traceback ten times a second.
    assert failures and len(failures) == len(recoveries) <= 3, err
    assert all("Too many open files" in line for line in failures)
    assert int(recoveries[0]) >= 3, err  # the first burst lasted 2 s: several failures, one line
    assert "Traceback" not in err
