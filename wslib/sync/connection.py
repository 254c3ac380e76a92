"""A WebSocket connection over a blocking socket: what the threaded server and client share.

:class:`SyncConnection` drives the sans-I/O :class:`wslib.protocol.Connection` with threads: a
reader thread feeds it what arrives on the socket (answering pings and close frames while the
application is busy) and queues the messages; :meth:`SyncConnection.send`,
:meth:`~SyncConnection.recv`
and :meth:`~SyncConnection.close` are what the application calls, from any thread (one lock per
connection guards the protocol object and the socket). :mod:`wslib.sync.server` and
:mod:`wslib.sync.client` build on it; neither imports the other.

Every wait has a time bound: the closing handshake (``close_timeout``, or none at all after this
side failed the connection), each write to a peer that does not read (``close_timeout`` too), a
message that the peer started (``message_timeout``, optional), and the join of the reader thread.
"""

from __future__ import annotations

import logging
import os
import secrets
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from ..broadcast import (
    TOO_SLOW,
    TOO_SLOW_CODE,
    WRITE_LIMIT,
    BroadcastResult,
    Prepared,
    Slow,
    prepare,
)
from ..exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidState,
)
from ..limits import RATE_LIMITED, RATE_LIMITED_CODE, RateLimit
from ..protocol import (
    SEND_EOF,
    BinaryMessage,
    Closed,
    Connection,
    Pong,
    State,
    TextMessage,
)
from ..streams import StreamReader
from ..timing import FAILURE_GRACE, Action, Deadlines, PingTracker, failure_may_go
from ..trace import Trace, make_tracer

__all__ = [
    "Message",
    "SyncConnection",
    "Trace",
    "broadcast",
    "make_tracer",
    "read_until_parsed",
]

logger = logging.getLogger("wslib.server")  # the name the server always logged under

#: A message as the application sees it: ``str`` for text (opcode 0x1), ``bytes`` for binary.
Message = str | bytes

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


def _writable_now(sock: socket.socket) -> bool:
    """Has the socket's send buffer room right now? (Never waits.)"""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        return bool(poller.poll(0))
    _, writable, _ = select.select([], [sock], [], 0)  # pragma: no cover - Windows
    return bool(writable)  # pragma: no cover


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


def end_tcp_gracefully(sock: socket.socket, timeout: float = 1.0) -> None:
    """End our side of TCP, then drain what the peer still sends (up to ``timeout``).

    Closing a socket with unread data makes the kernel send a RST, which may destroy the
    response we just sent before the peer reads it: draining first avoids that. The caller
    closes the socket afterwards.
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


def _waiter_deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


# --- a WebSocket connection over a blocking socket ------------------------------------------------


class SyncConnection:
    """A WebSocket connection over a socket, with a reader thread; the server's and the client's.

    The public API: :meth:`send`, :meth:`recv`, iteration, :meth:`ping`, :meth:`close`, and the
    attributes :attr:`close_code`, :attr:`close_reason`, :attr:`remote_address`,
    :attr:`subprotocol`. Build one with :func:`wslib.serve` (a :class:`ServerConnection` for
    the handler) or :func:`wslib.connect` (a :class:`~wslib.sync.client.ClientConnection`).
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
        message_timeout: float | None = None,
        max_queue: int = 16,
        trace_line: Callable[[str], None] | None = None,
        write_limit: int | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.socket = sock
        self.protocol = protocol
        self.subprotocol = subprotocol
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.message_timeout = message_timeout
        self.max_queue = max_queue
        self._trace_line = trace_line
        # Messages per second from the peer (wslib.limits): past it, the connection fails (1008).
        self._rate_limit = rate_limit
        try:
            self.remote_address: Any = sock.getpeername()
            self.local_address: Any = sock.getsockname()
        except OSError:  # the peer is already gone
            self.remote_address = self.local_address = None
        # A write to a peer that does not read blocks at most this long (then: abort).
        sock.settimeout(close_timeout)
        # Backpressure: send() blocks in sendall() while the kernel's send buffer is full.
        # write_limit sizes that buffer (SO_SNDBUF; Linux doubles it for its bookkeeping);
        # None keeps the kernel's own, autotuned up to net.ipv4.tcp_wmem's maximum (4 MiB).
        self.write_limit = write_limit
        if write_limit is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, write_limit)
        # Broadcast (see send_prepared_nowait): the tail of a frame that a non-blocking write
        # left unsent (written first by every later write), and the messages queued for a
        # writer thread while this peer is slow: at most write_limit bytes (or WRITE_LIMIT).
        self._tail = b""
        self._outbox: deque[Prepared] = deque()
        self._outbox_bytes = 0
        self._outbox_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._close_when_written = False
        # On a plain TCP socket (not TLS) on POSIX, the reader and the writers use its file
        # descriptor directly (os.read, os.write): CPython's recv() and sendall() on a socket
        # with a timeout call poll() before each read or write, one system call per message
        # that the reader (which polled already) and a writer with room to write do not need.
        self._plain = type(sock) is socket.socket and os.name == "posix"

        # One lock around the protocol object and the socket's writes: send() from any thread.
        self._lock = threading.Lock()
        self._socket_closed = False
        # Messages for recv(): the reader appends, recv() pops; bounded by max_queue.
        self._inbox: deque[Message] = deque()
        self._inbox_changed = threading.Condition()
        self._receivers_waiting = 0  # recv() calls waiting for a message (under _inbox_changed)
        # The reader waits for the application (a full inbox, or a failure held back): only
        # then does recv() have to wake it (under _inbox_changed; saves a notify per message).
        self._reader_waiting = False
        self._reader_done = threading.Event()
        self._closed: Closed | None = None
        # Pings waiting for their pong, oldest first: payload -> event set when it arrives.
        self._pings: PingTracker[threading.Event] = PingTracker()
        # Keepalive, close timeout, message timeout: the clocks of wslib.timing.
        self._deadlines = Deadlines(
            time.monotonic(),
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            message_timeout=message_timeout,
        )
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
            self._deadlines.received(bool(events), time.monotonic())
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
            self._pings.add(data, event)
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
        if self._tail and not self._socket_closed:  # the rest of a broadcast frame goes first
            tail, self._tail = self._tail, b""
            try:
                self.socket.sendall(tail)
            except OSError as exc:
                self._abort_locked()
                if raise_errors:
                    raise ConnectionClosedError(1006, "") from exc
        for data in self.protocol.data_to_send():
            if self._socket_closed:
                break
            try:
                if data == SEND_EOF:
                    self.socket.shutdown(socket.SHUT_WR)
                else:
                    self._send_all(data)
            except OSError as exc:
                self._abort_locked()
                if raise_errors:
                    raise ConnectionClosedError(1006, "") from exc
                break
        # After a failure, end TCP at once (§7.1.7); after a close frame, within close_timeout.
        self._deadlines.sent(self.protocol, time.monotonic())

    def _send_all(self, data: bytes) -> None:
        """``sendall``, but first one ``os.write`` on a plain socket: the kernel mostly has room
        for all of it, and then no poll() is needed (see ``_plain``). Hold the lock."""
        if self._plain:
            try:
                sent = os.write(self.socket.fileno(), data)
            except BlockingIOError:  # no room at all: sendall waits for it, up to the timeout
                sent = 0
            if sent == len(data):
                return
            data = memoryview(data)[sent:]  # type: ignore[assignment]
        self.socket.sendall(data)

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
                self._receivers_waiting += 1
                if self._reader_waiting:  # the reader waits for the application to ask
                    self._inbox_changed.notify_all()
                try:
                    self._inbox_changed.wait(wait)
                finally:
                    self._receivers_waiting -= 1
            if self._inbox:
                message = self._inbox.popleft()
                if self._reader_waiting:  # it may wait for room in the inbox
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
        readable = _Readable(self.socket)
        deadlines = self._deadlines
        try:
            while self.protocol.state is not State.CLOSED:
                if self.protocol.failure_pending:
                    self._fail_when_answered()
                    continue
                # The clocks of wslib.timing: closing handshake too long (RFC 6455 §7.1.1 lets
                # us end TCP), keepalive (a ping every ping_interval, no pong within
                # ping_timeout -> 1011), a message under way too long (message_timeout -> 1008).
                now = time.monotonic()
                due = deadlines.due(self.protocol.state, now)
                if due.action is Action.ABORT:
                    break
                if due.action is Action.FAIL:
                    self._fail(due.code, due.reason)
                    continue
                if due.action is Action.PING:
                    try:
                        waiter = self.ping()
                    except ConnectionClosed:
                        continue
                    deadlines.ping_sent(waiter.is_set, now)
                wake = deadlines.next_deadline(self.protocol.state)
                if not readable.wait(min(TICK, TICK if wake is None else wake - now)):
                    continue
                try:
                    if self._plain:
                        data = os.read(self.socket.fileno(), RECV_SIZE)  # it polled: no wait
                    else:
                        data = self.socket.recv(RECV_SIZE)
                except BlockingIOError:
                    continue  # poll() said readable, yet nothing was there: wait again
                except TimeoutError:
                    # TLS: poll() saw bytes, but not a whole record of application data (a
                    # record cut in two segments, a TLS 1.3 session ticket): wait again.
                    continue
                except OSError:
                    data = b""
                with self._lock:
                    if data:
                        self.protocol.receive_data(data)
                    else:
                        self.protocol.receive_eof()
                    events = self.protocol.events_received()
                    self._flush()
                deadlines.received(bool(events), time.monotonic())
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
                failed = self.protocol.failure is not None
                if not failed:
                    self._socket_closed = True
                    self.socket.close()
            for event in events:
                self._dispatch(event)
            if self._closed is None:  # pragma: no cover - the protocol always reports Closed
                self._closed = Closed(1006, "")
            with self._inbox_changed:
                self._reader_done.set()  # recv() raises from now on: the application moves on
                self._inbox_changed.notify_all()
            if failed:
                # We failed the connection: our close frame is on its way, but the peer may have
                # sent more that we never read, and closing a socket with unread data makes the
                # kernel answer with a RST that can destroy the close frame before the peer
                # reads it. Drain first, for a bounded time, then close.
                end_tcp_gracefully(self.socket, min(FAILURE_GRACE, self.close_timeout))
                with self._lock:
                    self._socket_closed = True
                    self.socket.close()

    def _fail_when_answered(self) -> None:
        """A bad frame arrived after some messages: let the application answer them, then fail.

        The protocol delivered every message that came before the bad frame and holds the
        failure back (``defer_failure=True``). Wait until the application has taken them all and
        asks for more (an echo handler has sent its echoes by then), at most
        :data:`FAILURE_GRACE` seconds, then send the close frame and end TCP (RFC 6455 §7.1.7).
        """
        deadline = time.monotonic() + min(FAILURE_GRACE, self.close_timeout)
        with self._inbox_changed:
            self._reader_waiting = True  # recv() wakes us only when we say we wait
            while not failure_may_go(
                len(self._inbox), self._receivers_waiting, time.monotonic(), deadline
            ):
                self._inbox_changed.wait(max(0.0, deadline - time.monotonic()))
            self._reader_waiting = False
        with self._lock:
            self.protocol.fail_pending()
            self._flush()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): send a close frame, then end TCP at once."""
        if self._trace_line is not None:
            self._trace_line(f"! failing the connection: {code} {reason}")
        with self._lock:
            # As for a bad frame: the close frame, then TCP ends, after draining what the peer
            # still sends (the reader's last step), so that no RST destroys our close frame.
            self.protocol.fail(code, reason)
            self._flush()
        self._deadlines.failed(time.monotonic())  # no waiting for the peer's answer

    def _dispatch(self, event: object, *, wait: bool = True) -> None:
        """Handle one protocol event in the reader thread (pongs were already sent by it)."""
        if isinstance(event, (TextMessage, BinaryMessage)):
            if self._rate_limit is not None and not self._rate_limit.allow(time.monotonic()):
                if self.protocol.state is State.OPEN:  # the first message too many, not each
                    self._fail(RATE_LIMITED_CODE, RATE_LIMITED)
                return
            with self._inbox_changed:
                # Backpressure: when the handler does not keep up, stop reading (while open).
                while (
                    wait
                    and len(self._inbox) >= self.max_queue
                    and self.protocol.state is State.OPEN
                ):
                    self._reader_waiting = True
                    self._inbox_changed.wait(TICK)
                self._reader_waiting = False
                self._inbox.append(event.data)
                if self._receivers_waiting:  # nobody to wake up otherwise
                    self._inbox_changed.notify_all()
        elif isinstance(event, Pong):
            with self._lock:
                # This pong answers its ping and every ping sent before it (§5.5.3).
                for waiter in self._pings.pong(event.payload):
                    waiter.set()
        elif isinstance(event, Closed):
            self._closed = event

    # --- broadcast: never waiting for one client --------------------------------------------------

    def send_prepared_nowait(self, prepared: Prepared, slow: Slow = Slow.SKIP) -> str:
        """Send a message prepared by :func:`wslib.broadcast.prepare`, never blocking.

        The fast path writes it at once with a non-blocking ``send()``. If this peer's socket
        buffer is full (or another thread is writing to it), the message waits in this
        connection's queue, which a writer thread of its own drains; past ``write_limit`` bytes
        queued, the peer is too slow and ``slow`` decides (:class:`~wslib.broadcast.Slow`).
        Returns ``"sent"``, ``"skipped"``, ``"closed"`` or ``"gone"`` (closing or closed).
        """
        with self._outbox_lock:
            if self.protocol.state is not State.OPEN or self._close_when_written:
                return "gone"
            if self._outbox or self._writer is not None:
                return self._queue_locked(prepared, slow)
            if not self._lock.acquire(blocking=False):  # another thread is writing
                return self._queue_locked(prepared, slow)
        try:
            if self.protocol.state is not State.OPEN:
                return "gone"
            self.protocol.send_prepared(prepared.frame, prepared.data)
            if self._tail:
                unsent = [self._tail, *self.protocol.data_to_send()]
            else:
                unsent = self.protocol.data_to_send()
            self._tail = b""
            while unsent and unsent[0] != SEND_EOF:
                data = unsent[0]
                # A socket with a timeout waits for room in send(): ask first, never wait.
                if not _writable_now(self.socket):
                    break
                try:
                    n = self.socket.send(data, socket.MSG_DONTWAIT)
                except (BlockingIOError, TimeoutError):
                    n = 0
                except OSError:
                    self._abort_locked()
                    return "gone"
                if n < len(data):
                    unsent[0] = data[n:]
                    break
                unsent.pop(0)
            if unsent:  # the kernel's buffer is full: the rest goes first in any later write
                self._tail = b"".join(d for d in unsent if d != SEND_EOF)
                with self._outbox_lock:
                    self._start_writer_locked()
            return "sent"
        finally:
            self._lock.release()

    def _queue_locked(self, prepared: Prepared, slow: Slow) -> str:
        """Queue a broadcast message for the writer thread. Hold ``_outbox_lock``."""
        limit = WRITE_LIMIT if self.write_limit is None else self.write_limit
        if self._outbox_bytes > limit:  # it does not keep up
            if slow is Slow.CLOSE:
                self._outbox.clear()
                self._outbox_bytes = 0
                self._close_when_written = True
                self._start_writer_locked()
                return "closed"
            return "skipped"
        self._outbox.append(prepared)
        self._outbox_bytes += len(prepared.data)
        self._start_writer_locked()
        return "sent"

    def _start_writer_locked(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_queued, name=f"wslib-writer-{self.remote_address}", daemon=True
            )
            self._writer.start()

    def _write_queued(self) -> None:
        """The writer thread of a slow peer: write its queue (each write bounded by
        ``close_timeout``), then end; or close it with 1008 when a broadcast said so."""
        while True:
            with self._outbox_lock:
                prepared = self._outbox.popleft() if self._outbox else None
                if prepared is not None:
                    self._outbox_bytes -= len(prepared.data)
                close = self._close_when_written and prepared is None
                # Nothing queued and no tail left: done. (The tail is read without the
                # connection's lock, never taken under _outbox_lock: the fast path takes them in
                # the other order. It sets a tail, then starts a writer if there is none.)
                if prepared is None and not close and not self._tail:
                    self._writer = None
                    return
            with self._lock:
                try:
                    if close:
                        if self.protocol.state is State.OPEN:
                            self.protocol.send_close(TOO_SLOW_CODE, TOO_SLOW)
                    elif prepared is not None and self.protocol.state is State.OPEN:
                        self.protocol.send_prepared(prepared.frame, prepared.data)
                    self._flush()
                except Exception:  # pragma: no cover - a bug in wslib: log it, never hang
                    logger.exception("writer thread of %s", self.remote_address)
                    close = True
            if close:
                with self._outbox_lock:
                    self._outbox.clear()
                    self._outbox_bytes = 0
                    self._close_when_written = False
                    self._writer = None
                return


def broadcast(
    connections: Iterable[SyncConnection], message: Message, *, slow: Slow = Slow.SKIP
) -> BroadcastResult:
    """Send ``message`` to every connection, serialized once, never waiting for one of them.

    A fast client gets it at once (a non-blocking write); a client whose socket buffer is full
    gets it through its own bounded queue and writer thread; a client with more than
    ``write_limit`` bytes queued already is too slow: ``slow`` says what happens to it
    (:attr:`Slow.SKIP`, the default: it misses this message; :attr:`Slow.CLOSE`: it is closed
    with 1008). See :mod:`wslib.broadcast`.
    """
    prepared = prepare(message)
    result = BroadcastResult()
    for conn in connections:
        result.count(conn, conn.send_prepared_nowait(prepared, slow))
    return result
