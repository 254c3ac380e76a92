"""wslib: the WebSocket protocol (RFC 6455), built step by step in the *WebSocket from Scratch*
notebook series.

One module per concept of the RFC:

- :mod:`wslib.handshake`: the opening handshake (§4) and ``Sec-WebSocket-Accept`` (§1.3).
- :mod:`wslib.streams`: a buffer that parsers read exact byte counts and lines from.
- :mod:`wslib.frames`: frames on the wire (§5.2), their checks, close payloads (§5.5.1, §7.4).
- :mod:`wslib.masking`: ``apply_mask``, the XOR with the client's 4-byte key (§5.3).
- :mod:`wslib.messages`: fragmentation and reassembly of messages (§5.4, §5.6).
- :mod:`wslib.protocol`: the connection without I/O: bytes in, events and bytes out (§5-§7).
- :mod:`wslib.server` and :mod:`wslib.client`: :func:`serve` and :func:`connect`, a threaded server
  and a blocking client on real sockets (the only modules here that touch the network).
- :mod:`wslib.exceptions`: what can go wrong, who is at fault, and what goes back on the wire.

Around the protocol, for the notebooks (import them by name: they load scapy or matplotlib,
which ``import wslib`` does not):

- :mod:`wslib.capture`: live loopback capture with scapy; :mod:`wslib.recordings` makes the
  shipped captures in ``data/pcaps/``.
- :mod:`wslib.dissect`: TCP reassembly and WebSocket decoding of pcap files with the parsers
  above; ``python -m wslib.dump FILE.pcap`` prints what it finds.
- :mod:`wslib.ladder`: sequence (ladder) diagrams of a dissected conversation.
- :mod:`wslib.tools`: what this machine can do (capture privileges, nginx, tshark, Chromium).
- :mod:`wslib.exercises`: automatic checks for the notebooks' exercises.
"""

from __future__ import annotations

from .client import ClientConnection, connect
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
from .frames import Close, CloseCode, Frame, Opcode
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
from .masking import apply_mask
from .messages import MessageAssembler
from .protocol import (
    BinaryMessage,
    Closed,
    CloseReceived,
    Connection,
    Event,
    Ping,
    Pong,
    Side,
    State,
    TextMessage,
)
from .server import Server, ServerConnection, SyncConnection, serve
from .streams import StreamReader

__version__ = "0.1.0"

__all__ = [
    "GUID",
    "BinaryMessage",
    "ClientConnection",
    "Close",
    "CloseCode",
    "CloseReceived",
    "Closed",
    "Connection",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "Event",
    "Frame",
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
    "MessageAssembler",
    "MultipleValuesError",
    "Opcode",
    "PayloadTooBig",
    "Ping",
    "Pong",
    "ProtocolError",
    "Request",
    "Response",
    "Server",
    "ServerConnection",
    "Side",
    "State",
    "StreamReader",
    "SyncConnection",
    "TextMessage",
    "WebSocketError",
    "accept",
    "accept_key",
    "apply_mask",
    "check_response",
    "client_request",
    "connect",
    "generate_key",
    "parse_token_list",
    "reject",
    "serve",
]
