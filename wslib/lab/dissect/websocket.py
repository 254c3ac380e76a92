"""WebSocket decoding: the HTTP upgrade (RFC 6455 §4) and the frames (§5) of each connection.

``_Dissector`` routes TCP segments (:mod:`.pcap`) to one ``_Connection`` per 4-tuple; each
direction (``_Half``) has a reassembler (:mod:`.tcp`), a :class:`~wslib.streams.StreamReader`
and a generator parser: HTTP heads (RFC 9112 §2.1) until the upgrade is answered with 101
(RFC 6455 §4.2.2), then frames (RFC 6455 §5.2), read whatever their header says and judged
by wslib's own :func:`~wslib.frames.check_frame` (a broken rule is flagged on the frame), messages
checked for fragmentation (§5.4), UTF-8 (§8.1) and close payloads (§5.5.1), and
decompressed when permessage-deflate was negotiated (RFC 7692 §7). A connection whose client
opens with a TLS ClientHello (``wss://``) goes through :mod:`.tls` first: its records are
listed, and with a key log decrypted, and the decrypted bytes go to the same parsers.
:func:`conversations` and :func:`iter_frames` are the two ways to run it.
"""

from __future__ import annotations

import codecs
import collections
import os
import re
import struct
import warnings
import zlib
from collections.abc import Generator, Iterable, Iterator
from typing import Any, Union

from ...exceptions import (
    InvalidPayloadData,
    InvalidRequest,
    InvalidResponse,
    ProtocolError,
    WebSocketError,
)
from ...frames import (
    FIN,
    MASK,
    MAX_CONTROL_PAYLOAD,
    OPCODE_BITS,
    PAYLOAD_LEN_BITS,
    RSV1,
    RSV_BITS,
    Close,
    Opcode,
    check_frame,
)
from ...handshake import MAX_HEAD_SIZE, MAX_LINE_LENGTH, Headers, Request, Response, check_response
from ...masking import apply_mask
from ...streams import StreamReader
from .pcap import (
    _ACK,
    _FIN,
    _RST,
    _SYN,
    TruncatedCapture,
    TruncatedCaptureWarning,
    _reverse,
    _Segment,
    _segments_from_file,
    _segments_from_packets,
)
from .records import (
    MAX_PAYLOAD,
    ConnectionKey,
    Conversation,
    Direction,
    Dissection,
    Endpoint,
    ErrorRecord,
    FrameRecord,
    HttpMessage,
    TcpEvent,
)
from .tcp import _LostBytes, _Reassembler
from .tls import KeyLog, TlsError, TlsSession, looks_like_client_hello

__all__ = ["conversations", "dissect", "iter_frames"]


# --- reading a frame header, whatever it says (RFC 6455 §5.2) ------------------------------------

_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")
_EXTRA_LENGTH = [0] * 126 + [2, 8]  # bytes of extended payload length, by the 7-bit length
_OPCODES: dict[int, Opcode] = {op.value: op for op in Opcode}
_KNOWN_OPCODES = frozenset(op.value for op in Opcode)  # ints: an Enum's hash is slow Python


def _violations(
    head1: int, masked: bool, mask: bool, short: int, length: int, extensions_rsv: int
) -> tuple[str, ...]:
    """Every rule of RFC 6455 §5 that a frame header breaks, as messages (none: ``()``).

    The rules that :func:`wslib.frames.check_frame` holds (reserved opcodes, RSV bits, control
    frames) are asked of it, one rule at a time, so that its verdict is the RFC's here too; the
    two that :meth:`~wslib.frames.Frame.parse` checks while reading (the MASK bit, a length in
    its shortest form) are written out below. A dissector records them all, where a peer
    would fail the connection at the first one.
    """
    found = []
    if masked != mask:
        found.append(
            # RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that
            # is not masked."
            "unmasked frame from a client: a client MUST mask every frame it sends (RFC 6455 §5.1)"
            if mask
            # RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame."
            else "masked frame from a server: a server MUST NOT mask the frames it sends "
            "(RFC 6455 §5.1)"
        )
    # RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length"
    if (short == 126 and length <= 125) or (short == 127 and length <= 0xFFFF):
        used, needed = (2, 1) if short == 126 else (8, 1 if length <= 125 else 2)
        found.append(
            f"Payload length used {used} bytes when {needed} would have sufficed ({length}): "
            "the minimal number of bytes MUST be used to encode the length (RFC 6455 §5.2)"
        )
    # RFC 6455 §5.2: "the most significant bit MUST be 0"
    if short == 127 and length >> 63:
        found.append(
            "64-bit payload length with its most significant bit set: lengths are at most "
            "2**63 - 1 (RFC 6455 §5.2)"
        )
    opcode = head1 & OPCODE_BITS
    fin = head1 & FIN != 0
    rules = [
        (opcode, True, 0, 0, 0),  # the opcode alone
        (Opcode.TEXT, True, head1 & RSV_BITS, 0, extensions_rsv),  # the RSV bits alone
    ]
    if opcode in (Opcode.CLOSE, Opcode.PING, Opcode.PONG):
        rules.append((opcode, fin, 0, length, 0))  # a control frame: length, then FIN
        if length > MAX_CONTROL_PAYLOAD:
            rules.append((opcode, fin, 0, 0, 0))  # both broken: FIN on its own
    for rule in rules:
        try:
            check_frame(*rule)
        except ProtocolError as exc:
            found.append(str(exc))
    return tuple(found)


# --- decoding one connection ----------------------------------------------------------------------


class _NotHttp(Exception):
    pass


_REQUEST_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP/\d\.\d\r?\n\Z")
_STATUS_LINE = re.compile(rb"HTTP/\d\.\d \d{3}( [^\r\n]*)?\r?\n\Z")
_METHOD_START = re.compile(rb"[A-Z]{3,8} ")


class _Half:
    """One direction of a connection: its reassembler, byte buffer and parser."""

    def __init__(self, sender: Endpoint) -> None:
        self.sender = sender
        self.direction: Direction = "c2s"
        self.tcp = _Reassembler()
        self.reader = StreamReader()
        self.parser: Generator[None, None, None] | None = None
        self.fed = 0  # bytes fed to the reader so far
        self.unit_start = 0  # stream offset of the frame or head being parsed
        self.last_n = 0
        self.limit = MAX_PAYLOAD
        self.fin = False
        self.rst = False
        self.closed = False  # sent a close frame
        self.dead = False  # decoding stopped (error, or not our protocol)

    @property
    def consumed(self) -> int:
        return self.fed - len(self.reader.buffer)

    def read_exact(self, n: int) -> Generator[None, None, bytes]:
        """:meth:`StreamReader.read_exact`, but keep only ``limit`` bytes, skipping the rest."""
        self.last_n = n
        if n <= self.limit:
            return (yield from self.reader.read_exact(n))
        kept = yield from self.reader.read_exact(self.limit)
        remaining = n - self.limit
        buffer = self.reader.buffer
        while remaining:
            if not buffer:
                if self.reader.eof:
                    raise EOFError(f"stream ends {remaining} bytes before the end of the frame")
                yield
                continue
            take = min(len(buffer), remaining)
            del buffer[:take]
            remaining -= take
        return kept


class _Inflater:
    """permessage-deflate (RFC 7692): decompress the compressed messages of one direction."""

    def __init__(self, reset_each_message: bool, limit: int) -> None:
        self.reset_each_message = reset_each_message  # "..._no_context_takeover" (§7.1.1)
        self.limit = limit
        self.zlib = zlib.decompressobj(wbits=-15)
        self.broken = False

    def feed(self, data: bytes, fin: bool) -> bytes | None:
        """Decompress one frame's payload: its output, or None when it is over ``limit`` bytes
        (a decompression bomb, or just a big message: "inflated size over N, not shown")."""
        # RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the
        # payload of the message" before decompressing it.
        if fin:
            data += b"\x00\x00\xff\xff"
        # One byte more than the limit tells "exactly the limit" from "over it".
        out = self.zlib.decompress(data, self.limit + 1)
        over = len(out) > self.limit
        # Over the limit: inflate the rest in bounded steps, dropping the output, so that the
        # decompressor's window stays right for the next messages (context takeover) and
        # memory stays flat, whatever the frame inflates to.
        while self.zlib.unconsumed_tail:
            self.zlib.decompress(self.zlib.unconsumed_tail, 1 << 16)
        if fin and self.reset_each_message:
            self.zlib = zlib.decompressobj(wbits=-15)
        return None if over else out


def _list(headers: Headers, name: str) -> list[str]:
    """The comma-separated elements of every ``name`` header field (RFC 9110 §5.6.1), stripped."""
    return [e.strip() for v in headers.get_all(name) for e in v.split(",") if e.strip()]


def _deflate_parameters(response: HttpMessage) -> set[str] | None:
    """The parameters of permessage-deflate if the server accepted it (RFC 7692 §7.1), else None."""
    for value in response.headers.get_all("Sec-WebSocket-Extensions"):
        for extension in value.split(","):
            name, *params = (part.strip() for part in extension.split(";"))
            if name.lower() == "permessage-deflate":
                return {param.split("=")[0].strip().lower() for param in params}
    return None


class _Connection:
    """Everything known about one TCP connection while the capture is read."""

    def __init__(self, stream: int, a: Endpoint, b: Endpoint, dissector: _Dissector) -> None:
        self.stream = stream
        self.halves = {a: _Half(a), b: _Half(b)}
        self.client: Endpoint | None = None
        self.server: Endpoint | None = None
        self.dissector = dissector
        self.kind: str | None = None  # "websocket", "http", "other" once known
        self.ignored = False
        self.keys: tuple[bytes, bytes] = (b"", b"")  # the raw 4-tuple, both ways
        self.syns = 0
        self.client_isn: int | None = None
        self.server_isn: int | None = None
        self.tcp_events: list[TcpEvent] = []
        self.seen_events: set[tuple[Direction, str]] = set()
        self.http_messages: list[HttpMessage] = []
        self.request: HttpMessage | None = None
        self.response: HttpMessage | None = None
        self.key_header: str | None = None
        self.awaiting_response = False
        self.deflate: set[str] | None = None  # permessage-deflate's parameters, if negotiated
        self.offered_subprotocols: list[str] = []  # the client's offer (RFC 6455 §4.1)
        self.offered_extensions: list[str] = []  # names only, lower case
        self.subprotocol: str | None = None  # what the 101 chose
        self.extensions: list[str] = []
        self.tls: TlsSession | None = None  # wss://: the TLS records, decrypted if keys exist
        self.frames: list[FrameRecord] = []
        self.errors: list[ErrorRecord] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.payload_bytes = 0
        self.framing_bytes = 0
        self.packets = 0
        self.wire_bytes = 0
        self.start = 0.0
        self.end = 0.0
        self.now = 0.0
        self.packet = 0

    # -- roles --

    def set_client(self, client: Endpoint) -> None:
        (server,) = (e for e in self.halves if e != client)
        self.client, self.server = client, server
        self.halves[client].direction = "c2s"
        self.halves[server].direction = "s2c"
        self.halves[client].parser = self._client_parser(self.halves[client])
        self.halves[server].parser = self._server_parser(self.halves[server])

    def guess_client(self, sender: Endpoint, data: bytes) -> None:
        """No SYN seen: the side that speaks HTTP first is the client."""
        port = self.dissector.port
        (other,) = (e for e in self.halves if e != sender)
        if port is not None and (sender.port == port) != (other.port == port):
            self.set_client(other if sender.port == port else sender)
        elif _METHOD_START.match(data) or looks_like_client_hello(data):
            self.set_client(sender)
        elif data.startswith(b"HTTP/"):
            self.set_client(other)
        else:  # started after the handshake: frame boundaries are unknown
            self.give_up("other")

    def give_up(self, kind: str) -> None:
        self.kind = kind
        self.ignored = True
        for half in self.halves.values():
            half.dead = True
            half.parser = None
            half.reader.discard()
            half.tcp.clear()

    # -- events --

    def tcp_event(self, half: _Half, kind: str) -> None:
        if (half.direction, kind) in self.seen_events:
            return
        self.seen_events.add((half.direction, kind))
        self.tcp_events.append(TcpEvent(self.now, half.direction, kind, self.packet))

    def error(self, half: _Half, exc: BaseException, kind: str | None = None) -> None:
        name = kind or type(exc).__name__
        self.errors.append(
            ErrorRecord(self.now, half.direction, name, str(exc), half.unit_start, self.packet)
        )

    # -- the parsers (generators fed by the half's StreamReader) --

    def _read_head(self, half: _Half, pattern: re.Pattern[bytes]) -> Generator[None, None, bytes]:
        """Read an HTTP head (start line to empty line), leniently, as raw bytes."""
        reader = half.reader
        try:
            first = yield from reader.read_line(MAX_LINE_LENGTH)
        except RuntimeError:
            raise _NotHttp from None
        if not pattern.match(first):
            raise _NotHttp
        lines = [first]
        size = len(first)
        while lines[-1] not in (b"\r\n", b"\n"):
            try:
                line = yield from reader.read_line(MAX_LINE_LENGTH)
            except RuntimeError:
                raise InvalidRequest(f"header line longer than {MAX_LINE_LENGTH} bytes") from None
            size += len(line)
            if size > MAX_HEAD_SIZE:
                raise InvalidRequest(f"head longer than {MAX_HEAD_SIZE} bytes")
            lines.append(line)
        return b"".join(lines)

    def _message(self, half: _Half, head: bytes, body: bytes = b"") -> HttpMessage:
        text = head.decode("latin-1")
        start_line, *header_lines = text.split("\n")
        headers = Headers()
        for line in header_lines:
            name, colon, value = line.strip("\r").partition(":")
            if colon:
                try:
                    headers[name.strip()] = value.strip(" \t")
                except ValueError:  # a header wslib would refuse: shown in raw, not here
                    pass
        message = HttpMessage(
            self.now, half.direction, start_line.rstrip("\r"), headers, head + body, self.packet
        )
        self.http_messages.append(message)
        return message

    def _skip_body(
        self, half: _Half, headers: Headers, *, to_eof: bool
    ) -> Generator[None, None, bytes]:
        """Read an HTTP body (RFC 9112 §6.3): by Content-Length, or to the end of the stream."""
        lengths = headers.get_all("Content-Length")
        if "Transfer-Encoding" in headers:
            raise _NotHttp  # chunked bodies are not followed: stop decoding this connection
        if lengths:
            length = int(lengths[0]) if lengths[0].isdigit() else 0
        elif not to_eof:
            return b""
        else:
            length = -1
        kept = bytearray()
        reader = half.reader
        while length != 0:
            if not reader.buffer:
                if reader.eof:
                    if length > 0:
                        raise EOFError(f"the stream ends {length} bytes before the end of the body")
                    break
                yield
                continue
            take = len(reader.buffer) if length < 0 else min(length, len(reader.buffer))
            if len(kept) < half.limit:
                kept += reader.buffer[: min(take, half.limit - len(kept))]
            del reader.buffer[:take]
            if length > 0:
                length -= take
        return bytes(kept)

    def _client_parser(self, half: _Half) -> Generator[None, None, None]:
        reader = half.reader
        while True:
            half.unit_start = half.consumed
            if (yield from reader.at_eof()):
                return
            head = yield from self._read_head(half, _REQUEST_LINE)
            headers_view = self._message(half, head)
            upgrade = headers_view.headers.get_all("Upgrade")
            if any("websocket" in value.lower() for value in upgrade):
                self.kind = "websocket"
                self.request = headers_view
                try:
                    request = Request.from_bytes(head)  # the parser wslib's server runs
                    self.key_header = request.headers.get("Sec-WebSocket-Key")
                except (InvalidRequest, EOFError, ValueError) as exc:
                    self.error(half, exc)
                # RFC 6455 §4.1 items 5 and 6: the answer is checked against what was offered.
                offer = headers_view.headers
                self.offered_subprotocols = _list(offer, "Sec-WebSocket-Protocol")
                self.offered_extensions = [
                    e.split(";")[0].strip().lower()
                    for e in _list(offer, "Sec-WebSocket-Extensions")
                ]
                # RFC 6455 §4.1: the client "MUST wait for a response from the server before
                # sending any further data": wait for the other direction's answer.
                self.awaiting_response = self.response is None
                while self.awaiting_response:
                    yield
                if self.response is not None and self.response.status == 101:
                    yield from self._frames(half, mask=True)
                    return
            else:
                if self.kind is None:
                    self.kind = "http"
                body = yield from self._skip_body(half, headers_view.headers, to_eof=False)
                if body:
                    self._replace_last(headers_view, body)

    def _server_parser(self, half: _Half) -> Generator[None, None, None]:
        reader = half.reader
        while True:
            half.unit_start = half.consumed
            if (yield from reader.at_eof()):
                return
            head = yield from self._read_head(half, _STATUS_LINE)
            message = self._message(half, head)
            status = message.status or 0
            if (self.awaiting_response and status >= 200) or status == 101:
                if self.response is None:  # (a 101 may show up before its request is parsed)
                    self.response = message
                self.awaiting_response = False
                if status == 101:
                    self.kind = "websocket"
                    self.deflate = _deflate_parameters(message)
                    chosen = _list(message.headers, "Sec-WebSocket-Extensions")
                    self.extensions = chosen
                    protocols = _list(message.headers, "Sec-WebSocket-Protocol")
                    self.subprotocol = ", ".join(protocols) or None
                    try:
                        response = Response.from_bytes(head)  # the parser wslib's client runs
                        # §4.1 item 5: "[...] indicates the use of an extension that was not
                        # present in the client's handshake [...] MUST _Fail the WebSocket
                        # Connection_": checked here, against the client's real offer.
                        for extension in chosen:
                            name = extension.split(";")[0].strip().lower()
                            if self.request is not None and name not in self.offered_extensions:
                                offered = ", ".join(map(repr, self.offered_extensions)) or "none"
                                raise InvalidResponse(
                                    f"the server chose the extension {name!r}, which was not "
                                    f"offered (offered: {offered})"
                                )
                        if chosen:  # checked above: wslib's own check offers none
                            del response.headers["Sec-WebSocket-Extensions"]
                        if self.key_header is not None:
                            check_response(
                                response, self.key_header, subprotocols=self.offered_subprotocols
                            )
                    except (InvalidResponse, EOFError, ValueError) as exc:
                        self.error(half, exc)
                    yield from self._frames(half, mask=False)
                    return
            if self.kind is None:
                self.kind = "http"
            if 100 <= status < 200 or status in (204, 304):
                continue
            body = yield from self._skip_body(half, message.headers, to_eof=True)
            if body:
                self._replace_last(message, body)

    def _replace_last(self, message: HttpMessage, body: bytes) -> None:
        """Attach a body (read after the head) to the message recorded for that head; the
        message is now complete in the current packet."""
        full = HttpMessage(
            self.now,
            message.direction,
            message.start_line,
            message.headers,
            message.raw + body,
            self.packet,
        )
        index = next(i for i, m in enumerate(self.http_messages) if m is message)
        self.http_messages[index] = full
        if self.response is message:
            self.response = full

    def _frames(self, half: _Half, *, mask: bool) -> Generator[None, None, None]:
        """Decode frames until the stream ends (RFC 6455 §5.2).

        Like Wireshark, and unlike :meth:`wslib.frames.Frame.parse` (a peer, which fails the
        connection at the first broken rule): a frame whose header breaks a rule keeps its
        boundary, so it is decoded, its :attr:`FrameRecord.violations` say what is wrong, and
        decoding goes on. Only missing bytes stop it.
        """
        reader = half.reader
        direction = half.direction
        message: Opcode | None = None  # TEXT or BINARY while a fragmented message goes on
        decoder = codecs.getincrementaldecoder("utf-8")()
        key = ConnectionKey(self.stream, self.client, self.server)  # type: ignore[arg-type]
        keep = self.dissector.keep_frames
        emit = self.dissector.out.append
        inflater = None
        if self.deflate is not None:
            side = "client" if direction == "c2s" else "server"
            inflater = _Inflater(f"{side}_no_context_takeover" in self.deflate, half.limit)
        compressed = False  # the message in progress is compressed (RSV1 on its first frame)
        # RFC 7692 §6: permessage-deflate uses RSV1 ("Per-Message Compressed" bit)
        extensions_rsv = RSV1 if inflater else 0
        buffer = reader.buffer
        limit = half.limit
        pos = 0  # where the next frame starts in buffer: frames taken are deleted in one go
        while True:
            # The header, read as RFC 6455 §5.2 draws it, whatever it says: every field keeps
            # the frame's boundary, so a frame that breaks a rule is decoded, flagged, and
            # decoding goes on (only missing bytes lose the boundary).
            available = len(buffer) - pos
            if available >= 2:
                head1 = buffer[pos]
                head2 = buffer[pos + 1]
                short = head2 & PAYLOAD_LEN_BITS  # 0-125, or 126/127: a 16/64-bit length follows
                masked = head2 >= MASK
                header_length = 2 + _EXTRA_LENGTH[short] + (4 if masked else 0)
            if available < 2 or available < header_length:  # wait for the rest of the header
                del buffer[:pos]
                pos = 0
                half.unit_start = half.fed - len(buffer)
                while len(buffer) < 2:
                    if reader.eof:
                        if buffer:
                            raise EOFError("the stream ends inside a frame header")
                        return
                    yield
                head1 = buffer[0]
                head2 = buffer[1]
                short = head2 & PAYLOAD_LEN_BITS
                masked = head2 >= MASK
                header_length = 2 + _EXTRA_LENGTH[short] + (4 if masked else 0)
                while len(buffer) < header_length:
                    if reader.eof:
                        raise EOFError("the stream ends inside a frame header")
                    yield
            else:
                half.unit_start = half.fed - len(buffer) + pos
            if short < 126:
                length = short
            elif short == 126:
                (length,) = _U16.unpack_from(buffer, pos + 2)
            else:
                (length,) = _U64.unpack_from(buffer, pos + 2)
            fin = head1 >= FIN
            rsv = head1 & RSV_BITS
            code = head1 & OPCODE_BITS
            opcode: Opcode | int = _OPCODES.get(code, code)
            if (
                masked is mask
                and not rsv & ~extensions_rsv
                and code in _KNOWN_OPCODES
                and (code < 8 or (fin and length <= MAX_CONTROL_PAYLOAD))
                and (short < 126 or (length > 0xFFFF if short == 127 else length > 125))
            ):
                violations: tuple[str, ...] = ()  # the common case: nothing to say
            else:
                violations = _violations(head1, masked, mask, short, length, extensions_rsv)
            start = pos + header_length  # the payload's first byte
            mask_key = bytes(buffer[start - 4 : start]) if masked else b""
            if len(buffer) >= start + length:  # the whole frame is here: no generator needed
                pos = start + length
                payload = bytes(buffer[start : pos if length <= limit else start + limit])
            else:  # the payload is still arriving: read it as it comes (and skip its excess)
                del buffer[:start]
                pos = 0
                payload = yield from half.read_exact(length)
            if masked:  # RFC 6455 §5.3; a masked server frame is unmasked too: shown as sent
                payload = apply_mask(payload, mask_key)
            text = close_code = close_reason = inflated = None
            inflated_over: int | None = None
            if opcode is Opcode.CLOSE:
                try:
                    if len(payload) <= MAX_CONTROL_PAYLOAD:
                        close = Close.parse(payload)
                        close_code, close_reason = int(close.code), close.reason
                    else:  # over 125 bytes, flagged in violations: the code and reason all the same
                        close_code = int(Close.parse(payload[:2]).code)
                        close_reason = payload[2:].decode("utf-8", "replace")
                        payload[2:].decode("utf-8")  # (raises for a reason that is not UTF-8)
                except UnicodeDecodeError as exc:
                    self.error(half, InvalidPayloadData(f"close reason is not valid UTF-8 ({exc})"))
                except (ProtocolError, InvalidPayloadData) as exc:
                    self.error(half, exc)
                if self.close_code is None and close_code is not None:
                    self.close_code, self.close_reason = close_code, close_reason
                half.closed = True
            elif isinstance(opcode, Opcode) and opcode < 8:  # a data frame (§5.6)
                if opcode is Opcode.CONT and message is None:
                    # RFC 6455 §5.4: a fragmented message starts with TEXT or BINARY
                    self.error(
                        half,
                        ProtocolError("continuation frame with no message to continue (§5.4)"),
                    )
                elif opcode is not Opcode.CONT and message is not None:
                    self.error(
                        half,
                        ProtocolError(
                            f"{opcode.name} frame in the middle of a fragmented {message.name} "
                            "message: the fragments of a message MUST NOT be interleaved (§5.4)"
                        ),
                    )
                    decoder.reset()
                if opcode is not Opcode.CONT:
                    message = opcode
                    # RSV1 without permessage-deflate means nothing: the payload is shown as is
                    compressed = inflater is not None and rsv & RSV1 != 0
                truncated = len(payload) < length
                data = payload
                if compressed and inflater is not None and not inflater.broken:
                    try:
                        if truncated:
                            raise ValueError(
                                f"compressed payload of {length} bytes, over max_payload: "
                                "not decompressed, nor what follows in this direction"
                            )
                        inflated = inflater.feed(payload, fin)
                        if inflated is None:
                            inflated_over = inflater.limit
                        else:
                            data = inflated
                    except (zlib.error, ValueError) as exc:
                        self.error(half, exc, "InflateError")
                        inflater.broken = True
                if message is Opcode.TEXT and not (compressed and inflated is None):
                    try:
                        if fin and opcode is Opcode.TEXT and not truncated:
                            text = data.decode()  # a whole message in one frame (most of them)
                        else:
                            text = decoder.decode(data, final=fin and not truncated)
                    except UnicodeDecodeError as exc:
                        self.error(
                            half,
                            InvalidPayloadData(
                                f"text that is not UTF-8 ({exc.reason} at byte {exc.start}): "
                                "RFC 6455 §8.1 fails the connection (close 1007)"
                            ),
                        )
                        decoder.reset()
                    if truncated:
                        decoder.reset()
                if fin:
                    if opcode is not Opcode.TEXT:  # (a whole text frame left it untouched)
                        decoder.reset()
                    message = None
            record = FrameRecord(
                self.now, direction, opcode, fin, masked, length, header_length, payload, text,
                close_code, close_reason, self.packet, rsv >> 4, inflated, violations,
                inflated_over,
            )  # fmt: skip
            self.payload_bytes += length
            self.framing_bytes += header_length
            if keep:
                self.frames.append(record)
            emit((key, record))

    # -- feeding --

    def feed(self, segment: _Segment) -> None:
        self.packets += 1
        self.wire_bytes += segment.wirelen
        if self.packets == 1:
            self.start = segment.time
        self.end = segment.time
        self.now, self.packet = segment.time, segment.number
        half = self.halves[segment.src]
        flags = segment.flags
        if flags & _SYN:
            if not flags & _ACK:
                self.syns += 1
                if self.client is None:
                    self.set_client(segment.src)
                self.client_isn = segment.seq
            elif self.server_isn is None:
                self.server_isn = segment.seq
        elif (
            half.sender == self.client
            and flags & _ACK
            and self.server_isn is not None
            and segment.ack == (self.server_isn + 1) & 0xFFFFFFFF
            and ("c2s", "ACK") not in self.seen_events
        ):
            self.tcp_event(half, "ACK")
        if self.client is None and segment.payload:
            self.guess_client(segment.src, segment.payload)
        if self.ignored:
            return
        if flags & _SYN:
            self.tcp_event(half, "SYN-ACK" if flags & _ACK else "SYN")
        if half.dead:
            chunks: list[bytes] = []
        else:
            try:
                chunks = half.tcp.push(segment.seq, flags, segment.payload)
            except _LostBytes as exc:
                self.error(half, exc, "LostBytes")
                self.stop(half)
                chunks = []
        for chunk in chunks:
            if (
                self.tls is None
                and half.fed == 0
                and half.sender == self.client
                and looks_like_client_hello(chunk)
            ):
                self.tls = TlsSession(self.dissector.keylog)
            if self.tls is not None:  # wss://: what goes on is the decrypted application data
                try:
                    chunk = self.tls.feed(half.direction, chunk, self.now, self.packet)
                except TlsError as exc:
                    self.error(half, exc, "TLS")
                    self.stop(half)
                    break
            half.reader.feed_data(chunk)
            half.fed += len(chunk)
        if flags & _FIN:
            half.fin = True
        if flags & _RST:
            half.rst = True
        if half.tcp.finished and not half.reader.eof:
            half.reader.feed_eof()
        self.pump(half)
        other = self.halves[segment.dst] if segment.dst in self.halves else None
        if other is not None and other.parser is not None and self.kind == "websocket":
            self.pump(other)  # it may wait for this direction (the client waits for the 101)
        if flags & _FIN:
            self.tcp_event(half, "FIN")
        if flags & _RST:
            self.tcp_event(half, "RST")

    def pump(self, half: _Half) -> None:
        if half.parser is None or half.dead:
            return
        try:
            half.parser.send(None)
        except StopIteration:
            half.parser = None
        except _NotHttp:
            if self.kind is None:
                self.give_up("other")
            else:
                self.stop(half)
        except EOFError as exc:
            self.error(half, exc, "Truncated")
            self.stop(half)
        except (WebSocketError, ValueError) as exc:
            self.error(half, exc)
            self.stop(half)

    def stop(self, half: _Half) -> None:
        """Stop decoding one direction (after an error, frame boundaries are unknown)."""
        half.dead = True
        half.parser = None
        half.reader.discard()
        half.tcp.clear()
        if half.direction == "s2c":
            self.awaiting_response = False

    def finish(self) -> None:
        """The capture ended: note what is left undecoded."""
        for half in self.halves.values():
            if half.dead or half.parser is None:
                continue
            if half.tcp.pending:
                missing = half.tcp.gap
                self.error(
                    half,
                    _LostBytes(
                        f"{missing} bytes never arrived before the capture ended, and "
                        f"{half.tcp.pending_bytes} bytes after them could not be decoded"
                    ),
                    "LostBytes",
                )
            elif half.fed > half.unit_start:
                self.error(
                    half,
                    EOFError(
                        f"the capture ends in the middle of a frame or head: "
                        f"{half.fed - half.unit_start} bytes of it were captured"
                    ),
                    "Truncated",
                )

    def conversation(self) -> Conversation:
        assert self.client is not None and self.server is not None
        closes = {h.direction for h in self.halves.values() if h.closed}
        if closes == {"c2s", "s2c"}:
            ended = "close handshake"
        elif any(h.rst for h in self.halves.values()):
            ended = "RST"
        elif any(h.fin for h in self.halves.values()):
            ended = "FIN"
        else:
            ended = "still open"
        # For plain HTTP: the first request and the first response.
        request = self.request or next(
            (m for m in self.http_messages if m.direction == "c2s"), None
        )
        response = self.response or next(
            (m for m in self.http_messages if m.direction == "s2c"), None
        )
        return Conversation(
            client=self.client,
            server=self.server,
            syns=self.syns,
            tcp_events=list(self.tcp_events),
            request=request,
            response=response,
            frames=self.frames,
            ended=ended,
            close_code=self.close_code,
            close_reason=self.close_reason,
            payload_bytes=self.payload_bytes,
            framing_bytes=self.framing_bytes,
            packets=self.packets,
            wire_bytes=self.wire_bytes,
            stream=self.stream,
            kind=self.kind or ("tls" if self.tls is not None else "other"),
            http_messages=list(self.http_messages),
            errors=list(self.errors),
            start=self.start,
            end=self.end,
            retransmissions=sum(h.tcp.retransmissions for h in self.halves.values()),
            out_of_order=sum(h.tcp.out_of_order for h in self.halves.values()),
            subprotocol=self.subprotocol,
            extensions=list(self.extensions),
            tls=None if self.tls is None else self.tls.info(),
        )


#: Connections given up on whose number is remembered (so that a later packet on the same
#: 4-tuple keeps it, as in Wireshark's ``tcp.stream``); beyond, the oldest are forgotten.
MAX_FORGOTTEN = 1 << 14


class _Dissector:
    """Route segments to connections; collect what they decode.

    ``table`` maps each direction's raw 4-tuple to its connection, or, for a connection given
    up on, to a tombstone ``(stream, client_isn)``: a few bytes instead of a connection's
    buffers and records (issue 10, defect 9).
    """

    def __init__(
        self, port: int | None, keep_frames: bool, max_payload: int, keylog: KeyLog | None = None
    ) -> None:
        self.port = port
        self.keylog = keylog
        self.keep_frames = keep_frames
        self.max_payload = max_payload
        self.table: dict[bytes, _Connection | tuple[int, int | None]] = {}
        self.connections: dict[int, _Connection] = {}  # stream -> connection, not given up
        self.forgotten: collections.deque[bytes] = collections.deque()
        self.streams = 0
        self.skipped_connections = 0
        self.skipped_packets = 0
        self.out: list[tuple[ConnectionKey, FrameRecord]] = []

    def feed(self, segment: _Segment) -> None:
        entry = self.table.get(segment.key)
        new_syn = segment.flags & (_SYN | _ACK) == _SYN
        if type(entry) is tuple:  # a connection given up on
            if not new_syn or entry[1] == segment.seq:
                self.skipped_packets += 1
                return
            entry = None  # a new connection on the same 4-tuple
        connection: _Connection | None = entry  # type: ignore[assignment]
        if connection is not None and new_syn:
            # A new SYN on a 4-tuple seen before: a new connection, unless it is the same SYN
            # sent again (same initial sequence number).
            if connection.client_isn != segment.seq:
                connection = None
        if connection is None:
            src, dst = segment.src, segment.dst
            connection = _Connection(self.streams, src, dst, self)
            connection.keys = (segment.key, _reverse(segment.key))
            self.streams += 1
            for half in connection.halves.values():
                half.limit = self.max_payload
            if self.port is not None and self.port not in (src.port, dst.port):
                connection.give_up("other")
            self.connections[connection.stream] = connection
            for key in connection.keys:
                self.table[key] = connection
        connection.feed(segment)
        if connection.ignored:
            self.forget(connection)

    def forget(self, connection: _Connection) -> None:
        """Keep only the number of a connection given up on (and its SYN's sequence number)."""
        del self.connections[connection.stream]
        self.skipped_connections += 1
        self.skipped_packets += connection.packets
        tombstone = (connection.stream, connection.client_isn)
        for key in connection.keys:
            self.table[key] = tombstone
        self.forgotten.append(connection.keys[0])
        if len(self.forgotten) > MAX_FORGOTTEN:
            oldest = self.forgotten.popleft()
            for key in (oldest, _reverse(oldest)):
                if type(self.table.get(key)) is tuple:
                    del self.table[key]

    def finish(self) -> None:
        for connection in self.connections.values():
            connection.finish()


Source = Union[str, "os.PathLike[str]", Iterable[Any]]
#: A key log: a path to an NSS key log file (``SSLKEYLOGFILE``), or a loaded :class:`KeyLog`.
KeyLogSource = Union[str, "os.PathLike[str]", KeyLog, None]


def _keylog(keylog: KeyLogSource) -> KeyLog | None:
    if keylog is None or isinstance(keylog, KeyLog):
        return keylog
    return KeyLog.load(keylog)


def _segments(source: Source, counter: list[int]) -> Iterator[_Segment]:
    if isinstance(source, (str, os.PathLike)):
        return _segments_from_file(source, counter)
    packets = getattr(source, "packets", source)  # a wslib.lab.capture.Capture, or its packets
    return _segments_from_packets(packets, counter)


def tcp_payloads(source: Source) -> Iterator[tuple[float, Endpoint, Endpoint, bytes]]:
    """Every TCP segment that carries data, as ``(time, source, destination, payload)``, in
    capture order: for the protocols this dissector does not decode (such as Redis's RESP in
    notebook 14). Segments, not a reassembled stream: retransmissions come twice."""
    for segment in _segments(source, [0]):
        if segment.payload:
            yield segment.time, segment.src, segment.dst, segment.payload


def dissect(
    source: Source,
    *,
    port: int | None = None,
    http: bool = False,
    max_payload: int = MAX_PAYLOAD,
    keylog: KeyLogSource = None,
) -> Dissection:
    """Dissect a capture: its conversations, and what was skipped or cut short.

    Same arguments as :func:`conversations`, which returns ``dissect(...).conversations``.
    A file that ends inside a record is not an error here: every complete record is decoded
    and :attr:`Dissection.truncated` says where the file ends. Raises :class:`PcapError` for a
    file that cannot be read at all.
    """
    dissector = _Dissector(port, True, max_payload, _keylog(keylog))
    counter = [0]
    truncated = None
    try:
        for segment in _segments(source, counter):
            dissector.feed(segment)
            dissector.out.clear()
    except TruncatedCapture as exc:
        truncated = str(exc)
    dissector.finish()
    # An encrypted connection that could not be decrypted is listed too ("tls"): say so.
    kinds = ("websocket", "http", "tls") if http else ("websocket", "tls")
    return Dissection(
        conversations=[
            c.conversation()
            for c in dissector.connections.values()
            if (c.kind or ("tls" if c.tls is not None else None)) in kinds and c.client is not None
        ],
        packets=counter[0],
        tcp_connections=dissector.streams,
        skipped_connections=dissector.skipped_connections,
        skipped_packets=dissector.skipped_packets,
        truncated=truncated,
    )


def conversations(
    source: Source,
    *,
    port: int | None = None,
    http: bool = False,
    max_payload: int = MAX_PAYLOAD,
    keylog: KeyLogSource = None,
) -> list[Conversation]:
    """Every WebSocket conversation in a capture, in the order the connections started.

    ``source`` is a pcap/pcapng file path, scapy packets, or a ``wslib.lab.capture.Capture``.
    ``port`` keeps only the connections with an endpoint on that port (the upgrade is found on
    any port without it). ``http=True`` also returns the connections that carried plain HTTP
    without an upgrade (``kind == "http"``), for instance HTTP/1.0 polling. ``max_payload``
    bounds the payload bytes kept per frame. ``keylog``: an NSS key log file (or a
    :class:`~wslib.lab.dissect.tls.KeyLog`) to decrypt ``wss://`` connections; without it they
    are listed with ``kind == "tls"`` and their records (:attr:`Conversation.tls`). Raises
    :class:`PcapError` only for a file that cannot be read; everything wrong *inside* the
    capture is recorded in :attr:`Conversation.errors`, and a file cut inside a record gives
    what its complete records hold, with a :class:`TruncatedCaptureWarning` (:func:`dissect`
    tells more).
    """
    found = dissect(source, port=port, http=http, max_payload=max_payload, keylog=keylog)
    if found.truncated:
        warnings.warn(found.truncated, TruncatedCaptureWarning, stacklevel=2)
    return found.conversations


def iter_frames(
    source: Source,
    *,
    port: int | None = None,
    max_payload: int = MAX_PAYLOAD,
    keylog: KeyLogSource = None,
) -> Iterator[tuple[ConnectionKey, FrameRecord]]:
    """Stream every WebSocket frame of a capture as ``(key, frame)``, as soon as it is decoded.

    For captures of any size: frames are not kept, so memory stays flat however many there
    are (``benchmarks/bench_dissect.py`` measures it). ``key`` says which connection the frame
    belongs to (``key.stream`` as in Wireshark). Same arguments as :func:`conversations`.
    """
    dissector = _Dissector(port, False, max_payload, _keylog(keylog))
    out = dissector.out
    for segment in _segments(source, [0]):
        dissector.feed(segment)
        if out:
            yield from out
            out.clear()
