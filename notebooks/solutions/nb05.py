"""Reference solutions to notebook 05's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``. Each function receives scapy packets.
"""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import IP, TCP

# --- 05.count-syns --------------------------------------------------------------------------------
# RFC 9293 §3.5: a connection opens with a SYN from the client (ACK not set), answered by a SYN-ACK.
# A SYN that gets no answer is sent again, with the same ports and the same sequence number: it is
# the same connection. So count the distinct (client address, client port, server address, server
# port, initial sequence number) of the SYN-only packets.


def count_connections(packets: list[Any]) -> int:
    opened = set()
    for packet in packets:
        tcp = packet[TCP]
        if tcp.flags.S and not tcp.flags.A:
            opened.add((packet[IP].src, tcp.sport, packet[IP].dst, tcp.dport, tcp.seq))
    return len(opened)


def count_syn_flags(packets: list[Any]) -> int:
    """Counts every packet with SYN set: the server's SYN-ACKs too."""
    return sum(1 for packet in packets if packet[TCP].flags.S)


def count_syn_packets(packets: list[Any]) -> int:
    """Counts SYN-only packets: a retransmitted SYN counts as a second connection."""
    return sum(1 for packet in packets if packet[TCP].flags == "S")


def count_client_ports(packets: list[Any]) -> int:
    """Counts the connections seen, including one opened before the capture started."""
    return len({frozenset({packet[TCP].sport, packet[TCP].dport}) for packet in packets})


# --- 05.header-bytes ------------------------------------------------------------------------------
# RFC 791 §3.1: IHL is the length of the IP header in 32-bit words; RFC 9293 §3.1: Data Offset is
# the length of the TCP header in 32-bit words. Both include the options.


def header_bytes(packet: Any) -> int:
    return int(packet[IP].ihl) * 4 + int(packet[TCP].dataofs) * 4


def header_bytes_without_options(packet: Any) -> int:
    """The textbook 20 + 20: wrong as soon as TCP carries options (timestamps, on Linux)."""
    return 40


def header_bytes_with_link_layer(packet: Any) -> int:
    """Everything before the payload, including the (fake) Ethernet header of Linux loopback."""
    return len(packet) - len(packet[TCP].payload)


def header_words(packet: Any) -> int:
    """Forgets that IHL and Data Offset count 4-byte words."""
    return int(packet[IP].ihl) + int(packet[TCP].dataofs)


SOLUTIONS: dict[str, Any] = {
    "05.count-syns": count_connections,
    "05.header-bytes": header_bytes,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "05.count-syns": [count_syn_flags, count_syn_packets, count_client_ports],
    "05.header-bytes": [header_bytes_without_options, header_bytes_with_link_layer, header_words],
}
