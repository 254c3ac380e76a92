"""Bad input: each attack is answered per RFC 6455 while the server keeps serving someone else.

Every test keeps a *bystander*, a wslib client connected before the attack, and checks that it
still gets its echo afterwards. Attacks are written byte by byte on plain sockets; the server's
answer is read with wslib's own parsers (an HTTP response, or a close frame and its code).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

import wslib
from wslib.frames import Opcode

from .servers import KINDS
from .servers import start as start_server
from .test_server import (
    Raw,
    echo,
    handshake_bytes,
    no_thread_left,
    url,
    wait_for,
    wire,
    wslib_threads,
)

__all__ = ["no_thread_left"]  # the autouse fixture, imported to apply here too

pytestmark = pytest.mark.timeout(60)


class Setup:
    def __init__(
        self, server: wslib.Server, bystander: wslib.ClientConnection, kind: str = "sync"
    ) -> None:
        self.server = server
        self.kind = kind
        self.port = server.port
        self.bystander = bystander

    def still_serving(self) -> None:
        """The bystander, connected before the attack, still gets its echo."""
        self.bystander.send("still there?")
        assert self.bystander.recv(timeout=5) == "still there?"
        with wslib.connect(url(self.server)) as newcomer:  # and newcomers are welcome
            newcomer.send(b"new")
            assert newcomer.recv(timeout=5) == b"new"


@pytest.fixture(params=KINDS)
def setup(request: pytest.FixtureRequest) -> Iterator[Setup]:
    """A server of each kind (threads, asyncio) and a bystander client that it serves."""
    kind = request.param
    with start_server(kind, echo, origins=["http://good.example", None], open_timeout=2) as server:
        with wslib.connect(url(server)) as bystander:
            bystander.send("hello")
            assert bystander.recv(timeout=5) == "hello"
            yield Setup(server, bystander, kind)


# --- bad handshakes: an HTTP error, then the connection closes ------------------------------------


def bad_requests(port: int) -> dict[str, tuple[bytes, int, tuple[str, str] | None]]:
    """name -> (request bytes, expected status, a header the response must carry)."""
    valid = handshake_bytes(port)
    return {
        "wrong method": (valid.replace(b"GET", b"POST", 1), 405, ("Allow", "GET")),
        "missing Host": (handshake_bytes(port, Host=""), 400, None),
        "bad Upgrade": (handshake_bytes(port, Upgrade="h2c"), 400, None),
        "no upgrade token": (handshake_bytes(port, Connection="keep-alive"), 400, None),
        "missing key": (handshake_bytes(port, Sec_WebSocket_Key=""), 400, None),
        "bad key": (handshake_bytes(port, Sec_WebSocket_Key="c2hvcnQ="), 400, None),
        "version 8": (
            handshake_bytes(port, Sec_WebSocket_Version="8"),
            426,
            ("Sec-WebSocket-Version", "13"),
        ),
        "bad Origin": (handshake_bytes(port, extra="Origin: http://evil.example\r\n"), 403, None),
        "HTTP/1.0": (valid.replace(b"HTTP/1.1", b"HTTP/1.0", 1), 400, None),
        "malformed request line": (b"GARBAGE\r\n\r\n", 400, None),
        "header without colon": (
            valid.replace(b"Upgrade: websocket", b"Upgrade websocket"),
            400,
            None,
        ),
        "header line over 8 KiB": (
            handshake_bytes(port, extra=f"X-Big: {'a' * 9000}\r\n"),
            400,
            None,
        ),
        "a body": (handshake_bytes(port, extra="Content-Length: 5\r\n") + b"hello", 400, None),
    }


BAD_REQUEST_NAMES = list(bad_requests(0))


@pytest.mark.parametrize("name", BAD_REQUEST_NAMES)
def test_bad_handshake_gets_its_http_error(setup: Setup, name: str) -> None:
    request, status, header = bad_requests(setup.port)[name]
    raw = Raw(setup.port, request)
    response = raw.response()
    assert response.status == status, response
    if header is not None:
        assert response.headers[header[0]] == header[1]
    assert response.headers["Connection"] == "close"
    assert b"Failed to open a WebSocket connection" in response.body
    assert raw.at_eof()  # then the server closes the connection
    raw.close()
    setup.still_serving()


def test_valid_origin_and_no_origin_are_accepted(setup: Setup) -> None:
    with wslib.connect(url(setup.server), origin="http://good.example") as conn:
        conn.send("ok")
        assert conn.recv(timeout=5) == "ok"


@pytest.mark.parametrize("kind", KINDS)
def test_client_that_trickles_its_handshake_is_cut_off(kind: str) -> None:
    # One byte every 0.1 s: the ~150 bytes would take 15 s; open_timeout cuts it at 0.5 s.
    with (
        start_server(kind, echo, open_timeout=0.5) as server,
        wslib.connect(url(server)) as bystander,
    ):
        start = time.monotonic()  # before the connection: the server's clock starts after this
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        request = handshake_bytes(server.port)
        cut_after = None
        for i in range(len(request)):
            try:
                sock.sendall(request[i : i + 1])
            except OSError:  # reset by the server
                cut_after = time.monotonic() - start
                break
            bystander.send(str(i))  # meanwhile, everyone else is served
            assert bystander.recv(timeout=5) == str(i)
            time.sleep(0.1)
            if cut_after is None and _closed_by_peer(sock):
                cut_after = time.monotonic() - start
                break
        # Cut, after open_timeout, long before the whole request could arrive (about 15 s).
        assert cut_after is not None and 0.5 <= cut_after < 10, cut_after
        sock.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


# --- bad frames after a valid handshake: a close frame with the right code ------------------------


BAD_FRAMES = {
    # §5.1 "The server MUST close the connection upon receiving a frame that is not masked."
    "unmasked frame": (wire(Opcode.TEXT, b"Hello", mask=None), 1002),
    # §5.5 control frames "MUST NOT be fragmented"
    "fragmented ping": (wire(Opcode.PING, b"p", fin=False), 1002),
    # §5.2 "If an unknown opcode is received, the receiving endpoint MUST _Fail_"
    "reserved opcode 0x3": (wire(0x3, b"x"), 1002),
    "reserved opcode 0xB": (wire(0xB, b"x"), 1002),
    # §5.2 RSV1-3 "MUST be 0 unless an extension is negotiated"
    "RSV1 set": (wire(Opcode.TEXT, b"x", rsv=0b100), 1002),
    "RSV2 and RSV3 set": (wire(Opcode.BINARY, b"x", rsv=0b011), 1002),
    # §8.1 text that is not UTF-8: "_Fail the WebSocket Connection_"; §7.4.1: 1007
    "invalid UTF-8": (wire(Opcode.TEXT, b"caf\xc3("), 1007),
    "invalid UTF-8 across fragments": (
        wire(Opcode.TEXT, b"ok", fin=False) + wire(Opcode.CONT, b"\xff"),
        1007,
    ),
    # §10.4 "MUST protect themselves against exceeding those limits"; §7.4.1: 1009
    "a frame announcing 2**63-1 bytes": (wire(Opcode.BINARY, length=2**63 - 1), 1009),
    "a message over max_size in fragments": (
        wire(Opcode.BINARY, bytes(2**19), fin=False)
        + wire(Opcode.CONT, bytes(2**19), fin=False)
        + wire(Opcode.CONT, b"\x00"),
        1009,
    ),
    # §5.4 a continuation frame continues something
    "continuation without a start": (wire(Opcode.CONT, b"x"), 1002),
    # §5.5.1, §7.4 a close code that may not be sent
    "close with code 1005": (wire(Opcode.CLOSE, struct.pack("!H", 1005)), 1002),
}


@pytest.mark.parametrize(("data", "code"), BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_bad_frame_is_answered_with_its_close_code(setup: Setup, data: bytes, code: int) -> None:
    raw = Raw(setup.port).handshake(setup.port)
    raw.send(data)
    close = raw.close_frame()
    assert close.code == code, close
    assert raw.at_eof()  # §7.1.7: after failing, the server ends TCP
    raw.close()
    assert wait_for(lambda: len(setup.server.connections) == 1)
    setup.still_serving()


def test_huge_frame_is_refused_at_once_and_memory_stays_flat(setup: Setup) -> None:
    raw = Raw(setup.port).handshake(setup.port)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # Only the header: 2 bytes, 8 of length, 4 of mask. The server MUST NOT wait for more:
        # the payload never comes, so a server that waited would never answer (the raw
        # client's read gives up after 5 s and fails the test).
        raw.send(wire(Opcode.BINARY, length=2**63 - 1))
        close = raw.close_frame()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert close.code == 1009
    assert peak - before < 2**20  # nothing near the announced size was allocated
    raw.close()
    setup.still_serving()


def test_client_disconnecting_mid_frame_ends_its_threads(setup: Setup) -> None:
    baseline = len(wslib_threads())
    raw = Raw(setup.port).handshake(setup.port)
    assert wait_for(lambda: len(setup.server.connections) == 2)
    # threads: its handler and its reader; asyncio: none (a task)
    per_connection = 2 if setup.kind == "sync" else 0
    assert wait_for(lambda: len(wslib_threads()) == baseline + per_connection)
    raw.send(wire(Opcode.TEXT, b"Hello, wor")[:8])  # half a frame, then gone
    raw.sock.shutdown(socket.SHUT_RDWR)
    raw.close()
    assert wait_for(lambda: len(setup.server.connections) == 1)
    assert wait_for(lambda: len(wslib_threads()) == baseline), wslib_threads()
    setup.still_serving()


def test_two_hundred_connections_opened_and_dropped_at_once(setup: Setup) -> None:
    baseline = len(wslib_threads())
    socks = []
    for i in range(200):
        sock = socket.create_connection(("127.0.0.1", setup.port), timeout=5)
        if i % 4 == 1:  # a part of a handshake
            sock.sendall(handshake_bytes(setup.port)[:40])
        elif i % 4 == 2:  # a whole handshake, and a frame cut in the middle
            sock.sendall(handshake_bytes(setup.port) + wire(Opcode.TEXT, b"abcdef")[:5])
        elif i % 4 == 3:  # a whole handshake and nothing else
            sock.sendall(handshake_bytes(setup.port))
        socks.append(sock)
    setup.still_serving()
    for sock in socks:
        sock.close()
    assert wait_for(lambda: len(wslib_threads()) == baseline, timeout=10), len(wslib_threads())
    assert wait_for(lambda: len(setup.server.connections) == 1)
    setup.still_serving()


@pytest.mark.parametrize("kind", KINDS)
def test_handshake_errors_do_not_leak_threads(kind: str) -> None:
    before = set(threading.enumerate())
    with start_server(kind, echo, origins=["http://good.example", None]) as server:
        for name, (request, _, _) in bad_requests(server.port).items():
            raw = Raw(server.port, request)
            assert raw.response().status >= 400, name
            raw.close()
    assert wait_for(lambda: set(threading.enumerate()) == before)


# --- slow and silent peers: handshakes in progress, trickled frames -------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_silent_connections_are_bounded_and_never_lock_out_a_real_client(kind: str) -> None:
    """1,000 silent TCP connections once made 1,000 threads. With at most 8 handshakes in
    progress, each newcomer pushes out the oldest silent one: the thread count stays bounded,
    and a real client, whose handshake takes a round trip, gets in during the flood."""
    cap = 8
    with start_server(kind, echo, max_pending_handshakes=cap, open_timeout=30) as server:
        with wslib.connect(url(server)) as bystander:
            baseline = len(wslib_threads())  # acceptor, the bystander's handler and readers
            silent: list[socket.socket] = []
            peak = 0
            try:
                for _ in range(150):
                    silent.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
                    peak = max(peak, len(wslib_threads()))
                # All but the newest `cap` were pushed out: the server ended their TCP.
                assert wait_for(lambda: sum(map(_closed_by_peer, silent)) >= len(silent) - cap)
                peak = max(peak, len(wslib_threads()))
                with wslib.connect(url(server), timeout=5) as during:  # during the flood
                    during.send("in")
                    assert during.recv(timeout=5) == "in"
            finally:
                for sock in silent:
                    sock.close()
            # Handshake threads: at most twice the cap (pushed-out ones end at once), plus a few
            # in their last line; before the limit, one per socket (150 here).
            assert peak <= baseline + 3 * cap, (peak, baseline)
            bystander.send("still there?")
            assert bystander.recv(timeout=5) == "still there?"
            with wslib.connect(url(server), timeout=5) as after:
                after.send("after")
                assert after.recv(timeout=5) == "after"


def trickle(raw: Raw, seconds: float) -> None:
    """Send one byte every 0.2 s until the server answers (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        readable, _, _ = select.select([raw.sock], [], [], 0.2)
        if readable:
            return
        raw.send(b"x")


@pytest.mark.parametrize("kind", KINDS)
def test_a_trickled_frame_is_cut_by_message_timeout(kind: str) -> None:
    """Without keepalive pings nothing else would notice: a 1 MiB frame announced, then one
    byte every 0.2 s (two months for the whole frame). message_timeout cuts it with 1008."""
    with start_server(kind, echo, ping_interval=None, message_timeout=1.0) as server:
        with wslib.connect(url(server)) as bystander:
            raw = Raw(server.port).handshake(server.port)
            start = time.monotonic()  # before the header: the server's clock starts after this
            raw.send(wire(Opcode.BINARY, bytes(2**20))[:14])  # header and mask: 14 bytes
            trickle(raw, 15)
            cut_after = time.monotonic() - start
            close = raw.close_frame()
            assert close.code == 1008, close  # policy violation (§7.4.1)
            assert 1.0 <= cut_after < 10, cut_after  # after the timeout, long before 15 s
            assert raw.at_eof()
            raw.close()
            bystander.send("still there?")
            assert bystander.recv(timeout=5) == "still there?"


@pytest.mark.parametrize("kind", KINDS)
def test_a_message_that_keeps_coming_is_not_cut_by_message_timeout(kind: str) -> None:
    """The control: frames that each arrive whole, slower than message_timeout in all."""
    with start_server(kind, echo, ping_interval=None, message_timeout=0.5) as server:
        raw = Raw(server.port).handshake(server.port)
        for i in range(4):  # 4 x 0.3 s: longer than the timeout, but each message is whole
            raw.send(wire(Opcode.TEXT, str(i).encode()))
            assert raw.frame().payload == str(i).encode()
            time.sleep(0.3)
        assert len(server.connections) == 1
        raw.close()


@pytest.mark.parametrize("kind", KINDS)
def test_close_returns_promptly_while_a_frame_is_trickled(kind: str) -> None:
    server = start_server(kind, echo, ping_interval=None, close_timeout=1)
    raw = Raw(server.port).handshake(server.port)
    raw.send(wire(Opcode.BINARY, bytes(2**20))[:14])
    stop = threading.Event()

    def trickler() -> None:
        while not stop.wait(0.2):
            try:
                raw.send(b"x")
            except OSError:
                return

    thread = threading.Thread(target=trickler)
    thread.start()
    try:
        time.sleep(0.5)  # the trickle is going on
        start = time.monotonic()
        server.close()
        duration = time.monotonic() - start
    finally:
        stop.set()
        thread.join(5)
        raw.close()
    assert duration < 5, duration  # close_timeout (1 s) and the joins, not the trickle's pace
