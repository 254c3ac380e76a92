"""A threaded WebSocket server on top of :mod:`wslib.protocol`: the article's server, done right.

A complete echo server, in a notebook cell or a script::

    import wslib

    def echo(conn):
        for message in conn:      # str for a text message, bytes for a binary one
            conn.send(message)    # ... sent back as the same kind

    with wslib.serve(echo) as server:          # serving in the background already
        print(f"ws://127.0.0.1:{server.port}/")
        ...                                     # on exit: every connection closed with 1001

Thread model (like the article: one thread per connection, plus one reader)
-------------------------------------------------------------------------------

- **One acceptor thread** per server waits for new TCP connections (``accept()``).
- **One connection thread** per TCP connection reads the opening handshake (RFC 6455 §4.2),
  answers it (101, an HTTP error, or the HTML page for a plain ``GET``), then runs *your
  handler* in that same thread, as the article did.
- **One reader thread** per WebSocket connection reads the socket, feeds the sans-I/O
  :class:`wslib.protocol.Connection`, answers pings and close frames, sends keepalive pings and
  queues messages for the handler. Without it, a handler that is busy (say, pushing the
  progress of a long task) would leave pings and close frames unanswered. The ``websockets``
  library's threaded implementation (``websockets.sync``) does the same.

So a WebSocket connection costs two threads. Everything that touches the protocol object and
writes to the socket holds one lock per connection, so :meth:`SyncConnection.send` is safe
from any thread: that is how a server *pushes* (see :meth:`Server.broadcast`).

Every wait has a time bound: the handshake (``open_timeout``), the closing handshake
(``close_timeout``), each write to a peer that does not read (``close_timeout`` too), and the
joins of every thread when the server stops.
"""

from __future__ import annotations

import importlib.resources
import logging
import secrets
import select
import socket
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeVar

from .exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidRequest,
    InvalidState,
)
from .frames import Frame
from .handshake import Headers, Request, Response, accept, reject
from .protocol import (
    SEND_EOF,
    BinaryMessage,
    Closed,
    Connection,
    Pong,
    Side,
    State,
    TextMessage,
)
from .streams import StreamReader

__all__ = [
    "Handler",
    "Message",
    "Server",
    "ServerConnection",
    "SyncConnection",
    "serve",
]

logger = logging.getLogger("wslib.server")
trace_logger = logging.getLogger("wslib.trace")

#: A message as the application sees it: ``str`` for text (opcode 0x1), ``bytes`` for binary.
Message = str | bytes
#: A handler is a function of one connection; it runs in the connection's own thread.
Handler = Callable[["ServerConnection"], Any]
#: A trace option: ``True`` (print and log), or a function that takes each trace line.
Trace = bool | Callable[[str], Any]

_T = TypeVar("_T")
_SelfT = TypeVar("_SelfT", bound="SyncConnection")

#: How much one ``recv()`` asks the kernel for.
RECV_SIZE = 65536
#: Longest wait of an idle loop before it looks at the clock again (a loop is never unbounded).
TICK = 1.0


# --- small socket helpers -------------------------------------------------------------------------


class _Readable:
    """Wait up to ``timeout`` seconds for a socket to have data (or EOF) to read.

    ``poll`` where it exists: unlike ``select`` it has no limit on file descriptor numbers,
    and a server with a thousand connections goes past ``select``'s 1024.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.poller = select.poll() if hasattr(select, "poll") else None
        if self.poller is not None:
            self.poller.register(sock, select.POLLIN)

    def wait(self, timeout: float) -> bool:
        if self.poller is not None:
            return bool(self.poller.poll(max(0, int(timeout * 1000))))
        readable, _, _ = select.select([self.sock], [], [], max(0.0, timeout))  # pragma: no cover
        return bool(readable)  # pragma: no cover


def read_until_parsed(
    sock: socket.socket,
    reader: StreamReader,
    parser: Generator[None, None, _T],
    deadline: float,
) -> _T:
    """Feed ``sock``'s bytes to a generator parser until it returns; within ``deadline``.

    ``deadline`` is a :func:`time.monotonic` time: past it, :class:`TimeoutError`. A client
    that trickles its request one byte per second is cut off by this deadline, whatever the
    pace of its bytes. :class:`EOFError` (from the parser) when the peer ends the stream.
    """
    try:
        next(parser)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the peer did not finish its handshake in time")
        sock.settimeout(remaining)
        data = sock.recv(RECV_SIZE)
        if data:
            reader.feed_data(data)
        else:
            reader.feed_eof()
        try:
            parser.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def close_socket_gracefully(sock: socket.socket, timeout: float = 1.0) -> None:
    """End our side of TCP, drain what the peer still sends (up to ``timeout``), then close.

    Closing a socket with unread data makes the kernel send a RST, which may destroy the
    response we just sent before the peer reads it: draining first avoids that.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            if not sock.recv(RECV_SIZE):
                break
    except OSError:
        pass
    finally:
        sock.close()


# --- trace: every frame in and out ----------------------------------------------------------------


class _PrintHandler(logging.Handler):
    """Print trace lines to the *current* ``sys.stdout`` (a notebook cell, pytest's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stdout, flush=True)
        except Exception:  # pragma: no cover - logging must never break the connection
            self.handleError(record)


def _print_trace_line(line: str) -> None:
    if not any(isinstance(h, _PrintHandler) for h in trace_logger.handlers):
        trace_logger.addHandler(_PrintHandler())
        if trace_logger.level == logging.NOTSET:
            trace_logger.setLevel(logging.INFO)
    trace_logger.info(line)


def make_tracer(trace: Trace, who: str) -> Callable[[str], None] | None:
    """Turn the ``trace`` option into a function of one line, or ``None`` when tracing is off.

    ``trace=True`` prints every line (visible in a notebook cell) through the ``logging``
    logger ``"wslib.trace"``; a function, such as ``print`` or ``lines.append``, receives each
    line instead. Each line starts with ``who`` (the peer) and an arrow: ``>`` sent, ``<``
    received, like websocket-client's ``enableTrace``.
    """
    if not trace:
        return None
    emit: Callable[[str], Any] = _print_trace_line if trace is True else trace

    def line(text: str) -> None:
        emit(f"{who} {text}")

    return line


def _frame_tracer(line: Callable[[str], None] | None) -> Callable[[str, Frame], None] | None:
    """The protocol's trace callback: ``("<" or ">", frame)`` -> ``< TEXT fin=1 len=5 'hi'``."""
    if line is None:
        return None

    def trace_frame(direction: str, frame: Frame) -> None:
        line(f"{direction} {frame}")

    return trace_frame


def _waiter_deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


# --- a WebSocket connection over a blocking socket ------------------------------------------------


class SyncConnection:
    """A WebSocket connection over a socket, with a reader thread; the server's and the client's.

    The public API: :meth:`send`, :meth:`recv`, iteration, :meth:`ping`, :meth:`close`, and the
    attributes :attr:`close_code`, :attr:`close_reason`, :attr:`remote_address`,
    :attr:`subprotocol`. Build one with :func:`wslib.serve` (a :class:`ServerConnection` for
    the handler) or :func:`wslib.connect` (a :class:`~wslib.client.ClientConnection`).
    """

    def __init__(
        self,
        sock: socket.socket,
        protocol: Connection,
        *,
        subprotocol: str | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 10.0,
        max_queue: int = 16,
        trace_line: Callable[[str], None] | None = None,
    ) -> None:
        self.socket = sock
        self.protocol = protocol
        self.subprotocol = subprotocol
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.max_queue = max_queue
        self._trace_line = trace_line
        try:
            self.remote_address: Any = sock.getpeername()
            self.local_address: Any = sock.getsockname()
        except OSError:  # the peer is already gone
            self.remote_address = self.local_address = None
        # A write to a peer that does not read blocks at most this long (then: abort).
        sock.settimeout(close_timeout)

        # One lock around the protocol object and the socket's writes: send() from any thread.
        self._lock = threading.Lock()
        self._socket_closed = False
        # Messages for recv(): the reader appends, recv() pops; bounded by max_queue.
        self._inbox: deque[Message] = deque()
        self._inbox_changed = threading.Condition()
        self._reader_done = threading.Event()
        self._closed: Closed | None = None
        # Pings waiting for their pong, oldest first: payload -> event set when it arrives.
        self._pings: OrderedDict[bytes, threading.Event] = OrderedDict()
        self._close_deadline: float | None = None
        self._reader = threading.Thread(
            target=self._read_loop, name=f"wslib-reader-{self.remote_address}", daemon=True
        )

    # --- starting ---------------------------------------------------------------------------------

    def start(self, leftover: bytes = b"") -> None:
        """Feed bytes that arrived with the handshake, then start the reader thread."""
        if leftover:
            with self._lock:
                self.protocol.receive_data(leftover)
                events = self.protocol.events_received()
                self._flush()
            for event in events:
                # No backpressure here: nobody reads yet, and this is one recv() at most.
                self._dispatch(event, wait=False)
        self._reader.start()

    # --- sending ----------------------------------------------------------------------------------

    def send(self, message: Message | Iterable[str] | Iterable[bytes]) -> None:
        """Send a message: a ``str`` as a text message, ``bytes`` as a binary one (RFC 6455 §5.6).

        An iterable of ``str`` (or of ``bytes``) is sent as one fragmented message, one frame
        per item (§5.4). Safe to call from any thread. Raises
        :class:`~wslib.exceptions.ConnectionClosed` once the connection is closing or closed.
        """
        if isinstance(message, (bytearray, memoryview)):
            message = bytes(message)
        if isinstance(message, (str, bytes)):
            fragments: list[Any] = [message]
        elif isinstance(message, Iterable):
            fragments = list(message)
            if not fragments:
                return
            kinds = {type(fragment) for fragment in fragments}
            if not (kinds <= {str} or kinds <= {bytes}):
                raise TypeError("fragments must all be str or all be bytes")
        else:
            raise TypeError(f"cannot send {type(message).__name__}: use str or bytes")
        with self._lock:
            self._check_open()
            last = len(fragments) - 1
            for i, fragment in enumerate(fragments):
                if i > 0:
                    self.protocol.send_continuation(fragment, fin=i == last)
                elif isinstance(fragment, str):
                    self.protocol.send_text(fragment, fin=i == last)
                else:
                    self.protocol.send_binary(fragment, fin=i == last)
            self._flush(raise_errors=True)

    def ping(self, data: bytes | str | None = None) -> threading.Event:
        """Send a ping (RFC 6455 §5.5.2); return an event that is set when its pong arrives.

        ``data`` defaults to 4 random bytes, so that each ping has its own pong.
        ``conn.ping().wait(5)`` is ``True`` if the peer answered within 5 seconds. A pong also
        answers every ping sent before its own (§5.5.3 lets a peer answer only the latest).
        """
        with self._lock:
            self._check_open()
            if data is None:
                data = secrets.token_bytes(4)
                while data in self._pings:  # pragma: no cover - 1 chance in 4 billion
                    data = secrets.token_bytes(4)
            elif isinstance(data, str):
                data = data.encode()
            if data in self._pings:
                raise InvalidState(f"already waiting for a pong to a ping with payload {data!r}")
            event = threading.Event()
            self.protocol.send_ping(data)
            self._pings[data] = event
            self._flush(raise_errors=True)
        return event

    def _check_open(self) -> None:
        """Raise ConnectionClosed if messages can no longer be sent. Hold the lock."""
        if self.protocol.state is not State.OPEN:
            raise self._closed_exception()

    def _closed_exception(self) -> ConnectionClosed:
        """What send() and recv() raise once the connection is closing or closed."""
        protocol = self.protocol
        if protocol.state is State.LOCAL_CLOSING and protocol.close_received is None:
            # We sent a close frame and wait for the answer: report the code we sent.
            sent = protocol.close_sent
            code, reason = (1006, "") if sent is None else (int(sent.code), sent.reason)
            if code in (1000, 1001, 1005):
                return ConnectionClosedOK(code, reason)
            return ConnectionClosedError(code, reason)
        # ConnectionClosedOK for 1000, 1001 (or no code) both ways, else ConnectionClosedError.
        return protocol.close_exception()

    def _flush(self, *, raise_errors: bool = False) -> None:
        """Write what the protocol wants to send. Hold the lock.

        ``SEND_EOF`` means "end our side of TCP" (``shutdown(SHUT_WR)``): after the closing
        handshake the server ends TCP first (RFC 6455 §7.1.1). A write that fails or times out
        leaves the stream in an unknown state: the connection is aborted.
        """
        for data in self.protocol.data_to_send():
            if self._socket_closed:
                break
            try:
                if data == SEND_EOF:
                    self.socket.shutdown(socket.SHUT_WR)
                else:
                    self.socket.sendall(data)
            except OSError as exc:
                self._abort_locked()
                if raise_errors:
                    raise ConnectionClosedError(1006, "") from exc
                break
        if self._close_deadline is None and self.protocol.close_expected():
            # RFC 6455 §7.1.1: wait for the peer to end TCP, but not forever.
            self._close_deadline = time.monotonic() + self.close_timeout

    def _abort_locked(self) -> None:
        """Cut the TCP connection (both ways); the reader sees EOF and finishes. Hold the lock."""
        if not self._socket_closed:
            try:
                self.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _abort(self) -> None:
        with self._lock:
            self._abort_locked()

    # --- receiving --------------------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> Message:
        """The next message: ``str`` (text) or ``bytes`` (binary), waiting up to ``timeout`` s.

        Raises :class:`TimeoutError` when nothing arrived in time, and once the connection is
        closed and every message was read, :class:`~wslib.exceptions.ConnectionClosedOK`
        (closed with 1000 or 1001) or :class:`~wslib.exceptions.ConnectionClosedError`
        (any other code, or 1006 when the TCP connection dropped without a close frame).
        """
        deadline = _waiter_deadline(timeout)
        with self._inbox_changed:
            while not self._inbox and not self._reader_done.is_set():
                wait = TICK if deadline is None else min(TICK, deadline - time.monotonic())
                if wait <= 0:
                    raise TimeoutError(f"no message within {timeout} seconds")
                self._inbox_changed.wait(wait)
            if self._inbox:
                message = self._inbox.popleft()
                self._inbox_changed.notify_all()
                return message
        raise self._closed_exception()

    def __iter__(self) -> Iterator[Message]:
        """Each message until the connection closes; ends quietly on a normal close (1000/1001).

        After an abnormal close, :class:`~wslib.exceptions.ConnectionClosedError` propagates.
        """
        while True:
            try:
                yield self.recv()
            except ConnectionClosedOK:
                return

    # --- closing ----------------------------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 §7.1.2) and wait until it is over.

        Sends a close frame with ``code`` and ``reason``, waits up to ``close_timeout`` for the
        peer's close frame and the end of TCP, then cuts the connection if it has not ended.
        Closing a closed connection does nothing.
        """
        self._start_close(code, reason)
        self.wait_closed(time.monotonic() + self.close_timeout)

    def _start_close(self, code: int, reason: str) -> None:
        with self._lock:
            if self.protocol.state is State.OPEN:
                self.protocol.send_close(code, reason)
                self._flush()

    def wait_closed(self, deadline: float) -> bool:
        """Wait until the reader thread has finished (the connection is closed); past
        ``deadline`` (a :func:`time.monotonic` time), cut TCP, which ends the reader at once."""
        if threading.current_thread() is self._reader or not self._reader.is_alive():
            return self._reader_done.is_set()
        if not self._reader_done.wait(max(0.0, deadline - time.monotonic())):
            self._abort()
            self._reader_done.wait(TICK)
        self._reader.join(TICK)
        return self._reader_done.is_set()

    @property
    def state(self) -> State:
        """The protocol state: OPEN, LOCAL_CLOSING, REMOTE_CLOSING or CLOSED."""
        return self.protocol.state

    @property
    def close_code(self) -> int | None:
        """The close code once the connection is closed (1006: no close frame), else None."""
        return None if self._closed is None else self._closed.code

    @property
    def close_reason(self) -> str | None:
        """The close reason once the connection is closed, else None."""
        return None if self._closed is None else self._closed.reason

    def __enter__(self: _SelfT) -> _SelfT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the reader thread ------------------------------------------------------------------------

    def _read_loop(self) -> None:
        """Read, feed the protocol, dispatch events, keep alive; until the connection is over."""
        next_ping = None if self.ping_interval is None else time.monotonic() + self.ping_interval
        keepalive: tuple[threading.Event, float] | None = None  # the pending ping, its deadline
        readable = _Readable(self.socket)
        try:
            while self.protocol.state is not State.CLOSED:
                now = time.monotonic()
                # The closing handshake took too long: RFC 6455 §7.1.1 lets us end TCP.
                if self._close_deadline is not None and now >= self._close_deadline:
                    break
                # Keepalive: a ping every ping_interval; no pong within ping_timeout -> 1011.
                if next_ping is not None and self.protocol.state is State.OPEN:
                    if keepalive is not None and keepalive[0].is_set():
                        keepalive = None
                    if keepalive is not None and now >= keepalive[1]:
                        self._fail(1011, "keepalive ping timeout")
                        continue
                    if keepalive is None and now >= next_ping:
                        try:
                            waiter = self.ping()
                        except ConnectionClosed:
                            continue
                        timeout = self.ping_timeout
                        if timeout is not None:
                            keepalive = (waiter, now + timeout)
                        next_ping = now + (self.ping_interval or 0)
                deadlines = [now + TICK]
                if self._close_deadline is not None:
                    deadlines.append(self._close_deadline)
                if next_ping is not None and keepalive is None:
                    deadlines.append(next_ping)
                if keepalive is not None:
                    deadlines.append(keepalive[1])
                if not readable.wait(min(deadlines) - now):
                    continue
                try:
                    data = self.socket.recv(RECV_SIZE)
                except OSError:
                    data = b""
                with self._lock:
                    if data:
                        self.protocol.receive_data(data)
                    else:
                        self.protocol.receive_eof()
                    events = self.protocol.events_received()
                    self._flush()
                for event in events:
                    self._dispatch(event)
        except Exception:  # pragma: no cover - a bug in wslib: log it, never hang
            logger.exception("unexpected error in the reader thread of %s", self.remote_address)
        finally:
            with self._lock:
                if self.protocol.state is not State.CLOSED:
                    self.protocol.receive_eof()  # the connection is over: 1006 if no close frame
                    events = self.protocol.events_received()
                    self._flush()
                else:
                    events = []
                self._socket_closed = True
                self.socket.close()
            for event in events:
                self._dispatch(event)
            if self._closed is None:  # pragma: no cover - the protocol always reports Closed
                self._closed = Closed(1006, "")
            with self._inbox_changed:
                self._reader_done.set()
                self._inbox_changed.notify_all()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): send a close frame, then end TCP at once."""
        if self._trace_line is not None:
            self._trace_line(f"! failing the connection: {code} {reason}")
        with self._lock:
            if self.protocol.state is State.OPEN:
                self.protocol.send_close(code, reason)
            self._flush()
        self._close_deadline = time.monotonic()  # no waiting for the peer's answer

    def _dispatch(self, event: object, *, wait: bool = True) -> None:
        """Handle one protocol event in the reader thread (pongs were already sent by it)."""
        if isinstance(event, (TextMessage, BinaryMessage)):
            with self._inbox_changed:
                # Backpressure: when the handler does not keep up, stop reading (while open).
                while (
                    wait
                    and len(self._inbox) >= self.max_queue
                    and self.protocol.state is State.OPEN
                ):
                    self._inbox_changed.wait(TICK)
                self._inbox.append(event.data)
                self._inbox_changed.notify_all()
        elif isinstance(event, Pong):
            with self._lock:
                if event.payload in self._pings:
                    # This pong answers its ping and every ping sent before it (§5.5.3).
                    while self._pings:
                        data, waiter = self._pings.popitem(last=False)
                        waiter.set()
                        if data == event.payload:
                            break
        elif isinstance(event, Closed):
            self._closed = event


class ServerConnection(SyncConnection):
    """The connection a handler receives: :class:`SyncConnection` plus the client's request.

    ``conn.path`` is the request path (``/chat?room=1``), ``conn.request_headers`` its headers
    (behind a proxy, ``conn.request_headers.get("X-Forwarded-For")`` names the real client),
    ``conn.remote_address`` the TCP peer and ``conn.subprotocol`` the one negotiated.
    """

    def __init__(self, sock: socket.socket, protocol: Connection, request: Request, **kw: Any):
        super().__init__(sock, protocol, **kw)
        self.request = request

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def request_headers(self) -> Headers:
        return self.request.headers

    def __repr__(self) -> str:
        return f"<ServerConnection {self.remote_address} {self.path} {self.state.name}>"


# --- the server -----------------------------------------------------------------------------------


def _index_html() -> bytes:
    """The browser page served at ``GET /`` (wslib/static/index.html)."""
    return importlib.resources.files("wslib").joinpath("static/index.html").read_bytes()


def _http_response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


class Server:
    """A running WebSocket server; :func:`serve` makes one. Stop it with :meth:`close`.

    ``server.port`` is the bound port, ``server.connections`` the open connections and
    :meth:`broadcast` sends one message to all of them. A context manager: leaving the
    ``with`` block closes the server.
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float = 10.0,
        close_timeout: float = 10.0,
        max_connections: int | None = None,
        origins: Iterable[str | None] | None = None,
        subprotocols: Iterable[str] = (),
        max_size: int | None = 2**20,
        max_queue: int = 16,
        trace: Trace = False,
    ) -> None:
        self.handler = handler
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.max_connections = max_connections
        self.origins = None if origins is None else list(origins)
        self.subprotocols = list(subprotocols)
        self.max_size = max_size
        self.max_queue = max_queue
        self.trace = trace

        # A backlog of 1024: a burst of connections waits in the kernel, not refused.
        self.socket = socket.create_server((host, port), backlog=1024)
        self.host: str = self.socket.getsockname()[0]
        self.port: int = self.socket.getsockname()[1]
        # A socket pair to wake the acceptor up when the server closes.
        self._wakeup_recv, self._wakeup_send = socket.socketpair()
        self._lock = threading.Lock()
        self._closing = False
        self._connections: set[ServerConnection] = set()
        self._handshaking: set[socket.socket] = set()  # sockets still in the opening handshake
        self._opening = 0  # handshakes accepted whose connection is not registered yet
        self._threads: set[threading.Thread] = set()  # connection threads
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"wslib-server-{self.port}", daemon=True
        )
        self._acceptor.start()
        logger.info("serving on ws://%s:%d/", self.host, self.port)

    def __repr__(self) -> str:
        state = "closed" if self._closing else "serving"
        return f"<Server ws://{self.host}:{self.port}/ {state}, {len(self._connections)} open>"

    # --- accepting --------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        poller = select.poll() if hasattr(select, "poll") else None
        if poller is not None:
            poller.register(self.socket, select.POLLIN)
            poller.register(self._wakeup_recv, select.POLLIN)
        while not self._closing:
            if poller is not None:
                ready = {fd for fd, _ in poller.poll(int(TICK * 1000))}
                if self._wakeup_recv.fileno() in ready:
                    break
                if self.socket.fileno() not in ready:
                    continue
            else:  # pragma: no cover - Windows
                readable, _, _ = select.select([self.socket, self._wakeup_recv], [], [], TICK)
                if self._wakeup_recv in readable:
                    break
                if not readable:
                    continue
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            except OSError:  # too many open files, ...: wait a little, then go on
                logger.exception("accept() failed")
                time.sleep(0.1)
                continue
            try:  # small messages go out at once rather than wait to be merged (Nagle)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - the client is already gone
                pass
            thread = threading.Thread(
                target=self._handle, args=(sock, address), name=f"wslib-conn-{address}", daemon=True
            )
            with self._lock:
                if self._closing:
                    sock.close()
                    break
                self._threads.add(thread)
                self._handshaking.add(sock)
            thread.start()

    # --- one connection ---------------------------------------------------------------------------

    def _handle(self, sock: socket.socket, address: Any) -> None:
        """The connection thread: handshake, then the handler, then the closing handshake."""
        who = "{}:{}".format(*address[:2]) if isinstance(address, tuple) else str(address)
        trace_line = make_tracer(self.trace, f"[server, client {who}]")
        conn: ServerConnection | None = None
        try:
            conn = self._handshake(sock, who, trace_line)
            if conn is None:
                return
            code = 1000  # the handler returned: a normal closure
            try:
                self.handler(conn)
            except ConnectionClosed:
                pass  # the peer went away in the middle of the handler: nothing to report
            except Exception:
                logger.exception("the handler failed on %s", who)
                # RFC 6455 §7.4.1: 1011 "unexpected condition", without the details
                code = 1011
            conn.close(code, "")  # if not closed yet; waits for the reader thread in any case
        except Exception:  # pragma: no cover - a bug in wslib: log it, never crash the server
            logger.exception("unexpected error on %s", who)
        finally:
            with self._lock:
                self._handshaking.discard(sock)
                if conn is not None:
                    self._connections.discard(conn)
                self._threads.discard(threading.current_thread())
            if conn is None:
                sock.close()

    def _send_and_close(self, sock: socket.socket, response: Response, trace: Any) -> None:
        if trace is not None:
            trace(f"> {response.version} {response.status} {response.reason}")
        with self._lock:
            self._handshaking.discard(sock)  # from now on this thread alone closes it
        try:
            sock.settimeout(self.close_timeout)
            sock.sendall(response.serialize())
        except OSError:
            pass
        close_socket_gracefully(sock)

    def _handshake(
        self, sock: socket.socket, who: str, trace: Callable[[str], None] | None
    ) -> ServerConnection | None:
        """Read and answer the opening handshake (RFC 6455 §4.2); None if it failed."""
        reader = StreamReader()
        try:
            request = read_until_parsed(
                sock,
                reader,
                Request.parse(reader.read_line),
                time.monotonic() + self.open_timeout,
            )
        except InvalidRequest as error:  # malformed HTTP, or a head over a limit: 400
            logger.info("bad request from %s: %s", who, error)
            self._send_and_close(sock, reject(error), trace)
            return None
        except (TimeoutError, EOFError, OSError) as error:
            # Too slow (open_timeout) or gone: there is nobody to answer, just close.
            logger.info("no handshake from %s: %s", who, error or type(error).__name__)
            with self._lock:
                self._handshaking.discard(sock)
            return None
        if trace is not None:
            trace(f"< {request.method} {request.path} {request.version}")

        # A plain GET without "Upgrade": a browser visiting the server gets the demo page.
        if request.method == "GET" and "Upgrade" not in request.headers:
            page = _http_response(HTTPStatus.OK, _index_html(), "text/html; charset=utf-8")
            self._send_and_close(sock, page, trace)
            return None
        try:
            response = accept(request, origins=self.origins, subprotocols=self.subprotocols)
        except InvalidRequest as error:  # 400, 403, 405, 426: RFC 6455 §4.2.2, §4.4
            logger.info("handshake refused for %s: %s", who, error)
            self._send_and_close(sock, reject(error), trace)
            return None

        protocol = Connection(Side.SERVER, max_size=self.max_size, trace=_frame_tracer(trace))
        conn = ServerConnection(
            sock,
            protocol,
            request,
            subprotocol=response.headers.get("Sec-WebSocket-Protocol"),
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
            max_queue=self.max_queue,
            trace_line=trace,
        )
        with self._lock:  # count this one before its 101 goes out, so two cannot both pass
            full = (
                self.max_connections is not None
                and self._opening + sum(c.state is State.OPEN for c in self._connections)
                >= self.max_connections
            )
            if not (full or self._closing):
                self._opening += 1
                self._handshaking.discard(sock)  # close() now waits for its registration
        if full or self._closing:
            message = (
                f"this server accepts at most {self.max_connections} connections; try again later"
                if full
                else "this server is shutting down"
            )
            logger.info("refused %s: %s", who, message)
            busy = _http_response(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"Failed to open a WebSocket connection: {message}\n".encode(),
                "text/plain; charset=utf-8",
            )
            busy.headers["Retry-After"] = "1"
            self._send_and_close(sock, busy, trace)
            return None
        try:
            sock.settimeout(self.close_timeout)
            sock.sendall(response.serialize())
        except OSError:
            with self._lock:
                self._opening -= 1
            return None
        if trace is not None:
            trace(f"> {response.version} {response.status} {response.reason}")
        conn.start(bytes(reader.buffer))
        with self._lock:
            self._opening -= 1
            closing = self._closing
            if not closing:
                self._connections.add(conn)
        if closing:  # the server started closing during this handshake
            conn.close(1001, "server shutting down")
            return None
        return conn

    # --- push -------------------------------------------------------------------------------------

    @property
    def connections(self) -> list[ServerConnection]:
        """A snapshot of the open connections (safe to iterate while clients come and go)."""
        with self._lock:
            return [c for c in self._connections if c.state is State.OPEN]

    def broadcast(self, message: Message) -> int:
        """Send ``message`` to every open connection; return how many it was sent to.

        A connection that fails (closed meanwhile, peer gone) is skipped: it never stops the
        broadcast to the others. A peer that does not read can delay it by ``close_timeout``
        at most, after which that connection is cut.
        """
        sent = 0
        for conn in self.connections:
            try:
                conn.send(message)
            except (ConnectionClosed, OSError):
                continue
            sent += 1
        return sent

    # --- stopping ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the server: stop accepting, close every connection with 1001, join every thread.

        Each wait is bounded: ``close_timeout`` for the closing handshakes (all in parallel),
        then a little more for the threads. A handler that ignores its closed connection (it
        sleeps instead of reading) keeps its thread: a warning names it.
        """
        with self._lock:
            if self._closing:
                return
            self._closing = True
            connections = list(self._connections)
            # Wake up the threads that read a handshake. Under the lock: a thread closes its
            # socket only after removing it from the set, so this never touches a reused fd.
            for sock in self._handshaking:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        try:
            self._wakeup_send.send(b"x")
        except OSError:  # pragma: no cover
            pass
        self._acceptor.join(TICK + 1)
        self.socket.close()
        # RFC 6455 §7.4.1: 1001 "an endpoint is going away, such as a server going down"
        for conn in connections:
            conn._start_close(1001, "server shutting down")
        deadline = time.monotonic() + self.close_timeout
        for conn in connections:
            conn.wait_closed(deadline)
        with self._lock:
            threads = list(self._threads)
        # A handshake that ended during close() closes its connection itself: give it as long.
        deadline += 2 * TICK + 1
        for thread in threads:
            if thread is threading.current_thread():
                continue  # close() called by a handler: its own thread ends when it returns
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning(
                    "%s did not finish: its handler ignores the closed connection", thread
                )
        self._wakeup_recv.close()
        self._wakeup_send.close()
        logger.info("server on port %d closed", self.port)

    shutdown = close

    def serve_forever(self) -> None:
        """Block until the server is closed (from another thread) or Ctrl-C, then close it."""
        try:
            while self._acceptor.is_alive():
                self._acceptor.join(TICK)
        finally:
            self.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    open_timeout: float = 10.0,
    close_timeout: float = 10.0,
    max_connections: int | None = None,
    origins: Iterable[str | None] | None = None,
    subprotocols: Iterable[str] = (),
    max_size: int | None = 2**20,
    max_queue: int = 16,
    trace: Trace = False,
) -> Server:
    """Start a WebSocket server in the background and return it: it is serving already.

    ``handler(conn)`` runs in its own thread for each connection (a :class:`ServerConnection`).
    ``port=0`` lets the system pick a free port: read it from ``server.port``. The options,
    with their defaults and why:

    - ``ping_interval=20.0``, ``ping_timeout=20.0``: a keepalive ping every 20 s, and the
      connection fails with 1011 ("keepalive ping timeout", as the ``websockets`` library does)
      if the pong is not back 20 s later. Proxies and load balancers cut idle connections
      (nginx's ``proxy_read_timeout`` and many load balancers: 60 s), so 20 s keeps a
      connection busy enough to stay up and notices a dead peer within 40 s. The CDN of the
      article cuts after 10 s of silence: behind it, use less than 10. ``None`` disables.
    - ``open_timeout=10.0``: the whole opening handshake must arrive within 10 s; a client that
      trickles its request one byte per second is cut off (a slowloris attack).
    - ``close_timeout=10.0``: how long to wait for the peer's side of the closing handshake
      (RFC 6455 §7.1.1), and for one write to a peer that does not read, before cutting TCP.
    - ``max_connections=None``: above that many open connections, a new client gets
      ``503 Service Unavailable`` (with ``Retry-After``) instead of a 101.
    - ``origins=None``: any ``Origin``; a list allows only those (``None`` in it: clients that
      send no Origin, which are not browsers). Others get ``403 Forbidden`` (RFC 6455 §10.2).
    - ``subprotocols=()``: those the server speaks; it picks the client's first offer it
      knows (RFC 6455 §4.2.2), and ``conn.subprotocol`` tells which (or None).
    - ``max_size=2**20``: the largest message accepted (1 MiB, like ``websockets``); a bigger
      one closes the connection with 1009. ``None``: no limit (not on the internet!).
    - ``max_queue=16``: messages received but not yet read by the handler; past that the
      server stops reading from this client (TCP backpressure) until the handler catches up.
    - ``trace=False``: ``True`` prints every frame in and out (direction, opcode, FIN, length,
      a preview of the payload) and the handshake lines, through the logger ``"wslib.trace"``;
      or pass a function that takes each line, such as ``print``.
    """
    return Server(
        handler,
        host,
        port,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        open_timeout=open_timeout,
        close_timeout=close_timeout,
        max_connections=max_connections,
        origins=origins,
        subprotocols=subprotocols,
        max_size=max_size,
        max_queue=max_queue,
        trace=trace,
    )
