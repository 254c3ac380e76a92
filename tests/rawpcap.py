"""Captures written byte by byte with :mod:`struct`: fast, exact, and with no tool in between.

scapy builds a packet in tens of microseconds; the tests that need 100,000 packets, or bytes
that scapy would "fix" (a record cut short, a wrong length), write the pcap format by hand:

- the pcap file header and record headers (https://www.tcpdump.org/manpages/pcap-savefile.5.txt),
- Ethernet II (link type 1), IPv4 (RFC 791 §3.1) and TCP (RFC 9293 §3.1) headers; checksums are
  left at 0 (neither wslib nor tshark checks them by default).

:class:`Flow` keeps one TCP connection's sequence numbers right, like ``Wire`` in
``test_dissect.py`` but without scapy.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def pcap_header(linktype: int = 1, snaplen: int = 262_144) -> bytes:
    """The 24-byte pcap file header: magic, version 2.4, zone, sigfigs, snaplen, link type."""
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(data: bytes, time: float, wirelen: int | None = None) -> bytes:
    """One record: seconds, microseconds, captured length, length on the wire, the bytes."""
    seconds = int(time)
    micros = round((time - seconds) * 1_000_000)
    length = len(data) if wirelen is None else wirelen
    return struct.pack("<IIII", seconds, micros, len(data), length) + data


def tcp_packet(
    src: tuple[str, int],
    dst: tuple[str, int],
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
) -> bytes:
    """An Ethernet frame holding an IPv4 packet holding a TCP segment (no options)."""
    tcp = struct.pack(
        "!HHIIBBHHH",
        src[1],
        dst[1],
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
        5 << 4,  # data offset: 5 words of header
        flags,
        65535,  # window
        0,  # checksum (not checked)
        0,  # urgent pointer
    )
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,  # version 4, 5 words of header
        0,
        20 + len(tcp) + len(payload),
        0,
        0x4000,  # don't fragment
        64,
        6,  # TCP
        0,
        socket.inet_aton(src[0]),
        socket.inet_aton(dst[0]),
    )
    ether = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ether + ip + tcp + payload


class Flow:
    """One TCP connection written as pcap records, sequence numbers kept right."""

    def __init__(
        self,
        client: tuple[str, int] = ("10.0.0.1", 50123),
        server: tuple[str, int] = ("10.0.0.2", 8765),
        *,
        client_isn: int = 1000,
        server_isn: int = 900_000,
        start: float = 1_700_000_000.0,
    ) -> None:
        self.ends = {"c2s": (client, server), "s2c": (server, client)}
        self.seq = {"c2s": client_isn, "s2c": server_isn}
        self.time = start
        self.records: list[bytes] = []

    def packet(
        self, direction: str, flags: int, data: bytes = b"", *, seq: int | None = None
    ) -> bytes:
        src, dst = self.ends[direction]
        other = "s2c" if direction == "c2s" else "c2s"
        ack = self.seq[other] if flags & ACK else 0
        frame = tcp_packet(src, dst, self.seq[direction] if seq is None else seq, ack, flags, data)
        self.time += 0.001
        record = pcap_record(frame, self.time)
        if seq is None:
            self.seq[direction] += len(data) + bool(flags & SYN) + bool(flags & FIN)
        self.records.append(record)
        return record

    def connect(self) -> None:
        self.packet("c2s", SYN)
        self.packet("s2c", SYN | ACK)
        self.packet("c2s", ACK)

    def send(self, direction: str, data: bytes, mss: int = 1460) -> None:
        for i in range(0, len(data), mss):
            self.packet(direction, PSH | ACK, data[i : i + mss])

    def upgrade(self, request: bytes, response: bytes) -> None:
        self.send("c2s", request)
        self.send("s2c", response)

    def finish(self) -> None:
        self.packet("c2s", FIN | ACK)
        self.packet("s2c", FIN | ACK)
        self.packet("c2s", ACK)

    def pcap(self) -> bytes:
        return write([self.records])


def write(parts: Iterable[Iterable[bytes]], linktype: int = 1) -> bytes:
    """A whole pcap file: the header, then every record of every part, in order."""
    return pcap_header(linktype) + b"".join(b"".join(records) for records in parts)
