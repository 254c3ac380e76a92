"""Where the bytes of a capture go: the series' one definition of the byte bill.

Notebooks 05, 06 and 07 all ask "what did this cost on the wire?". They answer with this module,
so that a byte is counted the same way everywhere. Every byte of every captured packet goes into
exactly one of four kinds:

- **TCP/IP headers** (``tcpip``): the IP and TCP headers of every packet, the three-way
  handshake, bare ACKs and FINs included. A packet's size is its IP total length (RFC 791 §3.1):
  the link-layer header is left out, since on loopback it is not real (Wireshark's
  ``frame.len`` counts it: 14 more bytes per packet).
- **HTTP headers** (``http``): every HTTP head, from the start line to the blank line (RFC 9112
  §2.1); for a WebSocket, only the upgrade request and its ``101``.
- **framing** (``framing``): what a protocol adds around the application's data. WebSocket: each
  frame's header (2 to 14 bytes, RFC 6455 §5.2) *and* the payload of control frames (close codes
  and reasons, ping and pong data, §5.5), which no application sent. Server-Sent Events: the
  field names and line breaks (``id:``, ``event:``, ``data:``, comment lines).
- **payload** (``payload``): what the applications wanted to send: data frames' payloads, HTTP
  bodies (without SSE's syntax).

The payload is found by subtraction (TCP payload − HTTP heads − framing), so nothing is counted
twice or lost. :class:`wslib.lab.dissect.Conversation`'s own ``payload_bytes`` and
``framing_bytes`` are the dissector's view of the *frames* only (every frame's payload, control
frames included; headers only): the bill is the one to quote for a connection's cost::

    from wslib.lab.bill import bill, sizes_of
    from wslib.lab.dissect import conversations

    convs = conversations(packets, http=True)
    print(bill(sizes_of(packets), convs))      # 17 packets, 1203 bytes: ...
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..frames import Opcode

__all__ = ["KINDS", "Bill", "bill", "head_length", "sizes_of", "sse_framing"]

#: The four kinds of bytes, in the order the series draws them: (attribute, label).
KINDS = (
    ("tcpip", "TCP/IP headers"),
    ("http", "HTTP headers"),
    ("framing", "framing"),
    ("payload", "payload"),
)

_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class Bill:
    """Packets, and their IP bytes split into the four kinds of :data:`KINDS`."""

    packets: int
    tcpip: int
    http: int
    framing: int
    payload: int

    @property
    def total(self) -> int:
        """Every IP byte: the four kinds added up."""
        return self.tcpip + self.http + self.framing + self.payload

    def as_dict(self) -> dict[str, int]:
        """``{"packets": ..., "TCP/IP headers": ..., ..., "bytes in all": ...}``, for a table."""
        row = {"packets": self.packets}
        row.update({label: getattr(self, attr) for attr, label in KINDS})
        row["bytes in all"] = self.total
        return row

    def __str__(self) -> str:
        parts = ", ".join(f"{label} {getattr(self, attr)}" for attr, label in KINDS)
        return f"{self.packets} packets, {self.total} bytes: {parts}"


def head_length(raw: bytes) -> int:
    """The length of an HTTP message's head, its blank line included (RFC 9112 §2.1)."""
    end = raw.find(_HEAD_END)
    return end + len(_HEAD_END) if end >= 0 else len(raw)


def sse_framing(body: bytes) -> int:
    """The bytes of an event stream that are not the values of its ``data:`` fields.

    HTML Living Standard §9.2.5: a line ``data: VALUE`` carries VALUE (one space after the colon
    is part of the syntax); every other line (``id:``, ``event:``, ``: comment``), the field
    names and the line breaks are framing.
    """
    data = 0
    for line in body.splitlines():
        if line.startswith(b"data:"):
            value = line[5:]
            data += len(value) - (1 if value.startswith(b" ") else 0)
    return len(body) - data


def sizes_of(packets: Iterable[Any]) -> list[tuple[int, int]]:
    """(IP total length, TCP payload length) of each TCP packet of a scapy capture."""
    from scapy.layers.inet import IP, TCP

    return [(int(p[IP].len), len(p[TCP].payload)) for p in packets if IP in p and TCP in p]


def bill(sizes: Iterable[tuple[int, int]], convs: Iterable[Any]) -> Bill:
    """The byte bill of some packets and the conversations they carried.

    ``sizes``: (IP total length, TCP payload length) per packet (:func:`sizes_of` makes them
    from scapy packets); ``convs``: the :class:`wslib.lab.dissect.Conversation` objects that
    :func:`wslib.lab.dissect.conversations` (``http=True`` for plain HTTP) found in them.
    """
    packets = ip_bytes = tcp_payload = 0
    for ip_length, payload_length in sizes:
        packets += 1
        ip_bytes += ip_length
        tcp_payload += payload_length
    http = framing = 0
    for conv in convs:
        for message in conv.http_messages:
            head = head_length(message.raw)
            http += head
            if b"text/event-stream" in message.raw[:head].lower():
                framing += sse_framing(message.raw[head:])
        for frame in conv.frames:
            framing += frame.header_length
            if Opcode(frame.opcode).is_control:
                framing += frame.length  # close codes, ping data: no application sent them
    return Bill(
        packets=packets,
        tcpip=ip_bytes - tcp_payload,
        http=http,
        framing=framing,
        payload=tcp_payload - http - framing,
    )
