"""Exceptions raised by wslib.

Every exception says *who is at fault* and *what goes back on the wire*::

    WebSocketError
    ├── HandshakeError            the opening handshake failed (RFC 6455 §4)
    │   ├── InvalidRequest        a client's request is wrong: the server answers with .status
    │   │   ├── InvalidMethod     not GET -> 405 (with Allow: GET)
    │   │   ├── InvalidHeader     a header is missing or wrong -> 400
    │   │   ├── InvalidVersion    Sec-WebSocket-Version is not 13 -> 426 (and the version we speak)
    │   │   ├── InvalidOrigin     Origin is not allowed -> 403
    │   │   └── HeadTooLarge      a line, the header count or the whole head is over a limit -> 400
    │   └── InvalidResponse       a server's 101 response is wrong: the client gives up
    ├── ProtocolError             the peer broke the framing rules (RFC 6455 §5) -> close 1002
    │   ├── InvalidPayloadData    text that is not UTF-8 (RFC 6455 §8.1) -> close 1007
    │   └── PayloadTooBig         a frame or message over the size limit -> close 1009
    ├── ConnectionClosed          the connection is closed; .code and .reason say how
    │   ├── ConnectionClosedOK    ... with 1000 (normal) or 1001 (going away)
    │   └── ConnectionClosedError ... any other way, 1006 when no close frame arrived
    ├── InvalidURI                a ws:// URL that cannot be used
    └── InvalidState              the local program did something the state does not allow

Errors that come from the *peer* (``InvalidRequest``, ``ProtocolError``) carry what to send back;
errors that come from *this* program (``InvalidState``) are bugs to fix, not something to send.
"""

from __future__ import annotations

from http import HTTPStatus

__all__ = [
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "HandshakeError",
    "HeadTooLarge",
    "InvalidHeader",
    "InvalidMethod",
    "InvalidOrigin",
    "InvalidPayloadData",
    "InvalidRequest",
    "InvalidResponse",
    "InvalidState",
    "InvalidURI",
    "InvalidVersion",
    "PayloadTooBig",
    "ProtocolError",
    "WebSocketError",
]


class WebSocketError(Exception):
    """Base class of every exception that wslib raises."""


# --- opening handshake (RFC 6455 §4) -------------------------------------------------------------


class HandshakeError(WebSocketError):
    """The opening handshake failed."""


class InvalidRequest(HandshakeError):
    """A client's handshake request is wrong; the server rejects it with an HTTP error.

    ``status`` is the HTTP status to answer with and ``headers`` the extra response headers
    the RFC asks for (for example ``Sec-WebSocket-Version: 13`` with a 426).
    """

    status: HTTPStatus = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str, *, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.headers: list[tuple[str, str]] = list(headers or [])


class InvalidMethod(InvalidRequest):
    """The request method is not GET (RFC 6455 §4.1: "The method of the request MUST be GET")."""

    status = HTTPStatus.METHOD_NOT_ALLOWED

    def __init__(self, message: str) -> None:
        super().__init__(message, headers=[("Allow", "GET")])


class InvalidHeader(InvalidRequest):
    """A required header is missing, repeated or has a wrong value (RFC 6455 §4.2.1)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class InvalidVersion(InvalidRequest):
    """``Sec-WebSocket-Version`` is not 13.

    RFC 6455 §4.2.2: the server "MUST abort the WebSocket handshake described in this section and
    instead send an appropriate HTTP error code (such as 426 Upgrade Required) and a
    |Sec-WebSocket-Version| header field indicating the version(s) the server is capable of
    understanding."
    """

    status = HTTPStatus.UPGRADE_REQUIRED

    def __init__(self, message: str) -> None:
        super().__init__(message, headers=[("Sec-WebSocket-Version", "13")])


class InvalidOrigin(InvalidRequest):
    """The ``Origin`` header is not in the server's allow-list (RFC 6455 §4.2.2, §10.2) -> 403."""

    status = HTTPStatus.FORBIDDEN


class HeadTooLarge(InvalidRequest):
    """A request line, a header line, the number of headers or the whole head is over a limit.

    Without limits, a client could make the server buffer an endless header: a security limit.
    """


class InvalidResponse(HandshakeError):
    """A server's handshake response is wrong (RFC 6455 §4.1): the client fails the connection.

    ``status`` is the HTTP status when the server answered something other than 101 (a 403 from
    an origin check, a 503 from a busy server or a proxy without upstream), else None.
    """

    def __init__(self, *args: object, status: int | None = None) -> None:
        super().__init__(*args)
        self.status = status


# --- data framing (RFC 6455 §5) ------------------------------------------------------------------


class ProtocolError(WebSocketError):
    """The peer broke a rule of the framing protocol; the connection is closed with ``close_code``.

    RFC 6455 §7.4.1: 1002 "indicates that an endpoint is terminating the connection due to a
    protocol error".
    """

    close_code: int = 1002


class InvalidPayloadData(ProtocolError):
    """A text message (or close reason) that is not valid UTF-8 -> close 1007 (RFC 6455 §8.1)."""

    close_code = 1007


class PayloadTooBig(ProtocolError):
    """A frame or a message larger than this endpoint accepts -> close 1009 (RFC 6455 §7.4.1)."""

    close_code = 1009


# --- after the connection is closed ---------------------------------------------------------------


class ConnectionFailed(WebSocketError):
    """This endpoint failed the connection for a reason of its own (RFC 6455 §7.1.7), not for a
    frame that broke the protocol: a keepalive ping without pong (1011), a message arriving too
    slowly (1008), too many messages per second (1008). ``close_code`` is what went on the wire.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}".strip())
        self.close_code = code
        self.reason = reason


class ConnectionClosed(WebSocketError):
    """The connection is closed: no more messages can be sent or received.

    ``code`` and ``reason`` are those of the close frame received, or 1006 and "" when the TCP
    connection ended without one (RFC 6455 §7.1.5: 1006 is never sent on the wire).
    """

    def __init__(self, code: int = 1006, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        text = f"connection closed with code {code}"
        if reason:
            text += f" ({reason})"
        super().__init__(text)


class ConnectionClosedOK(ConnectionClosed):
    """The connection was closed normally (1000) or because an endpoint went away (1001)."""


class ConnectionClosedError(ConnectionClosed):
    """The connection was closed with an error code, or without a close frame (1006)."""


class InvalidURI(WebSocketError):
    """A WebSocket URI that is not ``ws://host[:port][/path]`` (RFC 6455 §3)."""


class InvalidState(WebSocketError):
    """The local program asked for something the connection's state does not allow.

    This is a bug in the calling code (for example sending after close), not the peer's fault.
    """
