"""Backpressure and broadcast, in both I/O models (threads and asyncio).

- A peer that never reads cannot grow the sender's memory: a handler that sends 1 GiB waits
  (blocks, or awaits) once the buffers are full, with memory flat, then finishes when the peer
  reads.
- A handler that never reads: after ``max_queue`` messages the server stops reading, and TCP
  pushes back to the sender.
- A broadcast to 100 fast clients is not slowed down by one client that reads nothing: the
  frame is serialized once, and each client has a bounded queue.

Every peer is a real socket on 127.0.0.1; every wait has a generous time bound.
"""

from __future__ import annotations

import selectors
import socket
import statistics
import struct
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

import wslib
import wslib.asyncio
import wslib.sync
from wslib.broadcast import Slow

from .servers import KINDS, LoopServer
from .servers import start as start_server
from .test_server import Raw, no_thread_left, wait_for, wire

__all__ = ["no_thread_left"]  # the autouse fixture, imported to apply here too

pytestmark = pytest.mark.timeout(240)

MiB = 2**20


def drain(sock: socket.socket, total: int, timeout: float) -> int:
    """Read and drop ``total`` bytes (into one reused buffer: no memory grows here)."""
    buffer = bytearray(MiB)
    view = memoryview(buffer)
    got = 0
    deadline = time.monotonic() + timeout
    while got < total and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        n = sock.recv_into(view)
        if not n:
            break
        got += n
    return got


@pytest.mark.parametrize("kind", KINDS)
def test_sending_a_gibibyte_to_a_peer_that_never_reads_keeps_memory_flat(kind: str) -> None:
    messages = 1024  # 1 MiB each: 1 GiB
    sent = [0]
    done = threading.Event()

    def firehose(conn: Any) -> None:
        payload = bytes(MiB)
        try:
            for _ in range(messages):
                conn.send(payload)  # blocks (threads) or awaits (asyncio) when the peer is full
                sent[0] += 1
        finally:
            done.set()

    options = {"ping_interval": None, "close_timeout": 60, "max_size": None}
    with start_server(kind, firehose, **options) as server:
        raw = Raw(server.port, timeout=60).handshake(server.port)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            # The peer reads nothing for 2 s: the sender stops once the buffers are full.
            time.sleep(2)
            stalled_at = sent[0]
            peak_stalled = tracemalloc.get_traced_memory()[1] - before
            # Then it reads everything: 1 GiB goes through, with the same flat memory.
            start = time.monotonic()
            # Frames that came in the same read as the 101 are already in the raw client's buffer.
            early = len(raw.reader.buffer)
            got = early + drain(raw.sock, messages * (MiB + 10) - early, timeout=180)
            assert done.wait(10)
            took = time.monotonic() - start
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        raw.close()
    print(
        f"{kind}: stalled after {stalled_at} MiB, peak +{peak / MiB:.1f} MiB, 1 GiB in {took:.1f} s"
    )
    assert stalled_at < 64, stalled_at  # the kernel's buffers hold a few MiB, not 1 GiB
    assert peak_stalled < 16 * MiB, peak_stalled
    assert got >= messages * (MiB + 10)  # 10 bytes of header per frame (then the close frame)
    assert sent[0] == messages
    assert peak < 16 * MiB, peak  # flat: a few frames at a time, never the whole gibibyte


@pytest.mark.parametrize("kind", KINDS)
def test_a_handler_that_never_reads_stops_the_server_reading(kind: str) -> None:
    """After max_queue messages the server stops reading: the sender's writes stop too."""
    release = threading.Event()

    def idle(conn: Any) -> None:
        release.wait(30)

    with start_server(kind, idle, max_queue=4, ping_interval=None, max_size=None) as server:
        raw = Raw(server.port).handshake(server.port)
        frame = wire(wslib.Opcode.BINARY, bytes(64 * 1024))
        raw.sock.setblocking(False)
        written = 0
        deadline = time.monotonic() + 20
        stalled_since = None
        while time.monotonic() < deadline:
            try:
                written += raw.sock.send(frame)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1.0:
                    break  # nothing accepted for a second: TCP pushes back
                time.sleep(0.01)
        release.set()
        raw.sock.setblocking(True)
        raw.close()
    # 4 messages queued, the protocol's buffer and the kernel's buffers: a few MiB, not 20 s
    # of loopback bandwidth (gigabytes).
    assert stalled_since is not None, f"{written} bytes accepted and still going"
    assert written < 64 * MiB, written


# --- broadcast ------------------------------------------------------------------------------------


def broadcaster(kind: str, server: Any) -> Callable[[bytes], Any]:
    if kind == "sync":
        return lambda message: wslib.sync.broadcast(server.connections, message, slow=Slow.SKIP)
    assert isinstance(server, LoopServer)
    return lambda message: server.call(
        lambda: wslib.asyncio.broadcast(server.server.connections, message, slow=Slow.SKIP)
    )


def latencies(kind: str, slow_client: bool, rounds: int = 40, size: int = 64 * 1024) -> list[float]:
    """Broadcast ``rounds`` messages to 100 raw clients read by one selector thread; return
    every (client, message) delivery latency in seconds."""

    def wait(conn: Any) -> None:
        for _ in conn:
            pass

    frame_len = len(wire(wslib.Opcode.BINARY, bytes(size), mask=None))
    # write_limit: the kernel's send buffer too, for threads (64 KiB, so that the slow client's
    # buffers fill within the 2.5 MiB of the test; its default grows up to 4 MiB).
    options = {"ping_interval": None, "close_timeout": 5, "write_limit": 65536}
    with start_server(kind, wait, **options) as server:
        fast = [Raw(server.port).handshake(server.port) for _ in range(100)]
        slow = None
        if slow_client:
            slow = Raw(server.port)
            slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.handshake(server.port)  # and never reads again
        expected = 101 if slow_client else 100
        assert wait_for(lambda: len(server.connections) == expected)
        received: dict[int, list[float]] = {i: [] for i in range(len(fast))}
        counts = dict.fromkeys(range(len(fast)), 0)
        stop = threading.Event()

        def read_all() -> None:
            selector = selectors.DefaultSelector()
            for i, raw in enumerate(fast):
                raw.sock.setblocking(False)
                selector.register(raw.sock, selectors.EVENT_READ, i)
            buffer = bytearray(1 << 20)
            while not stop.is_set():
                for key, _ in selector.select(0.05):
                    i = key.data
                    try:
                        n = key.fileobj.recv_into(buffer)  # type: ignore[union-attr]
                    except BlockingIOError:
                        continue
                    now = time.perf_counter()
                    before = counts[i] // frame_len
                    counts[i] += n
                    received[i].extend([now] * (counts[i] // frame_len - before))
            selector.close()

        reader = threading.Thread(target=read_all)
        reader.start()
        send = broadcaster(kind, server)
        # A feed: one message every 20 ms, on a schedule. The latency counts from the
        # scheduled time, so a broadcaster held up by one client delays every later message.
        start = time.perf_counter() + 0.05
        sent_at = [start + k * 0.02 for k in range(rounds)]
        try:
            for k in range(rounds):
                message = bytes(size)
                time.sleep(max(0.0, sent_at[k] - time.perf_counter()))
                send(message)
            assert wait_for(lambda: all(len(r) >= rounds for r in received.values()), 30)
        finally:
            stop.set()
            reader.join(10)
        for raw in fast:
            raw.sock.setblocking(True)
            raw.close()
        if slow is not None:
            slow.close()
    return [received[i][k] - sent_at[k] for i in received for k in range(rounds)]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@pytest.mark.parametrize("kind", KINDS)
def test_one_client_that_reads_nothing_does_not_slow_a_broadcast_to_100(kind: str) -> None:
    alone = p99(latencies(kind, slow_client=False))
    with_slow = p99(latencies(kind, slow_client=True))
    print(f"{kind}: p99 {alone * 1e3:.1f} ms alone, {with_slow * 1e3:.1f} ms with a slow client")
    # Generous (a shared machine): a blocking broadcast waits close_timeout (5 s) on the slow
    # client at the first full buffer, which this bound catches; a non-blocking one does not.
    assert with_slow < max(5 * alone, alone + 1.0), (alone, with_slow)


def test_broadcast_serializes_once_and_skips_or_closes_a_slow_client() -> None:
    def wait(conn: Any) -> None:
        for _ in conn:
            pass

    with start_server("sync", wait, ping_interval=None) as server:
        reader = wslib.connect(f"ws://127.0.0.1:{server.port}/", max_queue=1000)
        stuck = Raw(server.port)
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.handshake(server.port)
        assert wait_for(lambda: len(server.connections) == 2)
        stuck_conn = next(c for c in server.connections if c.remote_address != reader.local_address)
        results = []
        for i in range(200):  # 12.5 MiB: more than the stuck client's buffers and queue hold
            results.append(wslib.sync.broadcast(server.connections, i.to_bytes(4, "big") * 16384))
            time.sleep(0.002)
        assert any(stuck_conn in r.slow for r in results)  # it fell behind: skipped
        assert all(r.sent + r.skipped == 2 and r.skipped == len(r.slow) for r in results)
        # The reader gets every message it was not skipped for, whole and in order (a busy
        # machine may make it slow too, now and then).
        expected = [i for i, r in enumerate(results) if all(c is stuck_conn for c in r.slow)]
        assert len(expected) > 100
        for i in expected:
            assert reader.recv(timeout=10) == i.to_bytes(4, "big") * 16384
        closed = wslib.sync.broadcast(server.connections, b"x", slow=Slow.CLOSE)
        assert closed.closed == 1 and closed.sent == 1
        reader.close()
        stuck.close()


def test_a_prepared_frame_is_what_send_would_have_sent() -> None:
    from wslib.broadcast import prepare
    from wslib.protocol import Connection, Side

    for message in ("héllo", b"\x00" * 70000):
        one, two = Connection(Side.SERVER), Connection(Side.SERVER)
        prepared = prepare(message)
        one.send_prepared(prepared.frame, prepared.data)
        if isinstance(message, str):
            two.send_text(message)
        else:
            two.send_binary(message)
        assert one.data_to_send() == two.data_to_send()
    client = Connection(Side.CLIENT)
    with pytest.raises(wslib.InvalidState, match="mask"):
        client.send_prepared(prepared.frame, prepared.data)  # §5.3: a client masks each frame
    assert struct.unpack("!H", prepare("x").data[:2])[0] == 0x8101  # FIN, text, length 1
