"""wslib.lab.capture: live loopback capture with scapy (needs capture privileges: root in CI)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wslib
from wslib.lab import tools
from wslib.lab.capture import Capture, CaptureUnavailable, bpf_filter, capture, loopback_interface

ROOT = Path(__file__).resolve().parent.parent

needs_privileges = pytest.mark.skipif(
    not tools.capture_privileges(), reason="live capture needs root or CAP_NET_RAW"
)
needs_libpcap = pytest.mark.skipif(not tools.libpcap(), reason="BPF filters need libpcap")
FILTERS = [
    pytest.param(True, id="bpf", marks=needs_libpcap),
    pytest.param(False, id="python-lfilter"),
]


def echo(conn: wslib.ServerConnection) -> None:
    for message in conn:
        conn.send(message)


@pytest.fixture
def server() -> Iterator[wslib.Server]:
    with wslib.serve(echo) as srv:
        yield srv


def tcp(packet: Any) -> Any:
    from scapy.layers.inet import TCP

    return packet[TCP]


def article_exchange(port: int) -> None:
    """websocket-client sends 123 then 456 and closes: the article's experiment."""
    import websocket

    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/", timeout=5)
    try:
        for text in ("123", "456"):
            ws.send(text)
            assert ws.recv() == text
    finally:
        ws.close()


def sniffer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "AsyncSniffer" and t.is_alive()]


# --- each packet once -----------------------------------------------------------------------------


@needs_privileges
@pytest.mark.parametrize("use_bpf", FILTERS)
def test_one_exchange_gives_exactly_one_syn(server: wslib.Server, use_bpf: bool) -> None:
    with capture([server.port], use_bpf=use_bpf) as cap:
        article_exchange(server.port)
    assert (cap.filter is not None) is use_bpf
    segments = [tcp(p) for p in cap.packets]
    syns = [s for s in segments if s.flags.S and not s.flags.A]
    assert len(syns) == 1, cap.packets
    assert syns[0].dport == server.port
    assert len([s for s in segments if s.flags.S and s.flags.A]) == 1
    # One TCP connection: one client port, and FINs from both sides.
    assert {s.sport for s in segments} | {s.dport for s in segments} == {
        server.port,
        syns[0].sport,
    }
    assert sum(1 for s in segments if s.flags.F) == 2
    # No packet twice: the loopback duplicates (outgoing copies) are gone.
    keys = Counter(
        (s.sport, s.dport, s.seq, s.ack, str(s.flags), len(bytes(s.payload))) for s in segments
    )
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    # In time order, labelled with the interface.
    times = [float(p.time) for p in cap.packets]
    assert times == sorted(times)
    assert {p.sniffed_on for p in cap.packets} == {loopback_interface()}
    assert cap.dropped in (0, None)
    assert not sniffer_threads()


@needs_privileges
@pytest.mark.parametrize("use_bpf", FILTERS)
def test_only_the_given_ports_are_kept(server: wslib.Server, use_bpf: bool) -> None:
    with wslib.serve(echo) as other, capture([server.port], use_bpf=use_bpf) as cap:
        article_exchange(other.port)  # not ours: must not show up
        article_exchange(server.port)
    ports = {tcp(p).sport for p in cap.packets} | {tcp(p).dport for p in cap.packets}
    assert server.port in ports and other.port not in ports
    assert sum(1 for p in cap.packets if tcp(p).flags.S and not tcp(p).flags.A) == 1


def consumed(segment: Any) -> int:
    """Sequence numbers a segment takes: its payload, plus one for a SYN or a FIN."""
    return len(bytes(segment.payload)) + (1 if segment.flags.S or segment.flags.F else 0)


@needs_privileges
def test_several_ports_and_either_filter_give_the_same_traffic() -> None:
    with wslib.serve(echo) as a, wslib.serve(echo) as b:
        totals = {}
        for use_bpf in (False, True) if tools.libpcap() else (False,):
            with capture([a.port, b.port], use_bpf=use_bpf) as cap:
                article_exchange(a.port)
                article_exchange(b.port)
            syns = {tcp(p).dport for p in cap.packets if tcp(p).flags.S and not tcp(p).flags.A}
            assert syns == {a.port, b.port}
            totals[use_bpf] = sum(
                len(bytes(tcp(p).payload))
                for p in {(tcp(p).sport, tcp(p).seq): p for p in cap.packets}.values()
            )
    # The same bytes both ways (packet counts may differ by an ACK: TCP's timing is not ours).
    assert len(set(totals.values())) == 1, totals


@needs_privileges
def test_a_big_message_is_captured_whole() -> None:
    """280 kB each way: bursts of large segments, none lost (with scapy's 64 kB socket buffer
    some are), none cut short."""
    message = "0123456789" * 28_000
    with wslib.serve(echo) as srv, capture([srv.port]) as cap:
        with wslib.connect(f"ws://127.0.0.1:{srv.port}/") as conn:
            conn.send(message)
            assert conn.recv(timeout=5) == message
    assert cap.dropped in (0, None)
    for sport in {tcp(p).sport for p in cap.packets}:
        segments = [tcp(p) for p in cap.packets if tcp(p).sport == sport]
        spans = sorted({(s.seq, consumed(s)) for s in segments if consumed(s)})
        # Every byte of the stream is there: no segment starts past the end of the ones before
        # (a retransmission may start before it).
        end = spans[0][0]
        for seq, length in spans:
            assert seq <= end, f"{seq - end} bytes missing from port {sport} at {end}"
            end = max(end, seq + length)
    assert sum(len(bytes(tcp(p).payload)) for p in cap.packets) > 2 * len(message)


@needs_privileges
def test_timestamps_are_in_the_order_things_happened() -> None:
    """In time order, each direction's stream only moves forward: no SYN after data, no data
    before the bytes it follows (retransmissions aside). The incoming copies of loopback
    packets break this now and then (a SYN stamped after the request); the outgoing ones we
    keep do not."""
    for _ in range(5):
        with wslib.serve(echo) as srv, capture([srv.port]) as cap:
            with wslib.connect(f"ws://127.0.0.1:{srv.port}/") as conn:
                for message in ("123", "456", "x" * 100_000):
                    conn.send(message)
                    assert conn.recv(timeout=5) == message
        ends: dict[int, int] = {}
        seen = set()
        for packet in cap.packets:
            segment = tcp(packet)
            key = (segment.sport, segment.seq, consumed(segment))
            end = ends.get(segment.sport, segment.seq)
            if key not in seen and consumed(segment):
                assert segment.seq == end, f"out of order: {packet.summary()}"
            seen.add(key)
            ends[segment.sport] = max(end, segment.seq + consumed(segment))


# --- start, stop, time bound ----------------------------------------------------------------------


@needs_privileges
def test_the_first_syn_is_not_missed(server: wslib.Server) -> None:
    """The block starts only once the sniffer reads: connect at once, the SYN is there."""
    for _ in range(5):
        with capture([server.port]) as cap:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5):
                pass
        first = tcp(cap.packets[0])
        assert first.flags.S and not first.flags.A


@needs_privileges
def test_sniffing_stops_at_the_timeout(server: wslib.Server) -> None:
    with capture([server.port], timeout=0.5) as cap:
        article_exchange(server.port)  # inside the time bound: captured
        deadline = time.monotonic() + 5
        while sniffer_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sniffer_threads(), "the sniffer outlived its timeout"
        assert cap.timed_out
        before = len(cap.packets)
        article_exchange(server.port)  # after the time bound: not captured
    assert before > 0
    assert len(cap.packets) == before
    syns = [p for p in cap.packets if tcp(p).flags.S and not tcp(p).flags.A]
    assert len(syns) == 1


@needs_privileges
def test_a_block_within_the_timeout_did_not_time_out(server: wslib.Server) -> None:
    started = time.monotonic()
    with capture([server.port], timeout=30, grace=0.1) as cap:
        article_exchange(server.port)
    assert not cap.timed_out
    assert time.monotonic() - started < 5
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


@needs_privileges
def test_an_exception_in_the_block_still_stops_the_sniffer(server: wslib.Server) -> None:
    with pytest.raises(RuntimeError), capture([server.port]) as cap:
        article_exchange(server.port)
        raise RuntimeError("boom")
    assert len(cap.packets) > 0
    assert not sniffer_threads()


# --- writing --------------------------------------------------------------------------------------


@needs_privileges
def test_write_gives_a_pcap_that_scapy_and_tshark_read(
    server: wslib.Server, tmp_path: Path
) -> None:
    from scapy.utils import rdpcap

    with capture([server.port]) as cap:
        article_exchange(server.port)
    path = cap.write(tmp_path / "sub" / "echo.pcap")
    back = rdpcap(str(path))
    assert [bytes(p) for p in back] == [bytes(p) for p in cap.packets]
    assert [float(p.time) for p in back] == pytest.approx([float(p.time) for p in cap.packets])
    if not tools.tshark():
        pytest.skip(f"tshark is not installed: {tools.tshark().advice}")
    result = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-d",
            f"tcp.port=={server.port},http",
            "-Y",
            "websocket",
            "-T",
            "fields",
            "-e",
            "websocket.mask",
            "-e",
            "websocket.payload.text",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    texts = [(mask, text) for mask, text in rows if text]
    assert texts == [("1", "123"), ("0", "123"), ("1", "456"), ("0", "456")]


def test_an_empty_capture_writes_a_valid_pcap(tmp_path: Path) -> None:
    from scapy.utils import rdpcap

    path = Capture([9]).write(tmp_path / "empty.pcap")
    assert len(rdpcap(str(path))) == 0


# --- no privileges --------------------------------------------------------------------------------

UNPRIVILEGED_SCRIPT = """
from wslib.lab.capture import capture, CaptureUnavailable
try:
    with capture([9]):
        pass
except CaptureUnavailable as error:
    print(error)
else:
    print("CAPTURED")
"""


def check_one_sentence(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert message.endswith(".")
    assert message.count(". ") == 0, message  # one sentence
    if sys.platform.startswith("linux"):
        assert "setcap cap_net_raw,cap_net_admin+eip" in message and "root" in message


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"),
    reason="dropping privileges needs root and setpriv",
)
def test_an_unprivileged_user_gets_one_sentence_with_the_fix() -> None:
    """A real run as ``nobody``, with no capabilities."""
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            sys.executable,
            "-c",
            UNPRIVILEGED_SCRIPT,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/tmp"},
    )
    if result.returncode and "ModuleNotFoundError" in result.stderr:
        pytest.skip("the user nobody cannot read this checkout")
    if result.returncode and "error while loading shared libraries" in result.stderr:
        pytest.skip("the user nobody cannot read this Python installation (e.g. under /root)")
    assert result.returncode == 0, result.stderr
    message = result.stdout.strip()
    assert message != "CAPTURED"
    assert message.startswith("Cannot capture packets on")
    check_one_sentence(message)


def test_a_refused_raw_socket_raises_capture_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same, simulated: the kernel refuses raw sockets (runs without privileges too)."""
    real_socket = socket.socket

    class RefusedSocket(real_socket):
        def __init__(self, family: int = -1, *args: Any, **kwargs: Any) -> None:
            if family == getattr(socket, "AF_PACKET", None):
                raise PermissionError(1, "Operation not permitted")
            super().__init__(family, *args, **kwargs)

    import scapy.arch.linux  # noqa: F401  (loaded before the patch, as in real use)

    monkeypatch.setattr(socket, "socket", RefusedSocket)
    with pytest.raises(CaptureUnavailable) as caught, capture([9]):
        pytest.fail("the block must not run")
    message = str(caught.value)
    assert isinstance(caught.value, wslib.WebSocketError)
    check_one_sentence(message)
    assert not sniffer_threads()


@needs_privileges
def test_a_filter_that_cannot_be_compiled_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """As without libpcap: scapy cannot turn the filter string into a BPF program."""
    import scapy.arch.linux

    def no_libpcap(*args: object, **kwargs: object) -> None:
        raise ImportError("libpcap is not available")

    monkeypatch.setattr(scapy.arch.linux, "attach_filter", no_libpcap)
    with pytest.raises(CaptureUnavailable) as caught, capture([9], use_bpf=True):
        pytest.fail("the block must not run")
    message = str(caught.value)
    assert "tcp and (port 9)" in message and "use_bpf=False" in message
    assert "\n" not in message and message.endswith(".")
    with capture([9], use_bpf=False) as cap:  # the Python filter needs no libpcap
        pass
    assert cap.filter is None


@needs_privileges
def test_a_capture_runs_once(server: wslib.Server) -> None:
    cap = capture([server.port])
    with cap:
        pass
    with pytest.raises(wslib.InvalidState), cap:
        pass


@needs_privileges
def test_without_libpcap_the_default_is_the_python_filter(
    server: wslib.Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tools.Tool("libpcap", False, "not found", "install it.")
    monkeypatch.setattr(tools, "libpcap", lambda: missing)
    with capture([server.port]) as cap:
        article_exchange(server.port)
    assert cap.filter is None
    assert sum(1 for p in cap.packets if tcp(p).flags.S and not tcp(p).flags.A) == 1


# --- arguments and imports ------------------------------------------------------------------------


def test_bpf_filter_is_the_tcpdump_expression() -> None:
    assert bpf_filter([8765]) == "tcp and (port 8765)"
    assert bpf_filter([8765, 80, 80]) == "tcp and (port 80 or port 8765)"


@pytest.mark.parametrize("ports", [[], [0], [70000]])
def test_bad_ports_are_refused(ports: list[int]) -> None:
    with pytest.raises(ValueError):
        capture(ports)


def test_bad_timeout_is_refused() -> None:
    with pytest.raises(ValueError):
        capture([80], timeout=0)


def test_use_bpf_defaults_to_libpcap_being_there() -> None:
    cap = capture([80])
    assert (cap.filter == "tcp and (port 80)") is bool(tools.libpcap())
    assert capture([80], use_bpf=False).filter is None
    assert "ports [80]" in repr(cap)


def test_loopback_interface_is_the_one_of_this_os() -> None:
    expected = {"linux": "lo", "darwin": "lo0"}
    if sys.platform in expected:
        assert loopback_interface() == expected[sys.platform]


def test_import_wslib_does_not_import_scapy() -> None:
    code = "import sys, wslib; print('scapy' in sys.modules or 'wslib.lab.capture' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.stdout.strip() == "False", result.stderr
