"""What a server decides during the opening handshake, without I/O (RFC 6455 §4.2, §10.2).

Both servers (:mod:`wslib.sync.server`, threads, and :mod:`wslib.asyncio.server`, an event loop)
read a request, then ask this module what to answer; they only move the bytes:

- :func:`answer_request`: a parsed request in, an :class:`Answer` out: the 101 that opens the
  WebSocket connection (with the subprotocol chosen), the demo page for a browser's plain ``GET``,
  or the HTTP error for a handshake that breaks a rule (400, 403 for an ``Origin`` not allowed,
  405, 426). :func:`answer_bad_request` is the 400 for a request that could not even be parsed.
- :func:`busy_response`: ``503`` with ``Retry-After`` for a server over ``max_connections``;
  :func:`too_many_response`: ``429`` for a client address over ``max_connections_per_address``.
- :class:`PendingHandshakes`: the handshakes in progress, bounded by ``max_pending_handshakes``:
  a newcomer pushes out the one that has waited longest (a slowloris attacker opening silent
  connections only pushes out its own).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Generic, TypeVar

from .deflate import DeflateConfig, PerMessageDeflate, server_extension
from .exceptions import InvalidRequest
from .handshake import Headers, Request, Response, accept, reject
from .origins import OriginPolicy

__all__ = [
    "Answer",
    "PendingHandshakes",
    "answer_bad_request",
    "answer_request",
    "busy_response",
    "http_response",
    "too_many_response",
]

_K = TypeVar("_K", bound=Hashable)


def http_response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    """A plain HTTP response that ends the connection (``Connection: close``)."""
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


def busy_response(message: str) -> Response:
    """``503 Service Unavailable``: come back in a second (RFC 9110 §15.6.4, §10.2.3)."""
    busy = http_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        f"Failed to open a WebSocket connection: {message}\n".encode(),
        "text/plain; charset=utf-8",
    )
    busy.headers["Retry-After"] = "1"
    return busy


def too_many_response(message: str) -> Response:
    """``429 Too Many Requests`` (RFC 6585 §4): this client has too many connections open."""
    refused = http_response(
        HTTPStatus.TOO_MANY_REQUESTS,
        f"Failed to open a WebSocket connection: {message}\n".encode(),
        "text/plain; charset=utf-8",
    )
    refused.headers["Retry-After"] = "5"
    return refused


def index_html() -> bytes:
    """The browser page served at ``GET /`` (shipped in wslib/sync/static/index.html)."""
    return importlib.resources.files("wslib.sync").joinpath("static/index.html").read_bytes()


@dataclass(frozen=True)
class Answer:
    """What to send back to a request: ``response``; ``opens`` when it is the 101.

    ``error`` is the refused handshake's exception (for the log), ``subprotocol`` the one chosen.
    """

    response: Response
    opens: bool = False
    subprotocol: str | None = None
    error: InvalidRequest | None = None
    deflate: PerMessageDeflate | None = None  # permessage-deflate, when negotiated (RFC 7692)


def answer_bad_request(error: InvalidRequest) -> Answer:
    """The answer to malformed HTTP or a head over a limit: 400 (RFC 6455 §4.2.1)."""
    return Answer(reject(error), error=error)


def answer_request(
    request: Request,
    *,
    origins: Iterable[str | None] | OriginPolicy | None = None,
    subprotocols: Iterable[str] = (),
    compression: DeflateConfig | None = None,
) -> Answer:
    """Decide the answer to a client's opening handshake (RFC 6455 §4.2).

    A plain ``GET`` without ``Upgrade`` is a browser visiting the server: it gets the demo page.
    A request with a ``Sec-WebSocket-*`` header is a WebSocket client (a page's script cannot
    send one: the Fetch standard forbids "Sec-" names) whose handshake lacks ``Upgrade``: it is
    refused with 400, as §4.2.1 asks for a handshake that does not match ("an appropriate error
    code (such as 400 Bad Request)"). Everything else goes through
    :func:`wslib.handshake.accept`: 101, or 400/403/405/426 (§4.2.2, §4.4, §10.2).
    """
    attempted = any(name.lower().startswith("sec-websocket-") for name in request.headers)
    if request.method == "GET" and "Upgrade" not in request.headers and not attempted:
        return Answer(http_response(HTTPStatus.OK, index_html(), "text/html; charset=utf-8"))
    try:
        response = accept(
            request,
            origins=origins
            if origins is None or isinstance(origins, OriginPolicy)
            else list(origins),
            subprotocols=list(subprotocols),
        )
        # RFC 7692: permessage-deflate, if the client offers it and the server wants it
        deflate = server_extension(request, response, compression)
    except InvalidRequest as error:
        return Answer(reject(error), error=error)
    subprotocol = response.headers.get("Sec-WebSocket-Protocol")
    return Answer(response, opens=True, subprotocol=subprotocol, deflate=deflate)


@dataclass(frozen=True)
class Admission(Generic[_K]):
    """What :meth:`PendingHandshakes.admit` decided: refuse the newcomer (503), and/or cut
    ``push_out``, the oldest handshake, to make room."""

    refuse: bool
    push_out: _K | None = None


class PendingHandshakes(Generic[_K]):
    """The connections still in their opening handshake, oldest first, at most ``limit``.

    A key is whatever names a connection for the I/O layer (a socket, a transport). When
    ``limit`` handshakes are in progress, :meth:`admit` names the oldest one, which the I/O layer
    cuts; it stays counted until the I/O layer calls :meth:`end` for it (its thread or task has
    not finished yet). Past twice the limit of such connections, a newcomer is refused.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"max_pending_handshakes must be at least 1, not {limit}")
        self.limit = limit
        self._pending: dict[_K, None] = {}  # a dict keeps the order of insertion: oldest first
        self._pushed_out: set[_K] = set()

    def admit(self, key: _K) -> Admission[_K]:
        """A new connection starts its handshake: register it, or say why not."""
        if len(self._pending) >= 2 * self.limit:
            return Admission(refuse=True)
        push_out = None
        if len(self._pending) - len(self._pushed_out) >= self.limit:
            push_out = next(k for k in self._pending if k not in self._pushed_out)
            self._pushed_out.add(push_out)
        self._pending[key] = None
        return Admission(refuse=False, push_out=push_out)

    def replace(self, old: _K, new: _K) -> None:
        """The same connection under a new key (a socket now wrapped in TLS): same age, and
        still pushed out if it was."""
        if old not in self._pending:
            return
        self._pending = {(new if k == old else k): None for k in self._pending}
        if old in self._pushed_out:
            self._pushed_out.discard(old)
            self._pushed_out.add(new)

    def end(self, key: _K) -> None:
        """This connection left its handshake: opened, refused, cut or gone."""
        self._pending.pop(key, None)
        self._pushed_out.discard(key)

    def __iter__(self) -> Iterator[_K]:
        """Every connection in its handshake, pushed-out ones included (not ended yet)."""
        return iter(list(self._pending))

    def __len__(self) -> int:
        return len(self._pending)
