"""wslib: the WebSocket protocol (RFC 6455), built step by step in the *WebSocket from Scratch*
notebook series.

The package has three layers, and imports only point down (a test checks it):

1. **The protocol, without I/O** (this folder): one module per concept of the RFC, bytes in,
   events and bytes out; nothing here touches a socket.

   - :mod:`wslib.handshake`: the opening handshake (§4) and ``Sec-WebSocket-Accept`` (§1.3).
   - :mod:`wslib.streams`: a buffer that parsers read exact byte counts and lines from.
   - :mod:`wslib.frames`: frames on the wire (§5.2), their checks, close payloads (§5.5.1, §7.4).
   - :mod:`wslib.masking`: ``apply_mask``, the XOR with the client's 4-byte key (§5.3), and
     ``apply_mask_in_place``, the same in a writable buffer (numpy, at memory speed).
   - :mod:`wslib.messages`: fragmentation and reassembly of messages (§5.4, §5.6).
   - :mod:`wslib.protocol`: the connection without I/O: bytes in, events and bytes out (§5-§7).
   - :mod:`wslib.extensions`: the ``Sec-WebSocket-Extensions`` header's grammar (§9.1).
   - :mod:`wslib.deflate`: permessage-deflate (RFC 7692): negotiation and compressed messages.
   - :mod:`wslib.exceptions`: what can go wrong, who is at fault, and what goes back on the wire.
   - :mod:`wslib.tls`: ``wss://``'s SSL contexts (verification on), the key log, clear errors.
   - :mod:`wslib.reconnect`: when and how soon a client comes back (close codes, backoff).

   What every I/O model needs lives here once too: :mod:`wslib.serving` (the server's answer to
   a handshake, the handshakes in progress), :mod:`wslib.timing` (keepalive, close and failure
   deadlines), :mod:`wslib.broadcast` (a message serialized once for many clients),
   :mod:`wslib.uri` and :mod:`wslib.trace`.

2. **One subpackage per I/O model** on top of that core, siblings that never import each other:
   :mod:`wslib.sync` (blocking sockets and threads: :func:`serve`, :func:`connect`,
   :func:`reconnecting`) and
   :mod:`wslib.asyncio` (an event loop: ``wslib.asyncio.serve``, ``wslib.asyncio.connect``;
   import it by name).

3. **The series' instruments**, :mod:`wslib.lab` (import them by name: they load scapy or
   matplotlib, which ``import wslib`` does not): live capture (:mod:`wslib.lab.capture`), the
   dissector of capture files (:mod:`wslib.lab.dissect`, ``python -m wslib.dump FILE.pcap``),
   ladder diagrams (:mod:`wslib.lab.ladder`), the polling experiment (:mod:`wslib.lab.polling`),
   nginx in front (:mod:`wslib.lab.proxy`), the shipped captures (:mod:`wslib.lab.recordings`),
   what this machine can do (:mod:`wslib.lab.tools`), the conformance suite
   (:mod:`wslib.lab.conformance`, ``python -m wslib.conformance URL``) and the article's naive
   server to run it against (:mod:`wslib.lab.article`). :mod:`wslib.exercises` checks the
   notebooks' exercises.
"""

from __future__ import annotations

from . import tls as tls  # wss://: wslib.tls.client_context(...), wslib.tls.server_context(...)
from .deflate import DeflateConfig
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
from .masking import apply_mask, apply_mask_in_place
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
from .reconnect import Backoff
from .streams import StreamReader
from .sync import (
    ClientConnection,
    Server,
    ServerConnection,
    SyncConnection,
    connect,
    reconnecting,
    serve,
)

__version__ = "0.1.0"

__all__ = [
    "GUID",
    "Backoff",
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
    "DeflateConfig",
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
    "apply_mask_in_place",
    "check_response",
    "client_request",
    "connect",
    "generate_key",
    "parse_token_list",
    "reconnecting",
    "reject",
    "serve",
]
