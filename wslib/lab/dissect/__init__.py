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
- **Errors inside the capture** are recorded, not raised: a dissector shows what is on the
  wire, even when it is wrong (Wireshark's stance). A frame header that breaks a rule of RFC
  6455 §5 (no MASK bit from a client, a length not in its shortest form, RSV bits without an
  extension, a control frame over 125 bytes or fragmented, a reserved opcode) still says where
  the frame ends: the frame is decoded, its :attr:`FrameRecord.violations` say what is wrong,
  and decoding goes on. Everything else (a handshake wslib would refuse, bad UTF-8, broken
  fragmentation, missing bytes) is an :class:`ErrorRecord` in :attr:`Conversation.errors`;
  only missing bytes stop decoding in that direction (frame boundaries are lost after them).
  Only a file that cannot be read raises :class:`PcapError`.
- **Big payloads**: a :class:`FrameRecord` keeps at most ``max_payload`` bytes of the payload
  (default :data:`MAX_PAYLOAD`, 64 KiB); :attr:`FrameRecord.length` is always the real length
  and :attr:`FrameRecord.truncated` says when bytes were dropped. Dropped bytes are skipped as
  they arrive, never buffered, so a 1 GiB frame costs 64 KiB of memory.
- **permessage-deflate** (RFC 7692, what browsers and python-websockets negotiate by default):
  when the 101 accepts it, RSV1 is allowed and compressed messages are decompressed, each
  direction with its own context (reset per message with ``*_no_context_takeover``).
- **TLS** (``wss://``, :mod:`.tls`): a connection that opens with a ClientHello is read as TLS
  records; with ``keylog=`` (an NSS key log, ``SSLKEYLOGFILE``) they are decrypted (TLS 1.2 and
  1.3, AEAD suites) and the plaintext goes to the same parsers; without it the conversation has
  ``kind == "tls"`` and says "encrypted: N TLS records, pass --keylog".
- **Not covered**: IP fragments (never seen on loopback or with TCP's path MTU discovery).
"""

from __future__ import annotations

from .pcap import PcapError, TruncatedCapture, TruncatedCaptureWarning, read_packets
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
    TimelineEvent,
    timeline,
)
from .tcp import MAX_OUT_OF_ORDER
from .websocket import conversations, dissect, iter_frames, tcp_payloads

__all__ = [
    "MAX_OUT_OF_ORDER",
    "MAX_PAYLOAD",
    "ConnectionKey",
    "Conversation",
    "Direction",
    "Dissection",
    "Endpoint",
    "ErrorRecord",
    "FrameRecord",
    "HttpMessage",
    "PcapError",
    "TcpEvent",
    "TimelineEvent",
    "TruncatedCapture",
    "TruncatedCaptureWarning",
    "conversations",
    "dissect",
    "iter_frames",
    "read_packets",
    "tcp_payloads",
    "timeline",
]
