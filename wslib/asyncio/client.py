"""An asyncio WebSocket client: :func:`connect`, on top of :mod:`wslib.protocol`.

::

    import wslib.asyncio

    async with wslib.asyncio.connect("ws://127.0.0.1:8765/") as conn:
        await conn.send("123")
        print(await conn.recv(timeout=5))      # '123' from an echo server

The same steps as the blocking :func:`wslib.connect`: split the URL (:func:`wslib.uri.parse_uri`),
send the opening handshake (RFC 6455 §4.1), check the 101 with
:func:`wslib.handshake.check_response`, then hand the transport to a :class:`ClientConnection`,
an :class:`~wslib.asyncio.connection.AsyncConnection` on the client side of the protocol (which
masks every frame it sends, §5.3). Only ``ws://``; no proxy variables.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import Generator, Iterable, Sequence
from types import TracebackType
from typing import Any

from ..deflate import DeflateConfig
from ..exceptions import InvalidResponse
from ..handshake import Headers, Request, Response
from ..messages import MAX_FRAGMENTS
from ..opening import client_opening
from ..protocol import Connection
from ..streams import StreamReader
from ..tls import client_context, explain_tls_failure
from ..trace import Trace, make_tracer
from ..uri import parse_uri
from .connection import WRITE_LIMIT, AsyncConnection, set_nodelay

__all__ = ["ClientConnection", "connect"]


class ClientConnection(AsyncConnection):
    """A client connection: ``conn.request`` sent, ``conn.response`` (the 101) received."""

    def __init__(self, protocol: Connection, request: Request, response: Response, **kw: Any):
        super().__init__(protocol, **kw)
        self.request = request
        self.response = response

    @property
    def response_headers(self) -> Headers:
        return self.response.headers

    def __repr__(self) -> str:
        return f"<ClientConnection {self.remote_address} {self.state.name}>"


class _ResponseReader(asyncio.Protocol):
    """The TCP connection until the server's answer to the opening handshake is whole."""

    def __init__(self) -> None:
        self.reader = StreamReader()
        self.parser = Response.parse(self.reader.read_line, self.reader.read_exact)
        next(self.parser)
        self.response: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.eof = False

    def data_received(self, data: bytes) -> None:
        # Bytes after the 101 (frames the server sent at once) stay in the buffer until the
        # ClientConnection takes over: connect() is still on its way back to the event loop.
        self.reader.feed_data(data)
        self._parse()

    def eof_received(self) -> bool:
        self.eof = True
        self.reader.feed_eof()
        self._parse()
        return True  # keep the transport: the ClientConnection sees the end of the stream

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.response.done():
            self.response.set_exception(
                InvalidResponse("the server closed the connection during the handshake")
            )

    def _parse(self) -> None:
        if self.response.done():
            return
        try:
            self.parser.send(None)
        except StopIteration as done:
            self.response.set_result(done.value)
        except EOFError as exc:
            self.response.set_exception(
                InvalidResponse(f"the server closed the connection during the handshake: {exc}")
            )
        except Exception as exc:  # InvalidResponse (malformed), HeadTooLarge
            self.response.set_exception(exc)


async def _connect(
    uri: str,
    *,
    timeout: float,
    origin: str | None,
    subprotocols: Sequence[str],
    additional_headers: Iterable[tuple[str, str]],
    trace: Trace,
    ssl: _ssl.SSLContext | None,
    compression: str | DeflateConfig | None,
    **options: Any,
) -> ClientConnection:
    target = parse_uri(uri)
    if ssl is not None and not target.secure:
        raise ValueError(f"ssl= is for wss:// URLs, not {uri!r}")
    # RFC 6455 §4.1: if /secure/, "the client MUST perform a TLS handshake" first.
    context = (ssl if ssl is not None else client_context()) if target.secure else None
    loop = asyncio.get_running_loop()
    transports: list[asyncio.Transport] = []
    opening_request = client_opening(
        target,
        origin=origin,
        subprotocols=subprotocols,
        additional_headers=additional_headers,
        compression=compression,
    )
    request = opening_request.request
    trace_line = make_tracer(trace, f"[client, server {target.authority}]")

    async def opening_handshake() -> tuple[Response, _ResponseReader]:
        transport, opening = await loop.create_connection(
            _ResponseReader,
            target.host,
            target.port,
            ssl=context,
            server_hostname=target.host if context is not None else None,
        )
        assert isinstance(transport, asyncio.Transport)
        transports.append(transport)
        set_nodelay(transport)
        if trace_line is not None:
            trace_line(f"> {request.method} {request.path} {request.version}")
        transport.write(request.serialize())
        return await opening.response, opening

    try:
        try:
            response, opening = await asyncio.wait_for(opening_handshake(), timeout)
        except asyncio.TimeoutError:  # not the built-in TimeoutError before Python 3.11
            raise TimeoutError(f"no opening handshake within {timeout} seconds") from None
        except _ssl.SSLError as error:  # the same clear message as the threaded client's
            explained = explain_tls_failure(error, target.authority)
            if explained is error:
                raise
            raise explained from None
        transport = transports[0]
        if trace_line is not None:
            trace_line(f"< {response.version} {response.status} {response.reason}")
        subprotocol, protocol = opening_request.accept(
            response,
            max_size=options.pop("max_size"),
            max_fragments=options.pop("max_fragments"),
            trace_line=trace_line,
        )
        conn = ClientConnection(
            protocol,
            request,
            response,
            subprotocol=subprotocol,
            trace_line=trace_line,
            **options,
        )
        transport.set_protocol(conn)
        conn.connection_made(transport)
        # Frames that arrived in the same segment as the 101 are already in the reader's buffer.
        conn.start(bytes(opening.reader.buffer))
        if opening.eof:  # the server ended TCP right after its frames
            if not conn.eof_received():
                transport.close()
    except BaseException:
        for transport in transports:
            transport.abort()
        raise
    return conn


class connect:
    """Open a WebSocket connection to ``uri`` (``ws://`` or ``wss://host:port/path``).

    ``conn = await connect(uri)`` or ``async with connect(uri) as conn:`` (closed on exit).
    The options are those of :func:`wslib.connect` (``ssl`` and ``compression`` included), plus
    ``write_limit`` (see :func:`wslib.asyncio.serve`). Raises :class:`~wslib.exceptions.InvalidURI`,
    :class:`~wslib.exceptions.InvalidResponse` (not a valid 101), :class:`TimeoutError`
    (``timeout`` covers TCP and the whole handshake) and :class:`OSError`.
    """

    def __init__(
        self,
        uri: str,
        *,
        timeout: float = 10.0,
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        additional_headers: Iterable[tuple[str, str]] = (),
        max_size: int | None = 2**20,
        max_fragments: int | None = MAX_FRAGMENTS,
        max_queue: int = 16,
        write_limit: int = WRITE_LIMIT,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 10.0,
        message_timeout: float | None = None,
        trace: Trace = False,
        ssl: _ssl.SSLContext | None = None,
        compression: str | DeflateConfig | None = None,
    ) -> None:
        self._args: dict[str, Any] = dict(
            timeout=timeout,
            origin=origin,
            subprotocols=subprotocols,
            additional_headers=additional_headers,
            max_size=max_size,
            max_fragments=max_fragments,
            max_queue=max_queue,
            write_limit=write_limit,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            message_timeout=message_timeout,
            trace=trace,
            ssl=ssl,
            compression=compression,
        )
        self._uri = uri
        self._conn: ClientConnection | None = None

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        return _connect(self._uri, **self._args).__await__()

    async def __aenter__(self) -> ClientConnection:
        self._conn = await _connect(self._uri, **self._args)
        return self._conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            await self._conn.close()
