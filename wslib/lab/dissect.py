"""Dissect WebSocket traffic in a capture file: TCP reassembly, the HTTP upgrade, every frame.

What Wireshark does for a WebSocket connection, in one readable module, with wslib's own parsers
(the same code the server runs) doing the decoding::

    capture file ──► packets ──► TCP segments ──► two byte streams per connection
                                                  (client→server, server→client)
                  ──► HTTP request with "Upgrade: websocket" and its 101 answer (RFC 6455 §4)
                  ──► frames (RFC 6455 §5.2): masked client→server, unmasked server→client

Usage::

    from wslib.lab.dissect import conversations
    for conv in conversations("data/pcaps/echo-123-456.pcap"):
        print(conv.summary())

- :func:`read_packets` streams a pcap or pcapng file (scapy's readers, one packet at a time).
- :func:`conversations` returns one :class:`Conversation` per WebSocket connection (with its TCP
  events, handshake, frames, close code, byte counts); :func:`iter_frames` streams the frames
  of a capture of any size, keeping memory flat; :func:`timeline` merges a conversation's
  events in time order (what :func:`wslib.lab.ladder.draw_ladder` draws).
- ``python -m wslib.dump FILE`` (:mod:`wslib.lab.dump`) prints it all, one line per event.
- Connections are numbered like Wireshark's ``tcp.stream``, packets like its ``frame.number``,
  and a frame or HTTP message is shown in the packet that completed it, as Wireshark does:
  ``tests/test_tshark.py`` checks every field against tshark.

Choices, stated once:

- **TCP** (RFC 9293 §3.4, sequence numbers): each direction is put back in sequence-number order;
  a segment whose bytes were all delivered already is a retransmission and is dropped (counted);
  a segment that overlaps delivered bytes contributes only its new bytes; a segment from the
  future waits until the gap before it is filled (at most :data:`MAX_OUT_OF_ORDER` bytes wait,
  after that the capture has lost packets and decoding that direction stops, with an error).
- **Which connections**: a connection is a WebSocket conversation when its client sends an HTTP
  request with ``Upgrade: websocket``, on any port. ``port=N`` limits the search to connections
  with an endpoint on port N. A capture that starts after a connection's handshake cannot be
  decoded: nothing says where frames start in the byte stream, so that connection is skipped
  (Wireshark does the same unless told otherwise). A capture that misses only the SYN is fine.
- **Errors inside the capture** (a frame that breaks RFC 6455, a handshake wslib would refuse,
  missing bytes) are recorded as :class:`ErrorRecord` in :attr:`Conversation.errors`, not
  raised: a dissector shows what is on the wire, even when it is wrong. A framing error stops
  decoding in that direction (frame boundaries are lost after it). Only a file that cannot be
  read raises :class:`PcapError`.
- **Big payloads**: a :class:`FrameRecord` keeps at most ``max_payload`` bytes of the payload
  (default :data:`MAX_PAYLOAD`, 64 KiB); :attr:`FrameRecord.length` is always the real length
  and :attr:`FrameRecord.truncated` says when bytes were dropped. Dropped bytes are skipped as
  they arrive, never buffered, so a 1 GiB frame costs 64 KiB of memory.
- **permessage-deflate** (RFC 7692, what browsers and python-websockets negotiate by default):
  when the 101 accepts it, RSV1 is allowed and compressed messages are decompressed, each
  direction with its own context (reset per message with ``*_no_context_takeover``).
- **Not covered**: IP fragments (never seen on loopback or with TCP's path MTU discovery) and
  TLS (``wss://``: encrypted, nothing to decode without the keys).
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
import socket
import struct
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Union

from ..exceptions import (
    InvalidPayloadData,
    InvalidRequest,
    InvalidResponse,
    ProtocolError,
    WebSocketError,
)
from ..frames import RSV1, Close, Frame, Opcode
from ..handshake import MAX_HEAD_SIZE, MAX_LINE_LENGTH, Headers, Request, Response, check_response
from ..streams import StreamReader

__all__ = [
    "MAX_OUT_OF_ORDER",
    "MAX_PAYLOAD",
    "ConnectionKey",
    "Conversation",
    "Direction",
    "Endpoint",
    "ErrorRecord",
    "FrameRecord",
    "HttpMessage",
    "PcapError",
    "TcpEvent",
    "TimelineEvent",
    "conversations",
    "iter_frames",
    "read_packets",
    "timeline",
]

#: Bytes of each frame's payload kept in :attr:`FrameRecord.payload` (the rest is skipped).
MAX_PAYLOAD = 64 * 1024
#: Bytes that may wait for a gap in a TCP stream to be filled before we call them lost.
MAX_OUT_OF_ORDER = 8 * 1024 * 1024

Direction = Literal["c2s", "s2c"]


class PcapError(WebSocketError):
    """A capture file that cannot be read: missing, not a pcap/pcapng file, or truncated."""


# --- the data model -------------------------------------------------------------------------------


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
    """An HTTP request or response head (RFC 7230 §3), as sent: the handshake (RFC 6455 §4).

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
      payload decompressed (at most ``max_payload`` bytes); ``text`` is decoded from it.
    - ``time``/``packet``: the packet that completed the frame (like Wireshark, which shows a
      frame in the packet where its last byte arrived).
    """

    time: float
    direction: Direction
    opcode: Opcode
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
    - ``errors``: what broke a rule or is missing (:class:`ErrorRecord`), empty when all is well.
    - ``start``/``end``: times of the first and last packet (Unix seconds).
    - ``retransmissions``/``out_of_order``: TCP segments dropped as repeats, and segments that
      arrived before the bytes that precede them.
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

    @property
    def key(self) -> ConnectionKey:
        """The key :func:`iter_frames` yields with this conversation's frames."""
        return ConnectionKey(self.stream, self.client, self.server)

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
            f"{self.packets} packets, {self.wire_bytes} bytes, {self.duration:.3f} s"
        ]
        events = " ".join(e.kind for e in self.tcp_events)
        lines.append(f"  TCP: {self.syns} SYN; events: {events or 'none'}")
        if self.request is not None:
            lines.append(f"  request:  {self.request.start_line}")
        if self.response is not None:
            lines.append(f"  response: {self.response.start_line}")
        if self.kind == "http":
            lines.append(f"  HTTP messages: {len(self.http_messages)}")
        for direction in ("c2s", "s2c") if self.kind == "websocket" else ():
            frames = self.frames_from(direction)
            counts: dict[str, int] = {}
            for frame in frames:
                counts[frame.opcode.name] = counts.get(frame.opcode.name, 0) + 1
            shown = ", ".join(f"{n} {name}" for name, n in counts.items()) or "none"
            lines.append(f"  {direction} frames: {shown}")
        lines.append(f"  payload {self.payload_bytes} bytes, framing {self.framing_bytes} bytes")
        ended = self.ended
        if self.close_code is not None:
            ended += f" (close code {self.close_code}"
            ended += f", {self.close_reason!r})" if self.close_reason else ")"
        lines.append(f"  ended: {ended}")
        for error in self.errors:
            lines.append(f"  error ({error.direction}, packet {error.packet}): {error.message}")
        return "\n".join(lines)


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


# --- reading capture files ------------------------------------------------------------------------


class _Record(NamedTuple):
    """One packet from a file: number (from 1), time, link type, captured bytes, wire length."""

    number: int
    time: float
    linktype: int
    data: bytes
    wirelen: int


# Bytes per packet read from a file. Loopback's MTU is 65536, more than scapy's default of 65535.
_SNAP = 1 << 18


def _read_records(path: str | os.PathLike[str]) -> Iterator[_Record]:
    """Stream the packets of a pcap or pcapng file with scapy's raw readers (no dissection)."""
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapNgReader, RawPcapReader

    name = os.fspath(path)
    if not os.path.exists(name):
        raise PcapError(f"{name}: no such file")
    if os.path.isdir(name):
        raise PcapError(f"{name}: is a directory, not a capture file")
    size = os.path.getsize(name)
    try:
        reader = RawPcapReader(name)  # tries pcap, then pcapng (scapy picks by the magic number)
    except Scapy_Exception as exc:
        raise PcapError(f"{name}: not a pcap or pcapng capture file ({exc})") from None
    except OSError as exc:
        raise PcapError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    ng = isinstance(reader, RawPcapNgReader)
    # One record (pcap) or block (pcapng) at a time. The position before each read tells a clean
    # end of file (nothing left) from a truncated one (a partial record left over).
    read_one = _any(reader)._read_block if ng else reader._read_packet
    plain = _is_plain(reader.f)
    number = 0
    try:
        with reader:
            while True:
                position = reader.f.tell() if plain else 0
                _SCAPY_LOG.addFilter(_quiet)  # scapy would log a warning; we raise PcapError
                try:
                    result = read_one(_SNAP)
                except EOFError:
                    if plain and position < size:
                        raise PcapError(
                            f"{name}: truncated or corrupt after packet {number}: the last "
                            f"{size - position} bytes are not a whole record"
                        ) from None
                    return
                finally:
                    _SCAPY_LOG.removeFilter(_quiet)
                if result is None:  # a pcapng block that is not a packet
                    continue
                data, meta = result[0], _any(result[1])
                if ng:
                    time = ((meta.tshigh << 32) + meta.tslow) / float(meta.tsresol)
                    linktype = meta.linktype
                else:
                    time = meta.sec + meta.usec / (1e9 if reader.nano else 1e6)
                    linktype = reader.linktype
                    if len(data) < min(meta.caplen, _SNAP):
                        raise PcapError(
                            f"{name}: truncated in packet {number + 1}: a record of "
                            f"{meta.caplen} bytes, only {len(data)} of them in the file"
                        )
                number += 1
                yield _Record(number, time, linktype, data, meta.wirelen)
    except (OSError, struct.error) as exc:
        raise PcapError(f"{name}: unreadable after packet {number} ({exc})") from None


_SCAPY_LOG = logging.getLogger("scapy.runtime")


def _quiet(record: logging.LogRecord) -> bool:
    return "Pcap" not in record.getMessage()


def _is_plain(fdesc: Any) -> bool:
    """Is this a plain file (not gzip), where positions can be compared with the file size?"""
    return isinstance(fdesc, (io.BufferedReader, io.FileIO))


def _any(value: object) -> Any:
    """scapy's reader metadata differs between pcap and pcapng: read it untyped."""
    return value


def read_packets(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Stream the packets of a pcap or pcapng file as scapy packets, one at a time.

    Never loads the whole file. Raises :class:`PcapError` with a one-line message for a missing
    file, a file that is not a capture, or one cut short (for instance a capture stopped with
    ``kill -9``); the packets before the cut are yielded first. Each packet has ``.time`` (Unix
    seconds) and ``.wirelen`` set.
    """
    # Importing the layers fills in scapy's table of link types (and its raw layer).
    import scapy.layers.inet
    import scapy.layers.inet6
    import scapy.layers.l2  # noqa: F401
    from scapy.config import conf as scapy_conf

    conf: Any = scapy_conf
    for record in _read_records(path):
        cls = conf.l2types.get(record.linktype, conf.raw_layer)
        packet = cls(record.data)
        packet.time = record.time
        packet.wirelen = record.wirelen
        yield packet


# --- link layer, IP and TCP headers --------------------------------------------------------------


class _Segment(NamedTuple):
    """The fields of one TCP segment that dissection needs (RFC 9293 §3.1)."""

    number: int
    time: float
    src: Endpoint
    dst: Endpoint
    seq: int
    ack: int
    flags: int
    payload: bytes
    wirelen: int


_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10

# Link types (https://www.tcpdump.org/linktypes.html) -> where the IP packet starts, or how to
# find it: ETHERNET (1), NULL (0, BSD loopback: macOS lo0), LOOP (108), LINUX_SLL (113),
# LINUX_SLL2 (276), RAW (101, and 12/14 on some systems), IPV4 (228), IPV6 (229).
_ETHERNET, _NULL, _LOOP, _SLL, _SLL2 = 1, 0, 108, 113, 276
_RAW_TYPES = {101, 12, 14, 228, 229}


def _ip_of(linktype: int, data: bytes) -> bytes | None:
    """The IP packet inside a link-layer frame, or None for anything else (ARP...)."""
    if linktype == _ETHERNET:
        offset = 12
        ethertype = int.from_bytes(data[12:14], "big")
        while ethertype in (0x8100, 0x88A8):  # 802.1Q VLAN tags
            offset += 4
            ethertype = int.from_bytes(data[offset : offset + 2], "big")
        return data[offset + 2 :] if ethertype in (0x0800, 0x86DD) else None
    if linktype in (_NULL, _LOOP):
        return data[4:]
    if linktype == _SLL:
        return data[16:] if data[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == _SLL2:
        return data[20:] if data[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype in _RAW_TYPES:
        return data
    return None


def _segment(number: int, time: float, ip: bytes, wirelen: int) -> _Segment | None:
    """Decode the IPv4/IPv6 and TCP headers (RFC 791, RFC 8200, RFC 9293); None if not TCP."""
    if len(ip) < 20:
        return None
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 0x0F) * 4
        total = int.from_bytes(ip[2:4], "big")
        if ip[9] != 6 or int.from_bytes(ip[6:8], "big") & 0x3FFF:  # not TCP, or a fragment
            return None
        src = socket.inet_ntop(socket.AF_INET, ip[12:16])
        dst = socket.inet_ntop(socket.AF_INET, ip[16:20])
        tcp = ip[ihl:total] if total >= ihl else ip[ihl:]  # total: drop Ethernet padding
    elif version == 6:
        if len(ip) < 40 or ip[6] != 6:  # extension headers are not followed
            return None
        src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
        tcp = ip[40 : 40 + int.from_bytes(ip[4:6], "big")]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, offset_flags = struct.unpack("!HHIIH", tcp[:14])
    header = (offset_flags >> 12) * 4
    return _Segment(
        number,
        time,
        Endpoint(src, sport),
        Endpoint(dst, dport),
        seq,
        ack,
        offset_flags & 0x3F,
        tcp[header:],
        wirelen,
    )


def _segments_from_file(path: str | os.PathLike[str]) -> Iterator[_Segment]:
    for record in _read_records(path):
        ip = _ip_of(record.linktype, record.data)
        if ip is not None:
            segment = _segment(record.number, record.time, ip, record.wirelen)
            if segment is not None:
                yield segment


def _segments_from_packets(packets: Iterable[Any]) -> Iterator[_Segment]:
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    for number, packet in enumerate(packets, 1):
        layer = packet.getlayer(IP) or packet.getlayer(IPv6)
        if layer is None:
            continue
        wirelen = getattr(packet, "wirelen", None) or len(packet)
        segment = _segment(number, float(packet.time), bytes(layer), wirelen)
        if segment is not None:
            yield segment


# --- TCP reassembly -------------------------------------------------------------------------------


def _seq_diff(a: int, b: int) -> int:
    """a - b in 32-bit sequence space (RFC 9293 §3.4: sequence numbers wrap around)."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d


class _LostBytes(Exception):
    pass


class _Reassembler:
    """Put one direction of a TCP connection back in order (RFC 9293 §3.4, §3.10.7.4)."""

    def __init__(self) -> None:
        self.next_seq: int | None = None  # the next byte expected
        self.pending: dict[int, bytes] = {}  # segments that arrived before a gap was filled
        self.pending_bytes = 0
        self.retransmissions = 0
        self.out_of_order = 0
        self.fin_seq: int | None = None

    def push(self, seq: int, flags: int, data: bytes) -> list[bytes]:
        """Add a segment; return the bytes that are now in order (maybe none)."""
        if flags & _SYN:
            seq = (seq + 1) & 0xFFFFFFFF  # the SYN takes one sequence number; data follows
            if self.next_seq is None:
                self.next_seq = seq
        if self.next_seq is None:  # a capture that started after the SYN
            self.next_seq = seq
        if flags & _FIN:
            self.fin_seq = (seq + len(data)) & 0xFFFFFFFF
        if not data:
            return []
        offset = _seq_diff(seq, self.next_seq)
        if offset + len(data) <= 0:  # every byte delivered already: a retransmission
            self.retransmissions += 1
            return []
        if offset > 0:  # from the future: wait for the gap to be filled
            if seq in self.pending and len(self.pending[seq]) >= len(data):
                self.retransmissions += 1
                return []
            self.out_of_order += 1
            self.pending_bytes += len(data) - len(self.pending.get(seq, b""))
            self.pending[seq] = data
            if self.pending_bytes > MAX_OUT_OF_ORDER:
                raise _LostBytes(
                    f"{self.pending_bytes} bytes wait for a gap at sequence number "
                    f"{self.next_seq} that never fills: the capture lost packets"
                )
            return []
        out = [data[-offset:] if offset else data]
        self.next_seq = (self.next_seq + len(out[0])) & 0xFFFFFFFF
        while self.pending:
            progress = False
            for start in list(self.pending):
                offset = _seq_diff(start, self.next_seq)
                if offset > 0:
                    continue
                chunk = self.pending.pop(start)
                self.pending_bytes -= len(chunk)
                progress = True
                if offset + len(chunk) > 0:
                    out.append(chunk[-offset:] if offset else chunk)
                    self.next_seq = (self.next_seq + len(out[-1])) & 0xFFFFFFFF
            if not progress:
                break
        return out

    @property
    def finished(self) -> bool:
        """Has every byte up to the FIN arrived?"""
        return self.fin_seq is not None and self.next_seq == self.fin_seq


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

    def feed(self, data: bytes, fin: bool) -> bytes:
        """Decompress one frame's payload; return at most ``limit`` bytes of the output."""
        # RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the
        # payload of the message" before decompressing it.
        if fin:
            data += b"\x00\x00\xff\xff"
        out = self.zlib.decompress(data, self.limit)
        while self.zlib.unconsumed_tail:  # over the limit: keep the state, drop the output
            self.zlib.decompress(self.zlib.unconsumed_tail, 1 << 16)
        if fin and self.reset_each_message:
            self.zlib = zlib.decompressobj(wbits=-15)
        return out


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
        elif _METHOD_START.match(data):
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
            half.tcp.pending.clear()

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
        """Read an HTTP body (RFC 7230 §3.3.3): by Content-Length, or to the end of the stream."""
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
                    try:
                        response = Response.from_bytes(head)  # the parser wslib's client runs
                        if self.deflate is not None:  # wslib offers no extension: leave it out
                            del response.headers["Sec-WebSocket-Extensions"]
                        if self.key_header is not None:
                            check_response(response, self.key_header)
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
        """Decode frames until the stream ends (RFC 6455 §5.2), with :meth:`Frame.parse`."""
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
        while True:
            half.unit_start = half.consumed
            if (yield from reader.at_eof()):
                return
            # RFC 7692 §6: permessage-deflate uses RSV1 ("Per-Message Compressed" bit)
            frame = yield from Frame.parse(
                half.read_exact, mask=mask, extensions_rsv=RSV1 if inflater else 0
            )
            length = half.last_n
            opcode = frame.opcode
            payload = frame.payload
            header_length = 2 + (0 if length <= 125 else 2 if length <= 0xFFFF else 8)
            header_length += 4 if mask else 0
            text = close_code = close_reason = inflated = None
            if opcode is Opcode.CLOSE:
                try:
                    close = Close.parse(payload)
                    close_code, close_reason = int(close.code), close.reason
                except ProtocolError as exc:
                    self.error(half, exc)
                if self.close_code is None and close_code is not None:
                    self.close_code, self.close_reason = close_code, close_reason
                half.closed = True
            elif not opcode.is_control:
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
                    compressed = frame.rsv1
                truncated = len(payload) < length
                data = payload
                if compressed and inflater is not None and not inflater.broken:
                    try:
                        if truncated:
                            raise ValueError(
                                f"compressed payload of {length} bytes, over max_payload: "
                                "not decompressed, nor what follows in this direction"
                            )
                        data = inflated = inflater.feed(payload, frame.fin)
                    except (zlib.error, ValueError) as exc:
                        self.error(half, exc, "InflateError")
                        inflater.broken = True
                if message is Opcode.TEXT and not (compressed and inflated is None):
                    try:
                        text = decoder.decode(data, final=frame.fin and not truncated)
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
                if frame.fin:
                    message = None
                    decoder.reset()
            record = FrameRecord(
                self.now,
                direction,
                opcode,
                frame.fin,
                mask,
                length,
                header_length,
                payload,
                text,
                close_code,
                close_reason,
                self.packet,
                (frame.rsv1 << 2) | (frame.rsv2 << 1) | frame.rsv3,
                inflated,
            )
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
        half.tcp.pending.clear()
        if half.direction == "s2c":
            self.awaiting_response = False

    def finish(self) -> None:
        """The capture ended: note what is left undecoded."""
        for half in self.halves.values():
            if half.dead or half.parser is None:
                continue
            if half.tcp.pending:
                missing = min(_seq_diff(s, half.tcp.next_seq or s) for s in half.tcp.pending)
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
            kind=self.kind or "other",
            http_messages=list(self.http_messages),
            errors=list(self.errors),
            start=self.start,
            end=self.end,
            retransmissions=sum(h.tcp.retransmissions for h in self.halves.values()),
            out_of_order=sum(h.tcp.out_of_order for h in self.halves.values()),
        )


class _Dissector:
    """Route segments to connections; collect what they decode."""

    def __init__(self, port: int | None, keep_frames: bool, max_payload: int) -> None:
        self.port = port
        self.keep_frames = keep_frames
        self.max_payload = max_payload
        self.table: dict[tuple[Endpoint, Endpoint], _Connection] = {}
        self.connections: list[_Connection] = []
        self.out: list[tuple[ConnectionKey, FrameRecord]] = []

    def feed(self, segment: _Segment) -> None:
        src, dst = segment.src, segment.dst
        connection = self.table.get((src, dst))
        if connection is not None and segment.flags & (_SYN | _ACK) == _SYN:
            # A new SYN on a 4-tuple seen before: a new connection, unless it is the same SYN
            # sent again (same initial sequence number).
            if connection.client_isn != segment.seq:
                connection = None
        if connection is None:
            connection = _Connection(len(self.connections), src, dst, self)
            for half in connection.halves.values():
                half.limit = self.max_payload
            if self.port is not None and self.port not in (src.port, dst.port):
                connection.give_up("other")
            self.connections.append(connection)
            self.table[(src, dst)] = self.table[(dst, src)] = connection
        connection.feed(segment)

    def finish(self) -> None:
        for connection in self.connections:
            if not connection.ignored:
                connection.finish()


Source = Union[str, "os.PathLike[str]", Iterable[Any]]


def _segments(source: Source) -> Iterator[_Segment]:
    if isinstance(source, (str, os.PathLike)):
        return _segments_from_file(source)
    packets = getattr(source, "packets", source)  # a wslib.lab.capture.Capture, or its packets
    return _segments_from_packets(packets)


def conversations(
    source: Source,
    *,
    port: int | None = None,
    http: bool = False,
    max_payload: int = MAX_PAYLOAD,
) -> list[Conversation]:
    """Every WebSocket conversation in a capture, in the order the connections started.

    ``source`` is a pcap/pcapng file path, scapy packets, or a ``wslib.lab.capture.Capture``.
    ``port`` keeps only the connections with an endpoint on that port (the upgrade is found on
    any port without it). ``http=True`` also returns the connections that carried plain HTTP
    without an upgrade (``kind == "http"``), for instance HTTP/1.0 polling. ``max_payload``
    bounds the payload bytes kept per frame. Raises :class:`PcapError` only for a file that
    cannot be read; everything wrong *inside* the capture is recorded in
    :attr:`Conversation.errors`.
    """
    dissector = _Dissector(port, True, max_payload)
    for segment in _segments(source):
        dissector.feed(segment)
        dissector.out.clear()
    dissector.finish()
    kinds = ("websocket", "http") if http else ("websocket",)
    return [
        c.conversation() for c in dissector.connections if c.kind in kinds and c.client is not None
    ]


def iter_frames(
    source: Source,
    *,
    port: int | None = None,
    max_payload: int = MAX_PAYLOAD,
) -> Iterator[tuple[ConnectionKey, FrameRecord]]:
    """Stream every WebSocket frame of a capture as ``(key, frame)``, as soon as it is decoded.

    For captures of any size: frames are not kept, so memory stays flat however many there
    are (``benchmarks/bench_dissect.py`` measures it). ``key`` says which connection the frame
    belongs to (``key.stream`` as in Wireshark). Same arguments as :func:`conversations`.
    """
    dissector = _Dissector(port, False, max_payload)
    out = dissector.out
    for segment in _segments(source):
        dissector.feed(segment)
        if out:
            yield from out
            out.clear()
