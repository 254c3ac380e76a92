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

``wss://`` is the same inside TLS (RFC 6455 §4.1, §11.1.2): after TCP, the TLS handshake
(:mod:`wslib.tls` makes the context; the server's certificate and host name are verified), then
the upgrade. The client connects directly to the host in the URL and never uses the
``http_proxy``/``https_proxy`` environment variables.
"""

from __future__ import annotations

import socket
import ssl as _ssl
import time
from collections.abc import Iterable, Sequence
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
from ..uri import WebSocketURI, parse_uri
from .connection import SyncConnection, read_until_parsed

__all__ = ["ClientConnection", "WebSocketURI", "connect", "parse_uri"]


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
    ssl: _ssl.SSLContext | None = None,
    write_limit: int | None = None,
    compression: str | DeflateConfig | None = None,
) -> ClientConnection:
    """Open a WebSocket connection to ``uri`` (``ws://`` or ``wss://host:port/path``); return it.

    - ``timeout=10.0``: for the TCP connection, the TLS handshake and the opening handshake.
    - ``ssl``: for ``wss://``, the TLS context (:func:`wslib.tls.client_context`); by default
      one that trusts the system's store and honours ``$SSLKEYLOGFILE``.
    - ``origin``: an ``Origin`` header, as a browser sends (a server may check it).
    - ``subprotocols``: offered in order of preference; ``conn.subprotocol`` tells the choice.
    - ``additional_headers``: more request headers, as ``(name, value)`` pairs.
    - ``max_size=2**20``: the largest message accepted (1 MiB); bigger closes with 1009.
    - ``max_fragments``, ``max_queue``, ``ping_interval``, ``ping_timeout``, ``close_timeout``,
      ``message_timeout``, ``trace``, ``write_limit``: as for :func:`wslib.serve`.
    - ``compression=None``: ``"deflate"`` (or a :class:`wslib.deflate.DeflateConfig`) offers
      permessage-deflate (RFC 7692); the connection is compressed if the server accepts, and
      the handshake fails if its answer is not one the offer allows. Defaults and memory: see
      :func:`wslib.serve`.

    Raises :class:`~wslib.exceptions.InvalidURI` for a URL that is not ``ws://`` or ``wss://``,
    :class:`~wslib.tls.CertificateVerificationError` when the server's certificate is not
    trusted or not for this host,
    :class:`~wslib.exceptions.InvalidResponse` when the server's answer is not a valid 101
    (for example a 403 or a wrong ``Sec-WebSocket-Accept``), :class:`TimeoutError` and
    :class:`OSError` (such as :class:`ConnectionRefusedError`) for the network.
    """
    target = parse_uri(uri)
    if ssl is not None and not target.secure:
        raise ValueError(f"ssl= is for wss:// URLs, not {uri!r}")
    deadline = time.monotonic() + timeout
    # create_connection: DNS, then TCP; it never looks at proxy environment variables.
    sock = socket.create_connection((target.host, target.port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.secure:
            # RFC 6455 §4.1: "If /secure/ is true, the client MUST perform a TLS handshake over
            # the connection after opening the connection and before sending the handshake data"
            context = ssl if ssl is not None else client_context()
            sock = context.wrap_socket(
                sock, server_hostname=target.host, do_handshake_on_connect=False
            )
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                sock.do_handshake()
            except TimeoutError:
                raise TimeoutError("the TLS handshake did not finish in time") from None
            except OSError as error:  # ssl.SSLError is an OSError
                explained = explain_tls_failure(error, target.authority)
                if explained is error:
                    raise
                raise explained from None
        opening = client_opening(
            target,
            origin=origin,
            subprotocols=subprotocols,
            additional_headers=additional_headers,
            compression=compression,
        )
        request = opening.request
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
        subprotocol, protocol = opening.accept(
            response, max_size=max_size, max_fragments=max_fragments, trace_line=trace_line
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
            write_limit=write_limit,
        )
        # Frames that arrived in the same segment as the 101 are already in the reader's buffer.
        conn.start(bytes(reader.buffer))
    except BaseException:  # including a reader thread that cannot start
        sock.close()
        raise
    return conn
