"""The data model of a dissection: what :func:`~wslib.lab.dissect.conversations` returns.

One record per thing seen on the wire: :class:`TcpEvent` (RFC 9293 §3.5, §3.6: SYN, FIN, RST),
:class:`HttpMessage` (the opening handshake, RFC 6455 §4, RFC 9112 §2.1), :class:`FrameRecord`
(one frame, RFC 6455 §5.2), :class:`ErrorRecord` (a broken rule, where it happened), and
:class:`Conversation`, which holds them all for one TCP connection. :func:`timeline` merges a
conversation's records in wire order (what :func:`wslib.lab.ladder.draw_ladder` draws).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from ...frames import Opcode
from ...handshake import Headers

__all__ = [
    "CONTENT_TYPES",
    "MAX_PAYLOAD",
    "ConnectionKey",
    "Conversation",
    "Direction",
    "Dissection",
    "Endpoint",
    "ErrorRecord",
    "FrameRecord",
    "HttpMessage",
    "TcpEvent",
    "TimelineEvent",
    "TlsInfo",
    "TlsRecord",
    "timeline",
]

#: Bytes of each frame's payload kept in :attr:`FrameRecord.payload` (the rest is skipped).
MAX_PAYLOAD = 64 * 1024

Direction = Literal["c2s", "s2c"]


@dataclass(frozen=True)
class Endpoint:
    """One end of a TCP connection: an IP address and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class ConnectionKey(NamedTuple):
    """Which connection a frame belongs to (what :func:`iter_frames` yields with each frame).

    ``stream`` numbers the TCP connections of the capture from 0 in order of appearance, like
    Wireshark's ``tcp.stream`` field (so ``tshark -Y "tcp.stream eq 0"`` shows the same one).
    """

    stream: int
    client: Endpoint
    server: Endpoint


@dataclass(frozen=True)
class TcpEvent:
    """A TCP control event (RFC 9293 §3.5, §3.6) seen in the capture.

    ``kind``: ``"SYN"`` (the client asks to connect), ``"SYN-ACK"`` (the server agrees),
    ``"ACK"`` (the client's ACK that completes the three-way handshake; later ACKs are not
    events), ``"FIN"`` (this side has no more bytes to send), ``"RST"`` (the connection is
    aborted). Each kind is recorded once per direction (retransmissions are not repeated).
    ``packet`` is the packet number in the file, from 1 (Wireshark's ``frame.number``).
    """

    time: float
    direction: Direction
    kind: str
    packet: int = 0


@dataclass(frozen=True)
class HttpMessage:
    """An HTTP request or response head (RFC 9112 §2.1), as sent: the handshake (RFC 6455 §4).

    ``start_line`` is the request line or status line; ``raw`` the bytes of the head plus up to
    ``max_payload`` bytes of its body (a handshake has none). ``time``/``packet``: the packet that
    completed the message, head and body (as in Wireshark).
    """

    time: float
    direction: Direction
    start_line: str
    headers: Headers
    raw: bytes
    packet: int = 0

    @property
    def status(self) -> int | None:
        """The status code of a response (101 for an accepted upgrade), None for a request."""
        match = re.match(r"HTTP/\d\.\d (\d{3})", self.start_line)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class FrameRecord:
    """One WebSocket frame as it crossed the wire (RFC 6455 §5.2), decoded by :meth:`Frame.parse`.

    - ``masked``: the MASK bit (client→server frames MUST be masked, §5.1).
    - ``length``: the payload length announced in the header (always the real length).
    - ``header_length``: bytes of header: 2, plus 2 or 8 of extended length, plus 4 of masking
      key when masked. ``header_length + length`` is the frame's size on the wire.
    - ``payload``: the payload, unmasked, cut to ``max_payload`` bytes (see :attr:`truncated`).
    - ``text``: for a TEXT frame, or a CONT frame of a text message, the payload decoded as UTF-8
      (a fragment may end inside a character: those bytes show with the next fragment); None
      for other frames or invalid UTF-8.
    - ``close_code``/``close_reason``: for a CLOSE frame with a valid payload (§5.5.1).
    - ``rsv``: the RSV bits (RSV1 = 4: "Per-Message Compressed" with permessage-deflate).
    - ``inflated``: when permessage-deflate (RFC 7692) compressed the message, this frame's
      payload decompressed; ``text`` is decoded from it.
    - ``inflated_over``: the cap (``max_payload``) when the payload inflates to more than that:
      then ``inflated`` and ``text`` are None ("inflated size over N, not shown"). The rest
      is inflated in bounded steps and dropped, so that a decompression bomb in a capture costs
      CPU, never memory, and the messages after it still decode.
    - ``time``/``packet``: the packet that completed the frame (like Wireshark, which shows a
      frame in the packet where its last byte arrived).
    - ``violations``: the rules of RFC 6455 §5 that the header breaks (a client frame without
      the MASK bit, a length not in its shortest form, RSV bits no extension uses, a control
      frame over 125 bytes or fragmented, a reserved opcode), one message each; empty when it
      follows them all. Such a frame keeps its boundary, so it is decoded all the same, like
      Wireshark does, and ``opcode`` is a plain ``int`` when it is reserved.
    """

    time: float
    direction: Direction
    opcode: Opcode | int  # an int for a reserved opcode (0x3-0x7, 0xB-0xF)
    fin: bool
    masked: bool
    length: int
    header_length: int
    payload: bytes
    text: str | None = None
    close_code: int | None = None
    close_reason: str | None = None
    packet: int = 0
    rsv: int = 0  # the three RSV bits, as a number 0-7 (RSV1 = 4)
    inflated: bytes | None = None  # permessage-deflate: this frame's payload decompressed
    violations: tuple[str, ...] = ()  # the rules of RFC 6455 §5 its header breaks
    inflated_over: int | None = None  # permessage-deflate: inflates to more than this, not shown

    @property
    def opcode_name(self) -> str:
        """The opcode's name (``TEXT``...), or ``0x3`` for a reserved opcode (RFC 6455 §5.2)."""
        opcode = self.opcode
        return opcode.name if isinstance(opcode, Opcode) else f"0x{opcode:X}"

    @property
    def truncated(self) -> bool:
        """True when :attr:`payload` holds only the first bytes of a bigger payload."""
        return len(self.payload) < self.length

    @property
    def wire_length(self) -> int:
        """Bytes of this frame on the wire: header plus payload."""
        return self.header_length + self.length

    def preview(self, limit: int = 40) -> str:
        """A short description of the payload: text, close code and reason, or hex."""
        if self.opcode is Opcode.CLOSE and self.close_code is not None:
            return (
                f"{self.close_code} {self.close_reason!r}"
                if self.close_reason
                else str(self.close_code)
            )
        if self.text is not None:
            text = self.text if len(self.text) <= limit else self.text[:limit] + "…"
            return repr(text)
        if not self.payload:
            return ""
        shown = self.payload[: limit // 2].hex(" ")
        return shown + (" …" if self.length > limit // 2 else "")


@dataclass(frozen=True)
class ErrorRecord:
    """Something in the capture that breaks a rule, recorded where it happened.

    ``error`` names the kind (the wslib exception class, such as ``"ProtocolError"``, or
    ``"LostBytes"``/``"Truncated"`` for what the capture itself misses); ``offset`` is the byte
    offset in that direction's TCP stream where the broken unit (frame, head) starts.
    """

    time: float
    direction: Direction
    error: str
    message: str
    offset: int = 0
    packet: int = 0


#: What :func:`timeline` returns: every event of a conversation.
TimelineEvent = TcpEvent | HttpMessage | FrameRecord | ErrorRecord


#: TLS record content types (RFC 8446 §5.1).
CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}


@dataclass(frozen=True)
class TlsRecord:
    """One TLS record as seen on the wire (RFC 8446 §5.1), and what it held once decrypted.

    ``content_type`` is the header's (23, application data, for every encrypted TLS 1.3
    record); ``inner_type`` the real one after decryption (None if not decrypted or never
    encrypted); ``length`` the fragment's length on the wire, ``plaintext_length`` the bytes
    of content inside (None if not decrypted). ``packet``: the packet that completed it.
    """

    time: float
    direction: Direction
    content_type: int
    length: int
    packet: int
    encrypted: bool
    inner_type: int | None = None
    plaintext_length: int | None = None

    @property
    def kind(self) -> str:
        """The content type's name: the inner one when known."""
        code = self.inner_type if self.inner_type is not None else self.content_type
        return CONTENT_TYPES.get(code, str(code))


@dataclass(frozen=True)
class TlsInfo:
    """What one connection's TLS session looked like (:attr:`Conversation.tls`)."""

    version: str  # "TLS 1.3", "TLS 1.2", or "?" when no ServerHello was captured
    cipher_suite: str
    server_name: str | None  # the SNI the client sent (RFC 6066 §3), if any
    records: list[TlsRecord]
    decrypted: bool  # application data was decrypted (at least one record)
    keys_found: bool  # the key log had this session's secrets

    def summary(self) -> str:
        """One line: version, suite and what was decrypted, or what to do to decrypt."""
        n = len(self.records)
        if not self.decrypted:
            if self.keys_found:
                return f"encrypted: {n} TLS records, the key log's secrets did not decrypt them"
            return f"encrypted: {n} TLS records, pass --keylog"
        return f"{self.version}, {self.cipher_suite}: {n} TLS records, decrypted with the key log"


@dataclass(frozen=True)
class Conversation:
    """One TCP connection that carried (or tried to open) a WebSocket, from a capture.

    - ``syns``: packets with SYN set and ACK clear (connection requests; 1 normally, more if the
      SYN was retransmitted, 0 if the capture started after it).
    - ``request``/``response``: the opening handshake (RFC 6455 §4), None if not captured.
    - ``frames``: every frame, both directions, in the order they completed.
    - ``ended``: ``"close handshake"`` (a close frame went each way, §7.1.2), else ``"RST"``
      (aborted), else ``"FIN"`` (TCP closed without the close handshake), else ``"still open"``
      (the capture stopped first).
    - ``close_code``/``close_reason``: from the first close frame (who started closing).
    - ``payload_bytes``: sum of the frames' payload lengths; ``framing_bytes``: sum of their
      headers (the overhead WebSocket adds to the data).
    - ``packets``: TCP packets of the connection (handshake and bare ACKs included);
      ``wire_bytes``: their size as captured, link-layer header included (Wireshark's
      ``frame.len``).
    - ``kind``: ``"websocket"`` (an upgrade request was seen) or ``"http"`` (plain HTTP, only
      when :func:`conversations` is called with ``http=True``).
    - ``stream``: the connection's number in the capture (Wireshark's ``tcp.stream``).
    - ``http_messages``: every HTTP message, both ways (for a WebSocket: request and response;
      for HTTP/1.0 polling, one pair per connection; keep-alive: several).
    - ``errors``: what broke a rule or is missing (:class:`ErrorRecord`), empty when all is well,
      except for the rules a frame header breaks: those are the frame's own
      :attr:`FrameRecord.violations` (:attr:`violations` lists them all).
    - ``start``/``end``: times of the first and last packet (Unix seconds).
    - ``retransmissions``/``out_of_order``: TCP segments dropped as repeats, and segments that
      arrived before the bytes that precede them.
    - ``subprotocol``/``extensions``: what the 101 chose (``Sec-WebSocket-Protocol``,
      ``Sec-WebSocket-Extensions``, RFC 6455 §4.2.2, §9), checked against the client's offer.
    - ``tls``: for ``wss://`` (a TLS connection), its records and session (:class:`TlsInfo`);
      ``kind`` is ``"tls"`` when nothing could be decrypted (no key log, or not its keys).
    """

    client: Endpoint
    server: Endpoint
    syns: int
    tcp_events: list[TcpEvent]
    request: HttpMessage | None
    response: HttpMessage | None
    frames: list[FrameRecord]
    ended: str
    close_code: int | None
    close_reason: str | None
    payload_bytes: int
    framing_bytes: int
    packets: int
    wire_bytes: int
    stream: int = 0
    kind: str = "websocket"
    http_messages: list[HttpMessage] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0
    retransmissions: int = 0
    out_of_order: int = 0
    subprotocol: str | None = None
    extensions: list[str] = field(default_factory=list)
    tls: TlsInfo | None = None

    @property
    def key(self) -> ConnectionKey:
        """The key :func:`iter_frames` yields with this conversation's frames."""
        return ConnectionKey(self.stream, self.client, self.server)

    @property
    def violations(self) -> list[tuple[FrameRecord, str]]:
        """Every rule broken by a frame header, with its frame, in wire order."""
        return [(frame, v) for frame in self.frames for v in frame.violations]

    @property
    def upgraded(self) -> bool:
        """Did the server accept the upgrade (a 101 response, RFC 6455 §4.2.2)?"""
        return self.response is not None and self.response.status == 101

    @property
    def duration(self) -> float:
        """Seconds from the first packet of the connection to its last."""
        return self.end - self.start

    def frames_from(self, direction: Direction) -> list[FrameRecord]:
        """The frames sent one way: ``"c2s"`` (client to server) or ``"s2c"``."""
        return [f for f in self.frames if f.direction == direction]

    def summary(self) -> str:
        """A few lines that describe the conversation, for people."""
        lines = [
            f"tcp.stream {self.stream}: {self.client} -> {self.server} ({self.kind}), "
            f"{self.packets} packets, {self.wire_bytes} bytes captured (link-layer headers "
            f"included), {self.duration:.3f} s"
        ]
        events = " ".join(e.kind for e in self.tcp_events)
        lines.append(f"  TCP: {self.syns} SYN; events: {events or 'none'}")
        if self.tls is not None:
            lines.append(f"  TLS: {self.tls.summary()}")
        if self.request is not None:
            lines.append(f"  request:  {self.request.start_line}")
        if self.response is not None:
            lines.append(f"  response: {self.response.start_line}")
        if self.upgraded:
            extensions = ", ".join(self.extensions) or "none"
            lines.append(f"  subprotocol: {self.subprotocol or 'none'}; extensions: {extensions}")
        if self.kind == "http":
            lines.append(f"  HTTP messages: {len(self.http_messages)}")
        for direction in ("c2s", "s2c") if self.kind == "websocket" else ():
            frames = self.frames_from(direction)
            counts: dict[str, int] = {}
            for frame in frames:
                counts[frame.opcode_name] = counts.get(frame.opcode_name, 0) + 1
            shown = ", ".join(f"{n} {name}" for name, n in counts.items()) or "none"
            lines.append(f"  {direction} frames: {shown}")
        # The frames' own view, not a byte bill (wslib.lab.bill puts control frames under framing
        # and counts IP bytes): say so, so the two cannot be mistaken for each other.
        lines.append(
            f"  frames: payload {self.payload_bytes} B (control frames included), "
            f"headers {self.framing_bytes} B"
        )
        ended = self.ended
        if self.close_code is not None:
            ended += f" (close code {self.close_code}"
            ended += f", {self.close_reason!r})" if self.close_reason else ")"
        lines.append(f"  ended: {ended}")
        for error in self.errors:
            lines.append(f"  error ({error.direction}, packet {error.packet}): {error.message}")
        for frame in self.frames:
            for violation in frame.violations:
                lines.append(
                    f"  violation ({frame.direction}, packet {frame.packet}, "
                    f"{frame.opcode_name}): {violation}"
                )
        return "\n".join(lines)


@dataclass(frozen=True)
class Dissection:
    """What :func:`~wslib.lab.dissect.dissect` found in a capture, skipped parts included.

    - ``conversations``: as :func:`~wslib.lab.dissect.conversations` returns them.
    - ``packets``: records read from the file; ``tcp_connections``: TCP connections seen
      (4-tuples, numbered like Wireshark's ``tcp.stream``).
    - ``skipped_connections``/``skipped_packets``: connections given up on, and their packets:
      no HTTP upgrade in their first bytes, a capture that starts after their handshake, or
      outside ``port``. They are forgotten as soon as they are given up on, so that a capture
      full of other traffic costs no memory per connection (issue 10, defect 9).
    - ``truncated``: when the file ends inside a record (a capture stopped with ``kill -9``),
      one line that says where; every complete record before it was decoded. None otherwise.
    """

    conversations: list[Conversation]
    packets: int = 0
    tcp_connections: int = 0
    skipped_connections: int = 0
    skipped_packets: int = 0
    truncated: str | None = None

    def skipped(self) -> str:
        """One line that says what was skipped ("" when nothing was)."""
        if not self.skipped_connections:
            return ""
        return (
            f"skipped {self.skipped_connections} of {self.tcp_connections} TCP connections "
            f"({self.skipped_packets} packets): no WebSocket upgrade or HTTP in their first "
            "bytes, a capture that starts after their handshake, or another port"
        )


_RANK = {"SYN": 0, "SYN-ACK": 0, "ACK": 0, "FIN": 4, "RST": 4}


def timeline(conversation: Conversation) -> list[TimelineEvent]:
    """Every event of a conversation in the order it happened: what a ladder diagram draws.

    TCP events, HTTP messages, frames and errors merged by packet number; within one packet,
    the TCP handshake comes first, then HTTP, frames, errors, and FIN/RST last (a FIN packet
    may carry a last frame).
    """
    items: list[tuple[int, int, int, TimelineEvent]] = []
    for i, tcp in enumerate(conversation.tcp_events):
        items.append((tcp.packet, _RANK.get(tcp.kind, 0), i, tcp))
    http = conversation.http_messages or [
        m for m in (conversation.request, conversation.response) if m is not None
    ]
    for i, message in enumerate(http):
        items.append((message.packet, 1, i, message))
    for i, frame in enumerate(conversation.frames):
        items.append((frame.packet, 2, i, frame))
    for i, error in enumerate(conversation.errors):
        items.append((error.packet, 3, i, error))
    items.sort(key=lambda item: item[:3])
    return [item[3] for item in items]
