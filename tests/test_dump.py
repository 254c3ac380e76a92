"""``python -m wslib.dump``: the command line, run as a learner would run it (a subprocess)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wslib import Frame, Opcode, accept, client_request

from .conftest import ROOT
from .test_dissect import Wire, echo_session, masked


def dump(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wslib.dump", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


FRAME_LINE = re.compile(
    r"^\s*(?P<time>\d+\.\d{6})  (?P<dir>C→S|S→C)  #(?P<packet>\d+)\s+(?P<opcode>[A-Z]+)\s+"
    r"fin=(?P<fin>[01]) mask=(?P<mask>[01]) len=(?P<len>\d+)\s*(?P<rest>.*)$"
)


# What the command prints for echo_session(), checked by hand against how that capture is made
# (issue 19: not against format_conversation, the function that prints it): the Wire starts at
# 1,700,000,000 s and each packet comes 1 ms after the previous one; packets 4-6 are the request,
# the server's bare ACK and the 101; frame headers are 2 bytes + 4 of masking key client→server
# (3 x 6 + 3 x 2 = 24); payloads 3 + 3 + 3 + 3 + 5 + 5 = 22 bytes.
ECHO_DUMP = """\
== tcp.stream 0: client 10.0.0.1:50123 -> server 10.0.0.2:8765
  0.000000  C→S  #1     TCP SYN
  0.001000  S→C  #2     TCP SYN-ACK
  0.002000  C→S  #3     TCP ACK
  0.003000  C→S  #4     HTTP GET /chat HTTP/1.1
  0.005000  S→C  #6     HTTP HTTP/1.1 101 Switching Protocols
  0.006000  C→S  #7     TEXT   fin=1 mask=1 len=3      '123'
  0.007000  S→C  #8     TEXT   fin=1 mask=0 len=3      '123'
  0.008000  C→S  #9     TEXT   fin=1 mask=1 len=3      '456'
  0.009000  S→C  #10    TEXT   fin=1 mask=0 len=3      '456'
  0.010000  C→S  #11    CLOSE  fin=1 mask=1 len=5      code=1000 reason='bye'
  0.011000  S→C  #12    CLOSE  fin=1 mask=0 len=5      code=1000 reason='bye'
  0.012000  C→S  #13    TCP FIN
  0.013000  S→C  #14    TCP FIN
-- 6 frames, 22 bytes of payload + 24 bytes of frame headers; 15 packets, {wire} bytes on the \
wire; ended: close handshake, close code 1000 'bye'
"""


def test_prints_every_frame_like_a_dissector(tmp_path: Path) -> None:
    wire = echo_session()
    path = wire.write(tmp_path / "echo.pcap")
    done = dump(str(path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    on_the_wire = sum(len(packet) for packet in wire.packets)  # from scapy's own packets
    assert done.stdout == ECHO_DUMP.format(wire=on_the_wire)


TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed; CI installs it")
@pytest.mark.parametrize(
    "name", ["echo-123-456.pcap", "fragmented-ping.pcap", "nginx-both-legs.pcap"]
)
def test_frame_lines_agree_with_tshark(name: str) -> None:
    """Each frame line's packet, opcode, FIN, MASK and length, against tshark's fields."""
    from .test_tshark import tshark_frames

    path = ROOT / "data" / "pcaps" / name
    if not path.exists():
        pytest.fail(f"{name} is a shipped capture: it must be there")
    done = dump(str(path))
    assert done.returncode == 0, done.stderr
    shown = [m.groupdict() for line in done.stdout.splitlines() if (m := FRAME_LINE.match(line))]
    ports = {int(p) for p in re.findall(r"-> server [\d.]+:(\d+)", done.stdout)}
    theirs = tshark_frames(path, ports)
    shown.sort(key=lambda line: int(line["packet"]))  # tshark lists by packet, not by stream
    assert len(shown) == len(theirs) > 0
    for line, frame in zip(shown, theirs, strict=True):
        assert int(line["packet"]) == frame["packet"]
        assert line["opcode"] == Opcode(frame["opcode"]).name
        assert (line["fin"], line["mask"]) == (str(int(frame["fin"])), str(int(frame["masked"])))
        assert int(line["len"]) == frame["length"]


def test_port_option(tmp_path: Path) -> None:
    path = echo_session().write(tmp_path / "echo.pcap")
    assert dump(str(path), "--port", "8765").returncode == 0
    done = dump(str(path), "--port", "8766")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"wslib.dump: no WebSocket conversation on port 8766 in {path}",
        "wslib.dump: skipped 1 of 1 TCP connections (15 packets): no WebSocket upgrade or HTTP "
        "in their first bytes, a capture that starts after their handshake, or another port",
    ]


def test_two_conversations_share_one_clock(tmp_path: Path) -> None:
    first = echo_session(messages=["a"])
    second = echo_session(Wire(("10.0.0.7", 40000), start=1_700_000_005), messages=["b"])
    path = tmp_path / "two.pcap"
    from scapy.utils import wrpcap

    wrpcap(str(path), first.packets + second.packets)
    done = dump(str(path))
    assert done.returncode == 0
    blocks = done.stdout.split("\n\n")
    assert len(blocks) == 2 and blocks[1].startswith("== tcp.stream 1: client 10.0.0.7:40000")
    second_start = FRAME_LINE.match(next(ln for ln in blocks[1].splitlines() if "TEXT" in ln))
    assert second_start is not None and float(second_start["time"]) > 5


def test_protocol_errors_are_shown_not_raised(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.upgrade()
    wire.send("c2s", Frame(Opcode.TEXT, b"unmasked").serialize(mask=False))
    wire.send("s2c", Frame(Opcode.TEXT, b"\xff").serialize(mask=False))
    wire.send("c2s", masked(Frame(Opcode.TEXT, b"never")))
    done = dump(str(wire.write(tmp_path / "bad.pcap")))
    assert done.returncode == 0
    assert "VIOLATION: unmasked frame from a client" in done.stdout
    assert "ERROR InvalidPayloadData: text that is not UTF-8" in done.stdout


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no such file"),
        ("text", "not a pcap or pcapng capture file"),
        ("empty", "not a pcap or pcapng capture file"),
    ],
)
def test_file_problems_are_one_line_and_exit_1(tmp_path: Path, setup: str, message: str) -> None:
    path = tmp_path / "capture.pcap"
    if setup == "text":
        path.write_text("GET / HTTP/1.1\r\n\r\n")
    elif setup == "empty":
        path.write_bytes(b"")
    done = dump(str(path))
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"wslib.dump: error: {path}: ") and message in line


def test_truncated_file_is_decoded_up_to_the_cut(tmp_path: Path) -> None:
    """Issue 18: a capture cut inside a packet (tcpdump killed) shows every complete packet,
    then one warning line; the exit status is 0 since something was decoded."""
    wire = echo_session()
    full = wire.write(tmp_path / "full.pcap").read_bytes()
    last = len(bytes(wire.packets[-1]))  # the final ACK
    path = tmp_path / "cut.pcap"
    path.write_bytes(full[:-20])
    done = dump(str(path))
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        f"wslib.dump: warning: {path}: truncated: the file ends inside packet "
        f"{len(wire.packets)}: {last - 20} of {last} bytes"
    ]
    assert "code=1000 reason='bye'" in done.stdout  # the close frames came before the cut


def test_file_cut_inside_its_first_packet_is_an_error(tmp_path: Path) -> None:
    full = echo_session().write(tmp_path / "full.pcap").read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(full[:50])  # the file header, a record header, 10 bytes of packet 1
    done = dump(str(path))
    assert done.returncode == 1
    assert done.stdout == ""
    warning, error = done.stderr.splitlines()
    assert warning.endswith("the file ends inside packet 1: 10 of 54 bytes")
    assert error == f"wslib.dump: no WebSocket conversation in {path}"


def test_garbage_connections_are_summed_up_in_one_line(tmp_path: Path) -> None:
    """Issue 10, defect 9: connections that are not WebSocket are counted, in one line."""
    wire = echo_session()
    for i in range(3):
        other = Wire(client=("10.9.9.9", 40000 + i), server=("10.9.9.8", 22))
        other.packet("c2s", "PA", b"SSH-2.0-OpenSSH_9.2\r\n")
        other.packet("s2c", "PA", b"SSH-2.0-OpenSSH_9.2\r\n")
        wire.packets += other.packets
    done = dump(str(wire.write(tmp_path / "mixed.pcap")))
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == (
        "-- skipped 3 of 4 TCP connections (6 packets): no WebSocket upgrade or HTTP in their "
        "first bytes, a capture that starts after their handshake, or another port"
    )


def test_plain_http_capture_has_no_websocket(tmp_path: Path) -> None:
    wire = Wire()
    wire.connect()
    wire.send("c2s", b"GET / HTTP/1.0\r\n\r\n")
    wire.send("s2c", b"HTTP/1.0 200 OK\r\n\r\nhello")
    wire.finish()
    path = wire.write(tmp_path / "http.pcap")
    done = dump(str(path))
    assert done.returncode == 1
    assert "no WebSocket conversation in" in done.stderr
    done = dump(str(path), "--http")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("server 10.0.0.2:8765 (http)")
    assert [ln.split("HTTP ", 1)[1] for ln in lines if " HTTP " in ln] == [
        "GET / HTTP/1.0",
        "HTTP/1.0 200 OK",
    ]
    assert "0 frames" in lines[-1] and "ended: FIN" in lines[-1]


@pytest.mark.parametrize("args", [[], ["a.pcap", "--port", "x"], ["a.pcap", "--port", "0"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    done = dump(*args)
    assert done.returncode == 2
    assert "usage: python -m wslib.dump" in done.stderr


def test_help_documents_the_exit_status() -> None:
    done = dump("--help")
    assert done.returncode == 0
    for status in (
        "0  at least one WebSocket conversation",
        "1  the file cannot be read",
        "2  wrong command-line usage",
    ):
        assert status in done.stdout


def test_shipped_echo_capture() -> None:
    path = ROOT / "data" / "pcaps" / "echo-123-456.pcap"
    if not path.exists():
        pytest.skip("data/pcaps/echo-123-456.pcap is not recorded yet")
    done = dump("data/pcaps/echo-123-456.pcap")
    assert done.returncode == 0
    texts = [m["rest"] for ln in done.stdout.splitlines() if (m := FRAME_LINE.match(ln))]
    assert texts[:4] == ["'123'", "'123'", "'456'", "'456'"]


def test_compressed_frames_show_the_inflated_text(tmp_path: Path) -> None:
    from .test_dissect import deflate_session

    wire, texts = deflate_session(fragment=False)
    done = dump(str(wire.write(tmp_path / "deflate.pcap")))
    assert done.returncode == 0, done.stderr
    frames = [m.groupdict() for ln in done.stdout.splitlines() if (m := FRAME_LINE.match(ln))]
    assert frames[0]["rest"] == f"[deflate, 17 bytes inflated] {texts[0]!r}"
    assert int(frames[2]["len"]) < int(frames[0]["len"])  # the same text again, fewer bytes


def test_a_violation_is_shown_under_its_frame(tmp_path: Path) -> None:
    """Issue 18: the non-minimal close that tshark showed and wslib did not. The close frame's
    header is 2 bytes + 8 of length + 4 of masking key, the answer's 2: 16 bytes of headers."""
    from .test_dissect_corpus import small_close_in_8_bytes

    flow, _ = small_close_in_8_bytes()
    path = tmp_path / "close.pcap"
    path.write_bytes(flow.pcap())
    done = dump(str(path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if "#6 " in line)
    assert lines[i].endswith("C→S  #6     CLOSE  fin=1 mask=1 len=5      code=1000 reason='bye'")
    assert lines[i + 1] == (
        "                VIOLATION: Payload length used 8 bytes when 1 would have sufficed (5): "
        "the minimal number of bytes MUST be used to encode the length (RFC 6455 §5.2)"
    )
    assert lines[i + 2].endswith("S→C  #7     CLOSE  fin=1 mask=0 len=2      code=1000")
    assert lines[-1].startswith("-- 2 frames, 7 bytes of payload + 16 bytes of frame headers;")


def test_a_compressed_bomb_is_inflated_with_a_cap(tmp_path: Path) -> None:
    """A 48 MiB message in 48 KiB of DEFLATE: the dissector says "inflated size over N, not
    shown", keeps memory flat, and still decodes the message after it (context takeover)."""
    import tracemalloc
    import zlib

    from wslib.lab.dissect import conversations
    from wslib.lab.dissect.records import MAX_PAYLOAD

    from .test_dissect import KEY

    wire = Wire()
    wire.connect()
    request = client_request("example.com", key=KEY)
    request.headers["Sec-WebSocket-Extensions"] = "permessage-deflate"
    wire.send("c2s", request.serialize())
    response = accept(request)
    response.headers["Sec-WebSocket-Extensions"] = "permessage-deflate"
    wire.send("s2c", response.serialize())
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    block = compressor.compress(bytes(16 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    bomb = (block * 3)[:-4]  # 48 MiB of zeros in 48 KiB; RFC 7692 §7.2.1: no 00 00 ff ff
    after = compressor.compress(b"still here") + compressor.flush(zlib.Z_SYNC_FLUSH)
    for payload in (bomb, after[:-4]):
        frame = Frame(Opcode.BINARY, payload, rsv1=True)
        wire.send("s2c", frame.serialize(mask=False, extensions_rsv=0x40))
    path = wire.write(tmp_path / "bomb.pcap")
    tracemalloc.start()
    try:
        (conv,) = conversations(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * len(bomb), peak  # the capture's bytes a few times, not 256 MiB
    bomb_frame, after_frame = conv.frames
    assert (bomb_frame.inflated, bomb_frame.inflated_over) == (None, MAX_PAYLOAD)
    assert after_frame.inflated == b"still here"
    done = dump(str(path))
    assert done.returncode == 0, done.stderr
    rests = [m["rest"] for ln in done.stdout.splitlines() if (m := FRAME_LINE.match(ln))]
    assert rests[0] == f"[deflate, inflated size over {MAX_PAYLOAD}, not shown]"
    assert rests[1].startswith("[deflate, 10 bytes inflated]")
