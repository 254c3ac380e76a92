"""An asyncio WebSocket server on top of :mod:`wslib.protocol`: many clients, one thread.

A complete echo server::

    import asyncio
    import wslib.asyncio

    async def echo(conn):
        async for message in conn:     # str for a text message, bytes for a binary one
            await conn.send(message)

    async def main():
        async with wslib.asyncio.serve(echo, "127.0.0.1", 8765) as server:
            await server.serve_forever()

    asyncio.run(main())

Task model (compare with the thread model of :mod:`wslib.sync.server`)
----------------------------------------------------------------------------

- The event loop accepts TCP connections and calls a :class:`_Handshake` protocol object with
  the bytes of each: it parses the request, asks :func:`wslib.serving.answer_request` what to
  answer (the same decision as the threaded server: 101, the page, 400/403/405/426) and, for a
  101, hands the transport to a :class:`ServerConnection`.
- **One task per WebSocket connection** runs *your handler* (``async def handler(conn)``);
  when it returns, the connection closes with 1000 (1011 if it raised).
- Reading, answering pings and close frames, keepalive: the loop calls the connection when
  bytes arrive or a deadline passes; no reader thread, no lock.

So a connection costs one task and a few objects, not two threads: the benchmark
``benchmarks/bench_connections.py`` holds 10,000 of them. The limits are those of the threaded
server, with the same defaults and meaning: ``open_timeout``, ``close_timeout``,
``max_connections`` (503), ``max_pending_handshakes`` (a newcomer pushes out the oldest), the
message limits, ``max_queue`` and ``write_limit`` (backpressure, see
:mod:`wslib.asyncio.connection`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from collections.abc import Awaitable, Callable, Generator, Iterable
from types import TracebackType
from typing import Any

from ..broadcast import BroadcastResult, Slow
from ..deflate import DeflateConfig, compression_config
from ..exceptions import ConnectionClosed, InvalidRequest
from ..frames import is_sendable_close_code
from ..handshake import Headers, Request, Response
from ..limits import AddressCounter, rate_limit
from ..messages import MAX_FRAGMENTS
from ..origins import OriginPolicy
from ..protocol import Connection, Side, State
from ..serving import (
    Answer,
    PendingHandshakes,
    answer_bad_request,
    answer_request,
    busy_response,
    too_many_response,
)
from ..streams import StreamReader
from ..trace import Trace, frame_tracer, make_tracer
from .connection import WRITE_LIMIT, AsyncConnection, Message, broadcast, set_nodelay

__all__ = ["Handler", "Server", "ServerConnection", "serve"]

logger = logging.getLogger("wslib.asyncio")

#: A handler is a coroutine function of one connection; it runs in the connection's own task.
Handler = Callable[["ServerConnection"], Awaitable[Any]]


class ServerConnection(AsyncConnection):
    """The connection a handler receives: :class:`AsyncConnection` plus the client's request.

    ``conn.path`` is the request path (``/chat?room=1``), ``conn.request_headers`` its headers,
    ``conn.remote_address`` the TCP peer and ``conn.subprotocol`` the one negotiated.
    """

    def __init__(self, protocol: Connection, request: Request, **kw: Any) -> None:
        super().__init__(protocol, **kw)
        self.request = request

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def request_headers(self) -> Headers:
        return self.request.headers

    def __repr__(self) -> str:
        return f"<ServerConnection {self.remote_address} {self.path} {self.state.name}>"


def _host(address: Any) -> str:
    """The client's address without its port: what per-address limits count."""
    return str(address[0]) if isinstance(address, tuple) else str(address)


def _who(address: Any) -> str:
    return "{}:{}".format(*address[:2]) if isinstance(address, tuple) else str(address)


class _Handshake(asyncio.Protocol):
    """One TCP connection in its opening handshake (RFC 6455 §4.2), then handed over."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.reader = StreamReader()
        self.parser = Request.parse(self.reader.read_line)
        next(self.parser)  # run it up to its first wait for data
        self.timer: asyncio.TimerHandle | None = None
        self.who = "?"
        self.trace: Callable[[str], None] | None = None
        self.done = False
        self.address = "?"  # the client's IP address, for max_connections_per_address
        self.counted = False  # counted in server._addresses, until release()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.who = _who(transport.get_extra_info("peername"))
        self.trace = make_tracer(self.server.trace, f"[server, client {self.who}]")
        set_nodelay(transport)
        server = self.server
        if server._closing:
            transport.abort()
            return
        self.address = _host(transport.get_extra_info("peername"))
        if server._addresses is not None:
            if not server._addresses.acquire(self.address):
                logger.info("refused %s: too many connections from that address", self.who)
                self.done = True
                self.reply(too_many_response("too many connections from your address"))
                return
            self.counted = True  # released when this TCP connection is over
        admission = server._handshakes.admit(self)
        if admission.push_out is not None:
            logger.info("pushed out the oldest of %d handshakes", len(server._handshakes))
            admission.push_out.cut()
        if admission.refuse:
            self.done = True
            self.reply(busy_response("too many handshakes in progress"))
            return
        # The whole opening handshake must arrive within open_timeout (a slowloris is cut).
        self.timer = asyncio.get_running_loop().call_later(server.open_timeout, self.cut)

    def cut(self) -> None:
        """Too slow, pushed out, or the server is closing: end TCP, nobody to answer."""
        self.finish()
        if self.transport is not None:
            self.transport.abort()

    def finish(self) -> None:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        self.server._handshakes.end(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish()
        self.release()

    def release(self) -> None:
        """This TCP connection is over (or handed over and over): its address counts one less."""
        if self.counted and self.server._addresses is not None:
            self.counted = False
            self.server._addresses.release(self.address)

    def eof_received(self) -> bool:
        self.finish()  # gone before finishing its request: nobody to answer
        return False

    def reply(self, response: Response) -> None:
        """Answer with an HTTP response and end TCP (draining what the client still sends)."""
        self.finish()
        transport = self.transport
        assert transport is not None
        if self.trace is not None:
            self.trace(f"> {response.version} {response.status} {response.reason}")
        transport.write(response.serialize())
        if transport.can_write_eof():
            transport.write_eof()
        # The client ends TCP after our answer (eof_received closes); if not, close in a second.
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, transport.close)
        loop.call_later(1.0 + self.server.close_timeout, transport.abort)

    def data_received(self, data: bytes) -> None:
        if self.done:
            return  # answered already: drop what follows
        self.reader.feed_data(data)
        try:
            self.parser.send(None)
        except StopIteration as parsed:
            self.request_received(parsed.value)
        except InvalidRequest as error:  # malformed HTTP, or a head over a limit: 400
            logger.info("bad request from %s: %s", self.who, error)
            self.reply(answer_bad_request(error).response)

    def request_received(self, request: Request) -> None:
        server = self.server
        if self.trace is not None:
            self.trace(f"< {request.method} {request.path} {request.version}")
        answer = answer_request(
            request,
            origins=server.origins,
            subprotocols=server.subprotocols,
            compression=server.compression,
        )
        if not answer.opens:
            if answer.error is not None:  # 400, 403, 405, 426: RFC 6455 §4.2.2, §4.4
                logger.info("handshake refused for %s: %s", self.who, answer.error)
            self.reply(answer.response)
            return
        if server._closing or server._full():
            message = (
                "this server is shutting down"
                if server._closing
                else f"this server accepts at most {server.max_connections} connections; "
                "try again later"
            )
            logger.info("refused %s: %s", self.who, message)
            self.reply(busy_response(message))
            return
        self.finish()
        server._open(self, request, answer)


class Server:
    """A running asyncio WebSocket server; :func:`serve` makes one.

    ``async with serve(...) as server``: serving inside the block, closed on exit (every
    connection closed with 1001). ``server.port``, ``server.connections`` and
    :meth:`broadcast`, as for the threaded :class:`wslib.sync.server.Server`.
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
        message_timeout: float | None = None,
        max_connections: int | None = None,
        max_pending_handshakes: int = 1024,
        origins: Iterable[str | None] | None = None,
        subprotocols: Iterable[str] = (),
        max_size: int | None = 2**20,
        max_fragments: int | None = MAX_FRAGMENTS,
        max_queue: int = 16,
        write_limit: int = WRITE_LIMIT,
        trace: Trace = False,
        backlog: int = 1024,
        ssl: _ssl.SSLContext | None = None,
        max_connections_per_address: int | None = None,
        max_message_rate: float | None = None,
        message_burst: int | None = None,
        compression: str | DeflateConfig | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.message_timeout = message_timeout
        self.max_connections = max_connections
        # Parsed now: a typo in the list fails here, not at the first handshake.
        self.origins = None if origins is None else OriginPolicy(origins)
        self.subprotocols = list(subprotocols)
        self.max_size = max_size
        self.max_fragments = max_fragments
        self.max_queue = max_queue
        self.write_limit = write_limit
        self.trace = trace
        self.backlog = backlog
        self.ssl = ssl  # wss://: a server context (wslib.tls.server_context)
        # Abuse limits (wslib.limits): open connections per client address, messages per second.
        self._addresses = (
            None
            if max_connections_per_address is None
            else AddressCounter(max_connections_per_address)
        )
        self.max_message_rate = max_message_rate
        self.message_burst = message_burst
        rate_limit(max_message_rate, message_burst)  # ValueError now for a nonsense limit
        self.compression = compression_config(compression)
        self.scheme = "ws" if ssl is None else "wss"
        self._handshakes: PendingHandshakes[_Handshake] = PendingHandshakes(max_pending_handshakes)
        self._connections: set[ServerConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._goodbye = (1001, "server shutting down")
        self._server: asyncio.Server | None = None
        self._closed: asyncio.Event | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closing else "serving"
        return f"<Server ws://{self.host}:{self.port}/ {state}, {len(self._connections)} open>"

    async def start(self) -> Server:
        """Bind and start accepting; ``server.port`` is the bound port afterwards."""
        loop = asyncio.get_running_loop()
        self._closed = asyncio.Event()
        self._server = await loop.create_server(
            lambda: _Handshake(self),
            self.host,
            self.port,
            backlog=self.backlog,
            ssl=self.ssl,
            # The TLS handshake has open_timeout of its own; then the opening handshake does.
            ssl_handshake_timeout=self.open_timeout if self.ssl is not None else None,
        )
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        logger.info("serving on %s://%s:%d/", self.scheme, self.host, self.port)
        return self

    def __await__(self) -> Generator[Any, None, Server]:
        return self.start().__await__()

    async def __aenter__(self) -> Server:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- connections ------------------------------------------------------------------------------

    def _full(self) -> bool:
        return self.max_connections is not None and len(self.connections) >= self.max_connections

    def _open(self, handshake: _Handshake, request: Request, answer: Answer) -> None:
        """Send the 101, hand the transport to a ServerConnection, start the handler's task."""
        transport = handshake.transport
        assert transport is not None
        trace = handshake.trace
        response, subprotocol = answer.response, answer.subprotocol
        protocol = Connection(
            Side.SERVER,
            max_size=self.max_size,
            max_fragments=self.max_fragments,
            # Messages that came before a bad frame are handed to the handler first, so that it
            # can answer them; the connection then sends the close frame.
            defer_failure=True,
            trace=frame_tracer(trace),
            deflate=answer.deflate,
        )
        conn = ServerConnection(
            protocol,
            request,
            subprotocol=subprotocol,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
            message_timeout=self.message_timeout,
            max_queue=self.max_queue,
            write_limit=self.write_limit,
            trace_line=trace,
            rate_limit=rate_limit(self.max_message_rate, self.message_burst),
        )
        transport.write(response.serialize())
        if trace is not None:
            trace(f"> {response.version} {response.status} {response.reason}")
        transport.set_protocol(conn)
        conn.connection_made(transport)
        self._connections.add(conn)
        task = asyncio.get_running_loop().create_task(self._run(conn, handshake))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # Frames that arrived in the same segment as the request are already in the buffer.
        conn.start(bytes(handshake.reader.buffer))

    async def _run(self, conn: ServerConnection, handshake: _Handshake) -> None:
        """The connection's task: the handler, then the closing handshake."""
        code = 1000  # the handler returned: a normal closure
        try:
            await self.handler(conn)
        except ConnectionClosed:
            pass  # the peer went away in the middle of the handler: nothing to report
        except asyncio.CancelledError:
            code = 1001  # the server is closing and the handler did not return in time
        except Exception:
            logger.exception("the handler failed on %s", handshake.who)
            # RFC 6455 §7.4.1: 1011 "unexpected condition", without the details
            code = 1011
        try:
            await conn.close(code, "")
        finally:
            self._connections.discard(conn)
            handshake.release()

    @property
    def connections(self) -> list[ServerConnection]:
        """A snapshot of the open connections."""
        return [c for c in self._connections if c.state is State.OPEN]

    def broadcast(self, message: Message, *, slow: Slow = Slow.SKIP) -> BroadcastResult:
        """Send ``message`` to every open connection, never waiting (see
        :func:`wslib.asyncio.connection.broadcast`)."""
        return broadcast(self.connections, message, slow=slow)

    # --- stopping ---------------------------------------------------------------------------------

    async def close(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Stop accepting, close every connection with ``code`` (1001 "going away"), wait.

        Each wait is bounded: ``close_timeout`` for the closing handshakes (all at once), then
        the handlers' tasks are cancelled if they have not returned.
        """
        if not is_sendable_close_code(code):
            raise ValueError(f"close code {code} may not be sent (RFC 6455 §7.4)")
        if self._closing:
            return
        self._closing = True
        self._goodbye = (code, reason)
        if self._server is not None:
            self._server.close()
        for handshake in self._handshakes:
            handshake.cut()
        connections = list(self._connections)
        for conn in connections:
            if conn.state is State.OPEN:
                conn.protocol.send_close(code, reason)
                conn._flush()
        if connections:
            await asyncio.wait(
                [asyncio.ensure_future(c.wait_closed(self.close_timeout)) for c in connections]
            )
        me = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not me]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:  # a handler that ignores its closed connection
                logger.warning("%s did not finish: its handler ignores the closed connection", task)
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()
        if self._closed is not None:
            self._closed.set()
        logger.info("server on port %d closed", self.port)

    async def serve_forever(self) -> None:
        """Wait until the server is closed (by a handler, a signal, another task)."""
        assert self._closed is not None, "start the server first"
        await self._closed.wait()


def serve(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    open_timeout: float = 10.0,
    close_timeout: float = 10.0,
    message_timeout: float | None = None,
    max_connections: int | None = None,
    max_pending_handshakes: int = 1024,
    origins: Iterable[str | None] | None = None,
    subprotocols: Iterable[str] = (),
    max_size: int | None = 2**20,
    max_fragments: int | None = MAX_FRAGMENTS,
    max_queue: int = 16,
    write_limit: int = WRITE_LIMIT,
    trace: Trace = False,
    backlog: int = 1024,
    ssl: _ssl.SSLContext | None = None,
    max_connections_per_address: int | None = None,
    max_message_rate: float | None = None,
    message_burst: int | None = None,
    compression: str | DeflateConfig | None = None,
) -> Server:
    """An asyncio WebSocket server: ``async with serve(handler, host, port) as server:``.

    ``handler(conn)`` is a coroutine function, run in its own task for each connection (a
    :class:`ServerConnection`). ``await serve(...)`` starts it without a ``with`` block (then
    ``await server.close()``). The options are those of :func:`wslib.serve`, with the same
    defaults and meaning (read them there), plus:

    - ``max_pending_handshakes=1024`` (128 for the threaded server): a handshake in progress
      costs a socket and a few objects here, not a thread, and the event loop accepts a whole
      burst of connections before it reads the first request: with 128, a burst of 256 real
      clients would push out half of them before their requests, already in the kernel, are
      read. The rule is the threaded server's: when full, a newcomer pushes out the oldest.
    - ``write_limit=65536``: the high-water mark of each connection's write buffer, in bytes;
      ``await conn.send()`` waits above it until the peer reads (backpressure), and a
      broadcast treats a client above it as too slow (:mod:`wslib.broadcast`).
    - ``backlog=1024``: TCP connections waiting for the event loop to accept them.
    - ``ssl=None``: a server context (:func:`wslib.tls.server_context`) serves ``wss://``; the
      TLS handshake is asyncio's, bounded by ``open_timeout``, then the opening handshake is.
    - ``max_connections_per_address``, ``max_message_rate``, ``message_burst``: the abuse limits
      of :func:`wslib.serve` (429 past the connections of one address; 1008 past the rate).
    - ``compression=None``: ``"deflate"`` or a :class:`wslib.deflate.DeflateConfig` accepts a
      permessage-deflate offer (RFC 7692), as :func:`wslib.serve` does (its docstring has the
      memory per connection of each setting).
    """
    return Server(
        handler,
        host,
        port,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        open_timeout=open_timeout,
        close_timeout=close_timeout,
        message_timeout=message_timeout,
        max_connections=max_connections,
        max_pending_handshakes=max_pending_handshakes,
        origins=origins,
        subprotocols=subprotocols,
        max_size=max_size,
        max_fragments=max_fragments,
        max_queue=max_queue,
        write_limit=write_limit,
        trace=trace,
        backlog=backlog,
        ssl=ssl,
        max_connections_per_address=max_connections_per_address,
        max_message_rate=max_message_rate,
        message_burst=message_burst,
        compression=compression,
    )
