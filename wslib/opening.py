"""What a client decides around its opening handshake, without I/O (RFC 6455 §4.1, RFC 7692).

Both clients (:func:`wslib.connect`, threads; :func:`wslib.asyncio.connect`, an event loop) build
their request with :func:`client_opening` and turn the server's answer into a sans-I/O
:class:`~wslib.protocol.Connection` with :meth:`ClientOpening.accept`; they only move the bytes.
The server's side is :mod:`wslib.serving`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .deflate import (
    EXTENSION_NAME,
    DeflateConfig,
    client_extension,
    client_offer,
    compression_config,
)
from .handshake import Request, Response, check_response, client_request
from .protocol import Connection, Side
from .trace import frame_tracer
from .uri import WebSocketURI

__all__ = ["ClientOpening", "client_opening"]


@dataclass(frozen=True)
class ClientOpening:
    """A client's opening handshake in progress: the ``request`` to send, and what it offered."""

    request: Request
    subprotocols: Sequence[str]
    compression: DeflateConfig | None

    def accept(
        self,
        response: Response,
        *,
        max_size: int | None,
        max_fragments: int | None,
        trace_line: Callable[[str], None] | None,
    ) -> tuple[str | None, Connection]:
        """Check the server's ``response`` ("the client MUST validate the server's response",
        RFC 6455 §4.1; an extension answer the offer did not allow fails too, RFC 7692 §7) and
        return the subprotocol chosen and the client's :class:`~wslib.protocol.Connection`.
        Raises :class:`~wslib.exceptions.InvalidResponse`."""
        subprotocol = check_response(
            response,
            self.request.headers["Sec-WebSocket-Key"],
            subprotocols=self.subprotocols,
            extensions=[EXTENSION_NAME] if self.compression is not None else [],
        )
        deflate = client_extension(response, self.compression)
        protocol = Connection(
            Side.CLIENT,
            max_size=max_size,
            max_fragments=max_fragments,
            defer_failure=True,  # messages before a bad frame reach the application first
            trace=frame_tracer(trace_line),
            deflate=deflate,
        )
        return subprotocol, protocol


def client_opening(
    target: WebSocketURI,
    *,
    origin: str | None = None,
    subprotocols: Sequence[str] = (),
    additional_headers: Iterable[tuple[str, str]] = (),
    compression: str | DeflateConfig | None = None,
) -> ClientOpening:
    """The opening handshake's request for ``target`` (RFC 6455 §4.1), with the
    permessage-deflate offer when ``compression`` asks for it (RFC 7692 §5) and
    ``additional_headers`` last."""
    request = client_request(
        target.authority, target.resource_name, origin=origin, subprotocols=subprotocols
    )
    config = compression_config(compression)
    client_offer(request, config)
    for name, value in additional_headers:
        request.headers[name] = value
    return ClientOpening(request, list(subprotocols), config)
