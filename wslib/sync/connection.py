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
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from ..exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidState,
)
from ..frames import Frame
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

__all__ = [
    "Message",
    "SyncConnection",
    "Trace",
    "make_tracer",
    "read_until_parsed",
]

logger = logging.getLogger("wslib.server")  # the name the server always logged under
trace_logger = logging.getLogger("wslib.trace")

#: A message as the application sees it: ``str`` for text (opcode 0x1), ``bytes`` for binary.
Message = str | bytes
#: A trace option: ``True`` (print and log), or a function that takes each trace line.
Trace = bool | Callable[[str], Any]

_T = TypeVar("_T")
_SelfT = TypeVar("_SelfT", bound="SyncConnection")

#: How much one ``recv()`` asks the kernel for.
RECV_SIZE = 65536
#: Longest wait of an idle loop before it looks at the clock again (a loop is never unbounded).
TICK = 1.0
#: After a bad frame, how long the messages that came before it may wait for the application
#: to take them (and answer them) before the connection fails anyway.
FAILURE_GRACE = 1.0


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
        try:
            self.remote_address: Any = sock.getpeername()
            self.local_address: Any = sock.getsockname()
        except OSError:  # the peer is already gone
            self.remote_address = self.local_address = None
        # A write to a peer that does not read blocks at most this long (then: abort).
        sock.settimeout(close_timeout)
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
        self._pings: OrderedDict[bytes, threading.Event] = OrderedDict()
        self._close_deadline: float | None = None
        # When bytes arrived that completed nothing yet (a message or control frame under way).
        self._unfinished_since: float | None = None
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
            self._note_progress(bool(events))
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
                    self._send_all(data)
            except OSError as exc:
                self._abort_locked()
                if raise_errors:
                    raise ConnectionClosedError(1006, "") from exc
                break
        if self.protocol.failure is not None:
            # This side failed the connection (the peer broke a rule): RFC 6455 §7.1.7 ends TCP
            # at once. Waiting for the answer of a peer that broke the rules could take
            # close_timeout (it may keep TCP open on purpose) and recv() would wait as long.
            self._close_deadline = time.monotonic()
        elif self._close_deadline is None and self.protocol.close_expected():
            # RFC 6455 §7.1.1: wait for the peer to end TCP, but not forever.
            self._close_deadline = time.monotonic() + self.close_timeout

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
        next_ping = None if self.ping_interval is None else time.monotonic() + self.ping_interval
        keepalive: tuple[threading.Event, float] | None = None  # the pending ping, its deadline
        readable = _Readable(self.socket)
        try:
            while self.protocol.state is not State.CLOSED:
                if self.protocol.failure_pending:
                    self._fail_when_answered()
                    continue
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
                # A message or control frame under way must be whole within message_timeout
                # (once closing, close_timeout bounds the wait instead).
                if (
                    self.message_timeout is not None
                    and self._unfinished_since is not None
                    and self.protocol.state is State.OPEN
                ):
                    cutoff = self._unfinished_since + self.message_timeout
                    if now >= cutoff:
                        self._fail(1008, f"no complete message within {self.message_timeout:g} s")
                        continue
                    deadlines.append(cutoff)
                if not readable.wait(min(deadlines) - now):
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
                self._note_progress(bool(events))
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
            self._reader_waiting = True
            while self._inbox or not self._receivers_waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._inbox_changed.wait(left)
            self._reader_waiting = False
        with self._lock:
            self.protocol.fail_pending()
            self._flush()

    def _note_progress(self, completed: bool) -> None:
        """Bytes arrived: did they complete something (an event), or start the clock?

        The sans-I/O protocol tells what bytes *completed* (its events), not what they started:
        bytes that give no event belong to a message or control frame still under way.
        """
        if completed:
            self._unfinished_since = None
        elif self._unfinished_since is None:
            self._unfinished_since = time.monotonic()

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
                    self._reader_waiting = True
                    self._inbox_changed.wait(TICK)
                self._reader_waiting = False
                self._inbox.append(event.data)
                if self._receivers_waiting:  # nobody to wake up otherwise
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
