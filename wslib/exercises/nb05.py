"""Checks for the exercises of notebook 05 (capturing the conversation).

- ``05.count-syns``: count the TCP connections opened in a capture: one SYN without ACK per
  connection (RFC 9293 §3.5, the three-way handshake), a retransmitted SYN not counted twice.
- ``05.header-bytes``: the bytes of IPv4 and TCP headers in one packet, options included
  (RFC 791 §3.1 IHL, RFC 9293 §3.1 Data Offset): what every packet costs on top of its payload.

The learner's functions receive scapy packets: those of the shipped captures in ``data/pcaps/``
and hand-made ones that contain the traps (a retransmitted SYN, a connection already open when
the capture started, TCP options of different sizes). scapy is imported only when a check runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..lab.tools import PCAP_DIR
from . import Wrong, exercise

__all__ = ["SHIPPED", "header_bytes_cases", "syn_cases"]

#: The shipped captures the checks use, and the number of TCP connections opened in each.
SHIPPED = {"echo-123-456.pcap": 1, "http10-123-456.pcap": 2}

_CLIENT = "127.0.0.1"
_SERVER_PORT = 8888


def _shipped_packets(name: str) -> list[Any]:
    from scapy.utils import rdpcap

    path = PCAP_DIR / name
    if not path.exists():
        return []
    return list(rdpcap(str(path)))


def _segment(
    sport: int,
    dport: int,
    flags: str,
    seq: int,
    ack: int = 0,
    payload: bytes = b"",
    options: list[tuple[str, Any]] | None = None,
    t: float = 0.0,
) -> Any:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    # Ether with zero addresses: how Linux presents loopback packets (and the shipped captures)
    packet = (
        Ether()
        / IP(src=_CLIENT, dst=_CLIENT)
        / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, options=options or [])
    )
    if payload:
        packet = packet / payload
    packet = packet.__class__(bytes(packet))  # as read back from a file: every field computed
    packet.time = t
    return packet


def _handshake(client_port: int, t: float, *, retransmit_syn: bool = False) -> list[Any]:
    syn = [_segment(client_port, _SERVER_PORT, "S", 1000, t=t)]
    if retransmit_syn:  # the first SYN got no answer within 1 s: the same SYN again
        syn.append(_segment(client_port, _SERVER_PORT, "S", 1000, t=t + 1.0))
        t += 1.0
    return [
        *syn,
        _segment(_SERVER_PORT, client_port, "SA", 5000, 1001, t=t + 0.001),
        _segment(client_port, _SERVER_PORT, "A", 1001, 5001, t=t + 0.002),
        _segment(client_port, _SERVER_PORT, "PA", 1001, 5001, b"hello", t=t + 0.003),
        _segment(_SERVER_PORT, client_port, "A", 5001, 1006, t=t + 0.004),
    ]


def syn_cases() -> list[tuple[str, list[Any], int]]:
    """(description, packets, connections opened): the shipped captures and the traps."""
    cases = [
        (f"data/pcaps/{name}", packets, expected)
        for name, expected in SHIPPED.items()
        if (packets := _shipped_packets(name))
    ]
    # A connection already open when the capture started: data, no SYN (not opened here).
    already_open = [
        _segment(40000, _SERVER_PORT, "PA", 7, 9, b"late", t=0.0),
        _segment(_SERVER_PORT, 40000, "A", 9, 11, t=0.001),
    ]
    cases.append(
        (
            "a hand-made capture: one connection whose first SYN was retransmitted, another one, "
            "and the packets of a connection that was open before the capture began",
            [*already_open, *_handshake(40001, 0.1, retransmit_syn=True), *_handshake(40002, 2.0)],
            2,
        )
    )
    cases.append(("a capture with no packets", [], 0))
    return cases


def _call(answer: Any, packets: list[Any], what: str) -> Any:
    if not callable(answer):
        raise Wrong(f"the answer should be a function {what}(packets).")
    return answer(list(packets))


@exercise(
    "05.count-syns",
    "Write count_connections(packets) -> int: how many TCP connections were opened in this "
    "capture (a list of scapy packets)? Each one starts with a SYN from the client, without ACK.",
)
def check_count_syns(answer: Any) -> None:
    for description, packets, expected in syn_cases():
        got = _call(answer, packets, "count_connections")
        if isinstance(got, bool) or not isinstance(got, int):
            raise Wrong(f"return a number (int), not {type(got).__name__}.")
        if got == expected:
            continue
        if expected and got == 2 * expected and "hand-made" not in description:
            raise Wrong(
                f"{description}: you found {got}, twice too many. Did you count the SYN-ACKs "
                "too? The server's answer has SYN and ACK set; only the client's opening packet "
                "has SYN alone."
            )
        if "hand-made" in description and got == 3:
            raise Wrong(
                f"{description}: you found 3, there are 2. Either you counted a retransmitted "
                "SYN (the same ports, the same sequence number, sent again when no SYN-ACK came) "
                "as a new connection, or a connection whose SYN is not in the capture at all."
            )
        raise Wrong(f"{description}: you found {got} connections, there are {expected}.")


# --- 05.header-bytes ------------------------------------------------------------------------------


def header_bytes_cases() -> list[tuple[str, Any]]:
    """(description, packet) pairs: shipped packets and hand-made ones with and without options."""
    cases: list[tuple[str, Any]] = []
    for name in SHIPPED:
        packets = _shipped_packets(name)
        if packets:  # a SYN (TCP options: MSS, SACK, timestamps, window scale) and a data packet
            cases.append((f"the first packet of data/pcaps/{name}", packets[0]))
            with_data = next(p for p in packets if len(p["TCP"].payload))
            cases.append((f"the first data packet of data/pcaps/{name}", with_data))
    cases.append(("a TCP segment without options", _segment(40000, 80, "PA", 1, 1, b"123")))
    cases.append(
        (
            "a TCP segment with a timestamps option",
            _segment(
                40000, 80, "A", 1, 1, options=[("NOP", None), ("NOP", None), ("Timestamp", (1, 2))]
            ),
        )
    )
    return cases


def _expected_header_bytes(packet: Any) -> int:
    from scapy.layers.inet import IP, TCP

    return int(packet[IP].ihl) * 4 + int(packet[TCP].dataofs) * 4


@exercise(
    "05.header-bytes",
    "Write header_bytes(packet) -> int: the bytes of the IPv4 header plus the TCP header of one "
    "scapy packet, options included (not the link-layer header, not the payload).",
)
def check_header_bytes(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function header_bytes(packet).")
    compute: Callable[[Any], Any] = answer
    for description, packet in header_bytes_cases():
        got = compute(packet.copy())
        expected = _expected_header_bytes(packet)
        if isinstance(got, bool) or not isinstance(got, int):
            raise Wrong(f"return a number of bytes (int), not {type(got).__name__}.")
        if got == expected:
            continue
        if got == 40 and expected != 40:
            raise Wrong(
                f"{description}: 40 is the size without options, this one has {expected} bytes "
                "of headers. Read the header lengths from the packet: IP's IHL and TCP's data "
                "offset count 4-byte words."
            )
        if got == expected + 14 or got == expected + 4:
            raise Wrong(
                f"{description}: {got} includes the link-layer header (Ethernet on Linux "
                "loopback, 14 bytes; a 4-byte loopback header on macOS). Count IP and TCP only."
            )
        if got == expected // 4 or got * 4 == expected:
            raise Wrong(
                f"{description}: {got} is a count of 4-byte words; multiply IHL and the data "
                "offset by 4 to get bytes."
            )
        raise Wrong(f"{description}: {got} bytes, the IP and TCP headers take {expected}.")
