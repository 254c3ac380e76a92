"""wslib.lab.bill: one byte bill for the series, checked on the shipped captures."""

from __future__ import annotations

from wslib.frames import Opcode
from wslib.lab.bill import Bill, bill, head_length, sizes_of, sse_framing
from wslib.lab.dissect import conversations, read_packets
from wslib.lab.tools import PCAP_DIR


def bill_of(name: str) -> tuple[Bill, list]:  # type: ignore[type-arg]
    packets = list(read_packets(PCAP_DIR / name))
    convs = conversations(packets, http=True)
    return bill(sizes_of(packets), convs), packets


def test_the_echo_capture_splits_into_four_kinds_that_add_up() -> None:
    costs, packets = bill_of("echo-123-456.pcap")
    (conv,) = conversations(packets)
    assert costs.packets == len(packets) == conv.packets
    assert costs.total == sum(p["IP"].len for p in packets)
    # the payload is what the applications sent: "123" and "456", each way
    assert costs.payload == 12
    # the framing is every frame header, and the close frames' codes
    closes = sum(f.length for f in conv.frames if f.opcode is Opcode.CLOSE)
    assert closes == 4
    assert costs.framing == conv.framing_bytes + closes
    assert costs.http == len(conv.request.raw) + len(conv.response.raw)
    # the link layer is not counted: 14 bytes per packet less than Wireshark's frame.len
    assert conv.wire_bytes - costs.total == 14 * len(packets)


def test_plain_http_has_no_framing_and_its_bodies_are_payload() -> None:
    costs, _packets = bill_of("http10-123-456.pcap")
    assert costs.framing == 0
    assert costs.payload == 12  # "123" and "456", each in a request and a response
    assert costs.as_dict()["bytes in all"] == costs.total
    assert list(costs.as_dict()) == [
        "packets",
        "TCP/IP headers",
        "HTTP headers",
        "framing",
        "payload",
        "bytes in all",
    ]


def test_head_length_includes_the_blank_line() -> None:
    assert head_length(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody") == 25
    assert head_length(b"no end yet") == 10


def test_sse_framing_counts_all_but_the_data_values() -> None:
    event = b'id: 1\nevent: progress\ndata: {"a":1}\n\n: keep-alive\n\n'
    assert sse_framing(event) == len(event) - len(b'{"a":1}')
    assert sse_framing(b"data:xy\n\n") == len(b"data:\n\n")  # no space: all of it is data
