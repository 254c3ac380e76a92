"""A minimal blocking WebSocket client: :func:`connect`, on top of :mod:`wslib.protocol`.

::

    import wslib

    with wslib.connect("ws://127.0.0.1:8765/") as conn:
        conn.send("123")
        print(conn.recv(timeout=5))      # '123' from an echo server

It opens a TCP connection, sends the opening handshake (RFC 6455 §4.1), checks the server's
answer with :func:`wslib.handshake.check_response` ("the client MUST validate the server's
response"), then hands the socket to a :class:`ClientConnection`: the same
:class:`~wslib.sync.connection.SyncConnection` as the server's, on the client side of the
protocol, which masks every frame it sends (§5.3). Like the server's, one reader thread per
connection reads the socket, answers pings and close frames and sends keepalive pings.

Only ``ws://``: TLS (``wss://``) is not covered by this series. The client connects directly
to the host in the URL and never uses the ``http_proxy``/``https_proxy`` environment variables.
"""

from __future__ import annotations

import socket
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..deflate import (
    EXTENSION_NAME,
    DeflateConfig,
    client_extension,
    client_offer,
    compression_config,
)
from ..exceptions import InvalidResponse, InvalidURI
from ..handshake import Headers, Request, Response, check_response, client_request
from ..messages import MAX_FRAGMENTS
from ..protocol import Connection, Side
from ..streams import StreamReader
from .connection import SyncConnection, Trace, _frame_tracer, make_tracer, read_until_parsed

__all__ = ["ClientConnection", "WebSocketURI", "connect", "parse_uri"]


@dataclass(frozen=True)
class WebSocketURI:
    """The parts of a ``ws://`` URL that the handshake needs (RFC 6455 §3)."""

    host: str
    port: int
    resource_name: str  # the path and query: "/chat?room=1"

    @property
    def authority(self) -> str:
        """The ``Host`` header: the port only when it is not the default 80 (RFC 6455 §4.1)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 80 else f"{host}:{self.port}"


def parse_uri(uri: str) -> WebSocketURI:
    """Split a ``ws://host[:port][/path][?query]`` URL (RFC 6455 §3).

    Raises :class:`~wslib.exceptions.InvalidURI` for another scheme, ``wss://`` (TLS is not
    covered by this series), a missing host, user info, or a fragment (§3: "Fragment identifiers
    are meaningless in the context of WebSocket URIs and MUST NOT be used").
    """
    try:
        parts = urllib.parse.urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise InvalidURI(f"{uri!r} is not a valid URL: {exc}") from None
    if parts.scheme == "wss":
        raise InvalidURI(
            f"{uri!r}: wss:// means WebSocket over TLS, which is not covered by this series; "
            "use ws://, or a TLS-capable client such as the websockets library"
        )
    if parts.scheme != "ws":
        raise InvalidURI(f"{uri!r} is not a ws:// URL (RFC 6455 §3)")
    if not parts.hostname:
        raise InvalidURI(f"{uri!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidURI(f"{uri!r} has user info, which a WebSocket URI cannot carry")
    if parts.fragment or uri.endswith("#"):
        raise InvalidURI(f"{uri!r} has a fragment, which MUST NOT be used (RFC 6455 §3)")
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    # Request paths are ASCII: escape anything else as the RFC 3986 percent-encoding.
    resource = urllib.parse.quote(resource, safe="/?&=%:@!$'()*+,;~-._")
    return WebSocketURI(parts.hostname, 80 if port is None else port, resource)


class ClientConnection(SyncConnection):
    """A client connection: a :class:`~wslib.sync.connection.SyncConnection` and its handshake.

    ``conn.request`` is the handshake request sent, ``conn.response`` the server's 101 and
    ``conn.subprotocol`` the subprotocol the server chose (or None).
    """

    def __init__(
        self,
        sock: socket.socket,
        protocol: Connection,
        request: Request,
        response: Response,
        **kw: Any,
    ) -> None:
        super().__init__(sock, protocol, **kw)
        self.request = request
        self.response = response

    @property
    def response_headers(self) -> Headers:
        return self.response.headers

    def __repr__(self) -> str:
        return f"<ClientConnection {self.remote_address} {self.state.name}>"


def connect(
    uri: str,
    *,
    timeout: float = 10.0,
    origin: str | None = None,
    subprotocols: Sequence[str] = (),
    additional_headers: Iterable[tuple[str, str]] = (),
    max_size: int | None = 2**20,
    max_fragments: int | None = MAX_FRAGMENTS,
    max_queue: int = 16,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    close_timeout: float = 10.0,
    message_timeout: float | None = None,
    trace: Trace = False,
    compression: str | DeflateConfig | None = None,
) -> ClientConnection:
    """Open a WebSocket connection to ``uri`` (``ws://host:port/path``); return it open.

    - ``timeout=10.0``: for the TCP connection and the whole opening handshake.
    - ``origin``: an ``Origin`` header, as a browser sends (a server may check it).
    - ``subprotocols``: offered in order of preference; ``conn.subprotocol`` tells the choice.
    - ``additional_headers``: more request headers, as ``(name, value)`` pairs.
    - ``max_size=2**20``: the largest message accepted (1 MiB); bigger closes with 1009.
    - ``max_fragments``, ``max_queue``, ``ping_interval``, ``ping_timeout``, ``close_timeout``,
      ``message_timeout``, ``trace``: as for :func:`wslib.serve`.
    - ``compression=None``: ``"deflate"`` (or a :class:`wslib.deflate.DeflateConfig`) offers
      permessage-deflate (RFC 7692); the connection is compressed if the server accepts, and
      the handshake fails if its answer is not one the offer allows. Defaults and memory: see
      :func:`wslib.serve`.

    Raises :class:`~wslib.exceptions.InvalidURI` for a URL that is not ``ws://``,
    :class:`~wslib.exceptions.InvalidResponse` when the server's answer is not a valid 101
    (for example a 403 or a wrong ``Sec-WebSocket-Accept``), :class:`TimeoutError` and
    :class:`OSError` (such as :class:`ConnectionRefusedError`) for the network.
    """
    target = parse_uri(uri)
    deadline = time.monotonic() + timeout
    # create_connection: DNS, then TCP; it never looks at proxy environment variables.
    sock = socket.create_connection((target.host, target.port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = client_request(
            target.authority, target.resource_name, origin=origin, subprotocols=subprotocols
        )
        config = compression_config(compression)
        client_offer(request, config)  # RFC 7692 §5: Sec-WebSocket-Extensions, if any
        for name, value in additional_headers:
            request.headers[name] = value
        trace_line = make_tracer(trace, f"[client, server {target.authority}]")
        if trace_line is not None:
            trace_line(f"> {request.method} {request.path} {request.version}")
        sock.sendall(request.serialize())
        reader = StreamReader()
        try:
            response = read_until_parsed(
                sock, reader, Response.parse(reader.read_line, reader.read_exact), deadline
            )
        except EOFError as exc:
            raise InvalidResponse(
                f"the server closed the connection during the handshake: {exc}"
            ) from None
        if trace_line is not None:
            trace_line(f"< {response.version} {response.status} {response.reason}")
        subprotocol = check_response(
            response,
            request.headers["Sec-WebSocket-Key"],
            subprotocols=subprotocols,
            extensions=[EXTENSION_NAME] if config is not None else [],
        )
        deflate = client_extension(response, config)  # RFC 7692 §7.1: "MUST _Fail_" if wrong
        protocol = Connection(
            Side.CLIENT,
            max_size=max_size,
            max_fragments=max_fragments,
            defer_failure=True,  # messages before a bad frame reach the application first
            trace=_frame_tracer(trace_line),
            deflate=deflate,
        )
        conn = ClientConnection(
            sock,
            protocol,
            request,
            response,
            subprotocol=subprotocol,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            message_timeout=message_timeout,
            max_queue=max_queue,
            trace_line=trace_line,
        )
        # Frames that arrived in the same segment as the 101 are already in the reader's buffer.
        conn.start(bytes(reader.buffer))
    except BaseException:  # including a reader thread that cannot start
        sock.close()
        raise
    return conn
