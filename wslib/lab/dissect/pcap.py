"""Reading capture files: pcap/pcapng records, then link-layer, IP and TCP headers → segments.

- :func:`read_packets` streams a pcap or pcapng file as scapy packets, one at a time.
- ``_read_records`` streams the raw records (scapy's raw readers, no dissection): number, time,
  link type (https://www.tcpdump.org/linktypes.html), captured bytes, length on the wire.
- ``_segments_from_file`` / ``_segments_from_packets`` decode the link-layer header, then IPv4
  (RFC 791 §3.1) or IPv6 (RFC 8200 §3) and the TCP header (RFC 9293 §3.1) by hand with
  :mod:`struct`, into the few fields reassembly needs (``_Segment``).

A file that cannot be read raises :class:`PcapError`; nothing else here raises.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from ...exceptions import WebSocketError
from .records import Endpoint

__all__ = ["PcapError", "TruncatedCapture", "TruncatedCaptureWarning", "read_packets"]


class PcapError(WebSocketError):
    """A capture file that cannot be read: missing, not a pcap/pcapng file, or truncated."""


class TruncatedCapture(PcapError):
    """The file ends inside a record (a capture stopped with ``kill -9``): raised after every
    complete record was read. The message says where: "the file ends inside packet N: K of M
    bytes"."""


class TruncatedCaptureWarning(UserWarning):
    """:func:`~wslib.lab.dissect.conversations` decoded a file that ends inside a record."""


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
                        raise TruncatedCapture(
                            f"{name}: truncated: "
                            + _where_it_ends(name, position, size, number + 1, ng)
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
                        raise TruncatedCapture(
                            f"{name}: truncated: the file ends inside packet {number + 1}: "
                            f"{len(data)} of {meta.caplen} bytes"
                        )
                number += 1
                yield _Record(number, time, linktype, data, meta.wirelen)
    except (OSError, struct.error) as exc:
        raise PcapError(f"{name}: unreadable after packet {number} ({exc})") from None


def _where_it_ends(name: str, position: int, size: int, number: int, ng: bool) -> str:
    """Say where a file cut inside a record ends: how much of that record is there."""
    with open(name, "rb") as f:
        f.seek(position)
        tail = f.read(64)
    present = size - position
    if ng:  # block type, block total length (pcapng, section 3.1); byte order: guessed
        if len(tail) >= 8:
            little = int.from_bytes(tail[4:8], "little")
            total = little if little < 1 << 24 else int.from_bytes(tail[4:8], "big")
            return f"the file ends inside packet {number}: {present} of {total} bytes of its block"
        return f"the file ends inside packet {number}: {present} of its block header's 8 bytes"
    if len(tail) >= 16:  # ts_sec, ts_usec, incl_len, orig_len (the pcap record header)
        little = int.from_bytes(tail[8:12], "little")
        caplen = little if little < 1 << 24 else int.from_bytes(tail[8:12], "big")
        return f"the file ends inside packet {number}: {present - 16} of {caplen} bytes"
    return f"the file ends inside packet {number}: {present} of its record header's 16 bytes"


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
    key: bytes  # source address, destination address, source port, destination port: raw
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
        ip[12:20] + tcp[:4] if version == 4 else ip[8:40] + tcp[:4],
        Endpoint(src, sport),
        Endpoint(dst, dport),
        seq,
        ack,
        offset_flags & 0x3F,
        tcp[header:],
        wirelen,
    )


def _reverse(key: bytes) -> bytes:
    """The key of the other direction of the same connection (addresses and ports swapped)."""
    n = (len(key) - 4) // 2  # 4 bytes per address for IPv4, 16 for IPv6
    return key[n : 2 * n] + key[:n] + key[-2:] + key[-4:-2]


def _segments_from_file(path: str | os.PathLike[str], counter: list[int]) -> Iterator[_Segment]:
    """The TCP segments of a file; ``counter[0]`` counts the records read."""
    for record in _read_records(path):
        counter[0] = record.number
        ip = _ip_of(record.linktype, record.data)
        if ip is not None:
            segment = _segment(record.number, record.time, ip, record.wirelen)
            if segment is not None:
                yield segment


def _segments_from_packets(packets: Iterable[Any], counter: list[int]) -> Iterator[_Segment]:
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    for number, packet in enumerate(packets, 1):
        counter[0] = number
        layer = packet.getlayer(IP) or packet.getlayer(IPv6)
        if layer is None:
            continue
        wirelen = getattr(packet, "wirelen", None) or len(packet)
        segment = _segment(number, float(packet.time), bytes(layer), wirelen)
        if segment is not None:
            yield segment
