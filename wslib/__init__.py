"""wslib: the WebSocket protocol (RFC 6455), built step by step in the *WebSocket from Scratch*
notebook series.

One module per concept of the RFC:

- :mod:`wslib.handshake`: the opening handshake (§4) and ``Sec-WebSocket-Accept`` (§1.3).
- :mod:`wslib.streams`: a buffer that parsers read exact byte counts and lines from.
- :mod:`wslib.exceptions`: what can go wrong, who is at fault, and what goes back on the wire.
- :mod:`wslib.exercises`: automatic checks for the notebooks' exercises.
"""

from __future__ import annotations

from .exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    HandshakeError,
    HeadTooLarge,
    InvalidHeader,
    InvalidMethod,
    InvalidOrigin,
    InvalidPayloadData,
    InvalidRequest,
    InvalidResponse,
    InvalidState,
    InvalidURI,
    InvalidVersion,
    PayloadTooBig,
    ProtocolError,
    WebSocketError,
)
from .handshake import (
    GUID,
    Headers,
    MultipleValuesError,
    Request,
    Response,
    accept,
    accept_key,
    check_response,
    client_request,
    generate_key,
    parse_token_list,
    reject,
)
from .streams import StreamReader

__version__ = "0.1.0"

__all__ = [
    "GUID",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "HandshakeError",
    "HeadTooLarge",
    "Headers",
    "InvalidHeader",
    "InvalidMethod",
    "InvalidOrigin",
    "InvalidPayloadData",
    "InvalidRequest",
    "InvalidResponse",
    "InvalidState",
    "InvalidURI",
    "InvalidVersion",
    "MultipleValuesError",
    "PayloadTooBig",
    "ProtocolError",
    "Request",
    "Response",
    "StreamReader",
    "WebSocketError",
    "accept",
    "accept_key",
    "check_response",
    "client_request",
    "generate_key",
    "parse_token_list",
    "reject",
]
