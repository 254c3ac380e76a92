"""A WebSocket connection on an asyncio event loop: what the asyncio server and client share.

:class:`AsyncConnection` drives the same sans-I/O :class:`wslib.protocol.Connection` as the
threaded :class:`wslib.sync.connection.SyncConnection`, but nobody waits in a thread: the event
loop calls :meth:`~AsyncConnection.data_received` when bytes arrive (it is an
:class:`asyncio.Protocol`), and the application awaits :meth:`~AsyncConnection.recv`,
:meth:`~AsyncConnection.send`, :meth:`~AsyncConnection.ping` and :meth:`~AsyncConnection.close`.
Who calls what::

    event loop ──data_received(bytes)──► AsyncConnection ──receive_data──► protocol.Connection
        ▲                                   │  ▲                               │
        │ transport.write(bytes)            │  └──── events, data_to_send ◄────┘
        └───────────────────────────────────┘
    handler task ──await recv()/send()──► AsyncConnection (same thread: no lock needed)

One thread runs every connection, so a connection costs a few objects (no thread stack): ten
thousand of them fit in one process. The clocks (keepalive, close timeout, message timeout) are
those of :class:`wslib.timing.Deadlines`, kept with one timer on the loop.

**Backpressure**, both ways:

- sending: :meth:`~AsyncConnection.send` writes to the transport, then awaits while the
  transport's buffer is over ``write_limit`` bytes (default :data:`WRITE_LIMIT`, 64 KiB) until
  the peer has read enough: a peer that does not read cannot grow the sender's memory.
- receiving: at most ``max_queue`` messages wait for :meth:`~AsyncConnection.recv`; then the
  connection stops reading from the socket (``transport.pause_reading()``) and TCP flow
  control pushes back to the sender, until the application catches up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

from ..broadcast import TOO_SLOW, TOO_SLOW_CODE, WRITE_LIMIT, BroadcastResult, Slow, prepare
from ..exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidState,
)
from ..limits import RATE_LIMITED, RATE_LIMITED_CODE, RateLimit
from ..protocol import SEND_EOF, BinaryMessage, Closed, Connection, Pong, State, TextMessage
from ..timing import FAILURE_GRACE, Action, Deadlines, PingTracker, failure_may_go

__all__ = ["WRITE_LIMIT", "AsyncConnection", "Message", "broadcast"]

logger = logging.getLogger("wslib.asyncio")

#: A message as the application sees it: ``str`` for text (opcode 0x1), ``bytes`` for binary.
Message = str | bytes

_SelfT = TypeVar("_SelfT", bound="AsyncConnection")


class AsyncConnection(asyncio.Protocol):
    """A WebSocket connection driven by the event loop; the server's and the client's.

    The public API: ``await`` :meth:`send`, :meth:`recv`, :meth:`ping`, :meth:`close`; ``async
    for message in conn``; the attributes :attr:`close_code`, :attr:`close_reason`,
    :attr:`remote_address`, :attr:`subprotocol`; the counters :attr:`write_buffer_size`
    and :attr:`queued_messages`, which show backpressure at work.
    """

    def __init__(
        self,
        protocol: Connection,
        *,
        subprotocol: str | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 10.0,
        message_timeout: float | None = None,
        max_queue: int = 16,
        write_limit: int = WRITE_LIMIT,
        trace_line: Callable[[str], None] | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, not {max_queue}")
        self.protocol = protocol
        self.subprotocol = subprotocol
        self.close_timeout = close_timeout
        self.max_queue = max_queue
        self.write_limit = write_limit
        self._trace_line = trace_line
        # Messages per second from the peer (wslib.limits): past it, the connection fails (1008).
        self._rate_limit = rate_limit
        self._loop = asyncio.get_running_loop()
        self._deadlines = Deadlines(
            self._loop.time(),
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            message_timeout=message_timeout,
        )
        self.transport: asyncio.Transport | None = None
        self.remote_address: Any = None
        self.local_address: Any = None
        self._inbox: deque[Message] = deque()
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._receivers_waiting = 0
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._pings: PingTracker[asyncio.Future[None]] = PingTracker()
        self._closed: Closed | None = None
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._failure_deadline: float | None = None  # defer_failure: when it goes anyway
        self._ending = False  # TCP is being ended: ignore further timers

    # --- asyncio.Protocol: the event loop calls these -------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        # Writes up to write_limit are buffered; above it, pause_writing() and send() waits.
        transport.set_write_buffer_limits(high=self.write_limit)
        self.remote_address = transport.get_extra_info("peername")
        self.local_address = transport.get_extra_info("sockname")
        self._schedule()

    def start(self, leftover: bytes = b"") -> None:
        """Feed bytes that arrived with the handshake (the frames right behind it)."""
        if leftover:
            self.data_received(leftover)

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        self._after_receiving()

    def eof_received(self) -> bool:
        self.protocol.receive_eof()
        self._after_receiving()
        return False  # the transport closes itself: connection_lost() follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self.protocol.state is not State.CLOSED:
            self.protocol.receive_eof()  # the connection is over: 1006 if no close frame
            self.protocol.data_to_send()  # nowhere to send it
            for event in self.protocol.events_received():
                self._dispatch(event)
        if self._closed is None:  # pragma: no cover - the protocol always reports Closed
            self._closed = Closed(1006, "")
        if self._timer is not None:
            self._timer.cancel()
        self._ending = True
        for waiter in self._pings.clear():
            if not waiter.done():
                waiter.set_exception(self._closed_exception())
                waiter.exception()  # nobody may await it: do not warn "never retrieved"
        self._writing_paused = False
        self._wake(self._drain_waiters)
        self._wake_receivers()
        if not self._done.done():
            self._done.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake(self._drain_waiters)

    # --- after bytes arrived --------------------------------------------------------------------

    def _after_receiving(self) -> None:
        events = self.protocol.events_received()
        self._flush()
        self._deadlines.received(bool(events), self._loop.time())
        for event in events:
            self._dispatch(event)
        if self.protocol.failure_pending and self._failure_deadline is None:
            self._failure_deadline = self._loop.time() + min(FAILURE_GRACE, self.close_timeout)
            self._check_failure()
        self._schedule()

    def _dispatch(self, event: object) -> None:
        if isinstance(event, (TextMessage, BinaryMessage)):
            if self._rate_limit is not None and not self._rate_limit.allow(self._loop.time()):
                if self.protocol.state is State.OPEN:  # the first message too many, not each
                    self._fail(RATE_LIMITED_CODE, RATE_LIMITED)
                return
            self._inbox.append(event.data)
            # Backpressure: max_queue messages unread -> stop reading the socket (while open).
            if len(self._inbox) >= self.max_queue and self.protocol.state is State.OPEN:
                self._pause_reading()
            self._wake_receivers()
        elif isinstance(event, Pong):
            for waiter in self._pings.pong(event.payload):
                if not waiter.done():
                    waiter.set_result(None)
        elif isinstance(event, Closed):
            self._closed = event
            self._end_tcp()

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()

    def _check_failure(self) -> None:
        """A bad frame after some messages: fail once the application took them (or at once
        when the grace period is over), see :func:`wslib.timing.failure_may_go`."""
        if self._failure_deadline is None or not self.protocol.failure_pending:
            return
        if failure_may_go(
            len(self._inbox), self._receivers_waiting, self._loop.time(), self._failure_deadline
        ):
            self.protocol.fail_pending()
            self._flush()

    # --- writing --------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Write what the protocol wants to send; ``SEND_EOF`` ends our side of TCP."""
        transport = self.transport
        for data in self.protocol.data_to_send():
            if transport is None or transport.is_closing():
                break
            if data == SEND_EOF:
                if transport.can_write_eof():
                    transport.write_eof()
            else:
                transport.write(data)
        self._deadlines.sent(self.protocol, self._loop.time())
        self._schedule()

    async def _drain(self) -> None:
        """Wait while the write buffer is over ``write_limit`` (the peer does not read)."""
        while self._writing_paused and not self._done.done():
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        waiters.clear()

    def _wake_receivers(self) -> None:
        if self._inbox_waiter is not None and not self._inbox_waiter.done():
            self._inbox_waiter.set_result(None)

    # --- the clocks (wslib.timing) ----------------------------------------------------------------

    def _schedule(self) -> None:
        """Keep one timer at the earliest deadline (moved only when a deadline comes earlier)."""
        if self._ending:
            return
        at = self._deadlines.next_deadline(self.protocol.state)
        if self._failure_deadline is not None and self.protocol.failure_pending:
            at = self._failure_deadline if at is None else min(at, self._failure_deadline)
        if at is None or (self._timer_at is not None and self._timer_at <= at):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        if self._ending:
            return
        now = self._loop.time()
        self._check_failure()
        due = self._deadlines.due(self.protocol.state, now)
        if due.action is Action.ABORT:
            self._end_tcp(abort=True)
            return
        if due.action is Action.FAIL:
            self._fail(due.code, due.reason)
        elif due.action is Action.PING:
            try:
                waiter = self._send_ping(None)
            except ConnectionClosed:
                pass
            else:
                self._deadlines.ping_sent(waiter.done, now)
        self._schedule()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): send a close frame, then end TCP at once."""
        if self._trace_line is not None:
            self._trace_line(f"! failing the connection: {code} {reason}")
        # As for a bad frame: the close frame, then TCP ends, after draining what the peer still
        # sends (a RST from unread data could destroy our close frame: see _end_tcp).
        self.protocol.fail(code, reason)
        self._flush()
        self._deadlines.failed(self._loop.time())
        self._end_tcp(abort=True)

    def _end_tcp(self, *, abort: bool = False) -> None:
        """The connection is over (closing handshake done, or a deadline passed): end TCP.

        After a clean closing handshake, close the transport (what is buffered goes out first).
        After this side failed the connection, the close frame is on its way but the peer may
        have sent more that we never read, and closing a socket with unread data makes the
        kernel answer with a RST that can destroy the close frame: keep reading (and dropping)
        for a short while, as :func:`wslib.sync.connection.end_tcp_gracefully` does.
        """
        transport = self.transport
        if transport is None or self._ending:
            return
        if self.protocol.state is State.OPEN and not abort:
            return
        self._ending = True
        if self._timer is not None:
            self._timer.cancel()
        grace = min(FAILURE_GRACE, self.close_timeout)
        if self.protocol.failure is not None:
            self._reading_paused = True
            self._resume_reading()  # drain what the peer still sends (the protocol drops it)
            self._loop.call_later(grace, transport.close)
            self._loop.call_later(grace + self.close_timeout, transport.abort)
        elif abort:
            transport.abort()
        else:
            transport.close()  # what is buffered is written first, then TCP ends
            # A peer that never reads could hold the buffer forever: cut it after close_timeout.
            self._loop.call_later(self.close_timeout, transport.abort)

    # --- the application's API ------------------------------------------------------------------

    async def send(self, message: Message | Iterable[str] | Iterable[bytes]) -> None:
        """Send a message: a ``str`` as a text message, ``bytes`` as a binary one (RFC 6455 §5.6).

        An iterable of ``str`` (or of ``bytes``) is sent as one fragmented message, one frame
        per item (§5.4). Waits while the write buffer is over ``write_limit`` (backpressure).
        Raises :class:`~wslib.exceptions.ConnectionClosed` once the connection is closing.
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
        # Wait *before* writing too: another task may have filled the buffer meanwhile.
        await self._drain()
        self._check_open()
        last = len(fragments) - 1
        for i, fragment in enumerate(fragments):
            if i > 0:
                self.protocol.send_continuation(fragment, fin=i == last)
            elif isinstance(fragment, str):
                self.protocol.send_text(fragment, fin=i == last)
            else:
                self.protocol.send_binary(fragment, fin=i == last)
        self._flush()
        await self._drain()

    async def ping(self, data: bytes | str | None = None) -> asyncio.Future[None]:
        """Send a ping (RFC 6455 §5.5.2); return a future that completes when its pong arrives.

        ``await (await conn.ping())`` waits for the pong; wrap it in :func:`asyncio.wait_for`
        for a time bound. ``data`` defaults to 4 random bytes, so that each ping has its own
        pong. A pong also answers every ping sent before its own (§5.5.3).
        """
        waiter = self._send_ping(data)
        await self._drain()
        return waiter

    def _send_ping(self, data: bytes | str | None) -> asyncio.Future[None]:
        self._check_open()
        if data is None:
            data = secrets.token_bytes(4)
            while data in self._pings:  # pragma: no cover - 1 chance in 4 billion
                data = secrets.token_bytes(4)
        elif isinstance(data, str):
            data = data.encode()
        if data in self._pings:
            raise InvalidState(f"already waiting for a pong to a ping with payload {data!r}")
        waiter: asyncio.Future[None] = self._loop.create_future()
        self.protocol.send_ping(data)
        self._pings.add(data, waiter)
        self._flush()
        return waiter

    def send_prepared_nowait(self, prepared: Any, slow: Slow = Slow.SKIP) -> str:
        """Queue a message prepared by :func:`wslib.broadcast.prepare`, never waiting.

        Returns ``"sent"``, ``"skipped"`` or ``"closed"`` (this client's queue was full: the
        :class:`~wslib.broadcast.Slow` policy), or ``"gone"`` (closing or closed).
        """
        if self.protocol.state is not State.OPEN or self.transport is None:
            return "gone"
        if self.transport.is_closing():
            return "gone"
        if self._writing_paused:  # its queue is over write_limit: it does not keep up
            if slow is Slow.CLOSE:
                self.protocol.send_close(TOO_SLOW_CODE, TOO_SLOW)
                self._flush()
                return "closed"
            return "skipped"
        self.protocol.send_prepared(prepared.frame, prepared.data)
        # The hot path of a broadcast to thousands: a data frame changes no deadline, so only
        # the write of _flush() is needed here.
        for data in self.protocol.data_to_send():
            if data:  # (never SEND_EOF while open)
                self.transport.write(data)
        return "sent"

    def _check_open(self) -> None:
        if self.protocol.state is not State.OPEN:
            raise self._closed_exception()

    def _closed_exception(self) -> ConnectionClosed:
        """What send() and recv() raise once the connection is closing or closed."""
        protocol = self.protocol
        if protocol.state is State.OPEN:  # the transport went away under an open protocol
            return ConnectionClosedError(1006, "")
        if protocol.state is State.LOCAL_CLOSING and protocol.close_received is None:
            sent = protocol.close_sent
            code, reason = (1006, "") if sent is None else (int(sent.code), sent.reason)
            if code in (1000, 1001, 1005):
                return ConnectionClosedOK(code, reason)
            return ConnectionClosedError(code, reason)
        return protocol.close_exception()

    async def recv(self, timeout: float | None = None) -> Message:
        """The next message: ``str`` (text) or ``bytes`` (binary), waiting up to ``timeout`` s.

        Raises :class:`TimeoutError` when nothing arrived in time, and once the connection is
        closed and every message was read, :class:`~wslib.exceptions.ConnectionClosedOK`
        (1000 or 1001) or :class:`~wslib.exceptions.ConnectionClosedError` (anything else).
        """
        deadline = None if timeout is None else self._loop.time() + timeout
        while not self._inbox and not self._done.done():
            if self._inbox_waiter is None or self._inbox_waiter.done():
                self._inbox_waiter = self._loop.create_future()
            waiter = self._inbox_waiter
            self._receivers_waiting += 1
            try:
                self._check_failure()  # the application asks for more: a pending failure goes
                if deadline is None:
                    await asyncio.shield(waiter)
                else:
                    left = deadline - self._loop.time()
                    if left <= 0:
                        raise TimeoutError(f"no message within {timeout} seconds")
                    try:
                        await asyncio.wait_for(asyncio.shield(waiter), left)
                    except asyncio.TimeoutError:
                        raise TimeoutError(f"no message within {timeout} seconds") from None
            finally:
                self._receivers_waiting -= 1
        if self._inbox:
            message = self._inbox.popleft()
            if len(self._inbox) < self.max_queue:
                self._resume_reading()
            if not self._inbox:
                self._check_failure()
            return message
        raise self._closed_exception()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        """Each message until the connection closes; ends quietly on a normal close."""
        while True:
            try:
                yield await self.recv()
            except ConnectionClosedOK:
                return

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 §7.1.2) and wait until it is over.

        Waits up to ``close_timeout`` for the peer's close frame and the end of TCP, then cuts
        the connection. Closing a closed connection does nothing.
        """
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self._flush()
        await self.wait_closed(self.close_timeout)

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until TCP is over; past ``timeout`` seconds, cut it. True if it ended."""
        try:
            await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except asyncio.TimeoutError:
            if self.transport is not None:
                self.transport.abort()
            try:
                await asyncio.wait_for(asyncio.shield(self._done), 1.0)
            except asyncio.TimeoutError:  # pragma: no cover - abort() always ends it
                return False
        return True

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

    @property
    def write_buffer_size(self) -> int:
        """Bytes written but not yet taken by the kernel (backpressure: send() waits above
        ``write_limit``)."""
        return 0 if self.transport is None else self.transport.get_write_buffer_size()

    @property
    def queued_messages(self) -> int:
        """Messages received and not yet read by recv() (at ``max_queue``, reading stops)."""
        return len(self._inbox)

    async def __aenter__(self: _SelfT) -> _SelfT:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Small messages go out at once rather than wait to be merged (Nagle's algorithm)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - the peer is already gone
            pass


def broadcast(
    connections: Iterable[AsyncConnection], message: Message, *, slow: Slow = Slow.SKIP
) -> BroadcastResult:
    """Send ``message`` to every connection, serialized once (see :mod:`wslib.broadcast`).

    Never waits: each message goes into each client's write buffer, its bounded outgoing
    queue. A client whose buffer is over ``write_limit`` does not keep up: ``slow`` says what
    happens to it (:attr:`Slow.SKIP`, the default, it misses this message; :attr:`Slow.CLOSE`,
    it is closed with 1008). A plain function, not a coroutine: call it from the event loop's
    thread (a handler, a task).
    """
    prepared = prepare(message)
    result = BroadcastResult()
    for conn in connections:
        result.count(conn, conn.send_prepared_nowait(prepared, slow))
    return result
