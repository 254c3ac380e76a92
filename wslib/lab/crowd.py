"""Many clients on one machine: notebook 13's experiments and pictures.

- :func:`threads_per_connection`: open N connections to a threaded and to an asyncio wslib
  server; count the threads each one started.
- :func:`slow_client_timeline`: broadcast a feed to a few fast clients and one that reads
  nothing, with a naive loop (``await conn.send()`` one client after the other) or with
  :func:`wslib.asyncio.broadcast` (a bounded queue per client): when each fast client got
  each message.
- :func:`backpressure_trace`: a sender to a peer that reads nothing for a while, sampled over
  time: what the application handed over, the connection's write buffer (wslib's counter
  ``write_buffer_size``) and the kernel's send queue of the socket (``tx_queue`` in
  ``/proc/net/tcp``); then the peer reads and it all drains.
- Drawings in the series' palette: :func:`draw_who_calls_what`, :func:`draw_crowd`,
  :func:`draw_timelines`, :func:`draw_backpressure`.

Everything runs on 127.0.0.1 with free ports, every wait is bounded, every server is closed.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from .. import asyncio as wsasyncio
from ..sync import connect, serve
from .drawings import PALETTE, tint

__all__ = [
    "BackpressureTrace",
    "Timeline",
    "backpressure_trace",
    "draw_backpressure",
    "draw_crowd",
    "draw_timelines",
    "draw_who_calls_what",
    "kernel_send_queue",
    "run_async",
    "slow_client_timeline",
    "threads_per_connection",
]

T = TypeVar("T")

HANDSHAKE = (
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def run_async(coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    """Run a coroutine to its end on a fresh event loop in a thread of its own, within
    ``timeout`` seconds. A notebook's kernel already runs an event loop in its thread, where
    :func:`asyncio.run` refuses to start another one."""
    result: list[T] = []
    error: list[BaseException] = []

    def main() -> None:
        try:
            result.append(asyncio.run(asyncio.wait_for(coro, timeout)))
        except BaseException as exc:  # handed to the caller below
            error.append(exc)

    thread = threading.Thread(target=main, name="crowd-loop")
    thread.start()
    thread.join(timeout + 10)
    if error:
        raise error[0]
    if not result:
        raise TimeoutError(f"the event loop did not finish within {timeout} s")
    return result[0]


# --- threads per connection -----------------------------------------------------------------------


def threads_per_connection(n: int = 50) -> dict[str, int]:
    """Open ``n`` connections to each wslib server; how many threads did the server add?"""

    def echo(conn: Any) -> None:
        for message in conn:
            conn.send(message)

    counts: dict[str, int] = {}
    before = threading.active_count()
    with serve(echo, ping_interval=None) as server:
        clients = [connect(f"ws://127.0.0.1:{server.port}/", ping_interval=None) for _ in range(n)]
        deadline = time.monotonic() + 10
        while len(server.connections) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        # minus the clients' own reader threads (one each) and the server's acceptor
        counts["wslib.serve (threads)"] = threading.active_count() - before - n - 1
        for client in clients:
            client.close()

    async def crowd() -> int:
        async def aecho(conn: Any) -> None:
            async for message in conn:
                await conn.send(message)

        started = threading.active_count()
        async with wsasyncio.serve(aecho, ping_interval=None) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            conns = [await wsasyncio.connect(url, ping_interval=None) for _ in range(n)]
            added = threading.active_count() - started
            for conn in conns:
                await conn.close()
        return added

    counts["wslib.asyncio.serve"] = run_async(crowd(), 30)
    return counts


# --- a slow client and a broadcast ----------------------------------------------------------------


@dataclass
class Timeline:
    """When each fast client received each message (seconds since the feed started)."""

    strategy: str
    sent: list[float] = field(default_factory=list)  # when each message was due
    received: list[list[float]] = field(default_factory=list)  # [client][message]
    broadcast_took: list[float] = field(default_factory=list)  # how long each broadcast call took


async def _raw_client(port: int, read: bool, rcvbuf: int | None = None) -> Any:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, HANDSHAKE.format(port=port).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)  # byte by byte: nothing past the head is read
    return sock


async def _count_messages(sock: socket.socket, size: int, start: float, out: list[float]) -> None:
    """Read frames of ``size`` bytes (their header: 4 bytes up to 64 KiB) and note when each
    one is whole."""
    loop = asyncio.get_running_loop()
    frame = size + (2 if size < 126 else 4 if size < 65536 else 10)
    got = 0
    while True:
        data = await loop.sock_recv(sock, 65536)
        if not data:
            return
        now = time.monotonic() - start
        whole_before = got // frame
        got += len(data)
        out.extend([now] * (got // frame - whole_before))


def slow_client_timeline(
    strategy: str,
    *,
    fast: int = 8,
    messages: int = 12,
    size: int = 16 * 1024,
    interval: float = 0.05,
    naive_timeout: float = 0.5,
) -> Timeline:
    """A feed of ``messages`` to ``fast`` clients and one that reads nothing (its receive
    buffer 4 KiB): ``strategy`` is "naive" (``await conn.send()`` to each in turn, each bounded
    by ``naive_timeout`` so that the loop goes on) or "queues" (:func:`wslib.asyncio.broadcast`).
    """
    if strategy not in ("naive", "queues"):
        raise ValueError(f"strategy is 'naive' or 'queues', not {strategy!r}")

    async def run() -> Timeline:
        async def idle(conn: Any) -> None:
            # A small kernel send buffer (16 KiB; the kernel would let it grow up to 4 MiB
            # first) makes the slow client's buffers full within the first messages.
            sock = conn.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
            async for _ in conn:
                pass

        timeline = Timeline(strategy)
        async with wsasyncio.serve(idle, ping_interval=None, write_limit=size) as server:
            slow = await _raw_client(server.port, read=False, rcvbuf=4096)
            # The slow client connects first: a loop over the connections meets it first.
            deadline = time.monotonic() + 5
            while len(server.connections) < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            socks = [await _raw_client(server.port, read=True) for _ in range(fast)]
            while len(server.connections) < fast + 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            connections = sorted(server.connections, key=lambda c: c.remote_address != _local(slow))
            start = time.monotonic()
            timeline.received = [[] for _ in socks]
            readers = [
                asyncio.ensure_future(_count_messages(s, size, start, timeline.received[i]))
                for i, s in enumerate(socks)
            ]
            for k in range(messages):
                due = k * interval
                timeline.sent.append(due)
                await asyncio.sleep(max(0.0, start + due - time.monotonic()))
                message = bytes([k]) * size
                t0 = time.monotonic()
                if strategy == "queues":
                    wsasyncio.broadcast(connections, message)
                else:
                    for conn in connections:
                        try:
                            await asyncio.wait_for(conn.send(message), naive_timeout)
                        except (asyncio.TimeoutError, Exception):  # the slow one: give up on it
                            continue
                timeline.broadcast_took.append(time.monotonic() - t0)
            end = time.monotonic() + 5
            while time.monotonic() < end and any(len(r) < messages for r in timeline.received):
                await asyncio.sleep(0.01)
            for reader in readers:
                reader.cancel()
            for s in [slow, *socks]:
                s.close()
        return timeline

    return run_async(run(), 60)


def _local(sock: socket.socket) -> Any:
    return sock.getsockname()


# --- backpressure, made visible -------------------------------------------------------------------


def kernel_send_queue(local_port: int, remote_port: int) -> int | None:
    """Bytes in the kernel's send queue of the IPv4 TCP socket ``local -> remote`` on this
    machine (``tx_queue`` in ``/proc/net/tcp``); None where /proc/net/tcp does not exist."""
    try:
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                local, remote, queues = fields[1], fields[2], fields[4]
                if int(local.split(":")[1], 16) == local_port and (
                    int(remote.split(":")[1], 16) == remote_port
                ):
                    return int(queues.split(":")[0], 16)
    except OSError:
        return None
    return 0


@dataclass
class BackpressureTrace:
    """Samples over time: what the application handed over (``handed``), the connection's
    write buffer (wslib's ``write_buffer_size``) and the kernel's send queue (``kernel``)."""

    times: list[float] = field(default_factory=list)
    handed: list[int] = field(default_factory=list)
    buffered: list[int] = field(default_factory=list)
    kernel: list[int | None] = field(default_factory=list)
    reading_from: float = 0.0
    write_limit: int = 0


def backpressure_trace(
    *, stall: float = 1.0, total: int = 16 * 2**20, size: int = 2**20, write_limit: int = 2**16
) -> BackpressureTrace:
    """A handler sends ``total`` bytes in messages of ``size`` to a peer that reads nothing
    for ``stall`` seconds, then reads everything; sampled every 20 ms."""
    trace = BackpressureTrace(write_limit=write_limit)

    async def run() -> None:
        handed = [0]

        async def firehose(conn: Any) -> None:
            payload = bytes(size)
            for _ in range(total // size):
                await conn.send(payload)  # awaits while the buffer is over write_limit
                handed[0] += size

        async with wsasyncio.serve(
            firehose, ping_interval=None, write_limit=write_limit, max_size=None
        ) as server:
            sock = await _raw_client(server.port, read=False)
            loop = asyncio.get_running_loop()
            deadline = time.monotonic() + 5
            while not server.connections and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            conn = server.connections[0]
            client_port = sock.getsockname()[1]
            start = time.monotonic()
            trace.reading_from = stall
            got = 0
            expected = total + (total // size) * 10
            reading = False
            while got < expected and time.monotonic() - start < stall + 30:
                now = time.monotonic() - start
                trace.times.append(now)
                trace.handed.append(handed[0])
                trace.buffered.append(conn.write_buffer_size)
                trace.kernel.append(kernel_send_queue(server.port, client_port))
                if now >= stall:
                    reading = True
                if reading:
                    try:
                        data = await asyncio.wait_for(loop.sock_recv(sock, 2**20), 0.02)
                        got += len(data)
                        if not data:
                            break
                    except asyncio.TimeoutError:
                        pass
                else:
                    await asyncio.sleep(0.02)
            sock.close()

    run_async(run(), 60)
    return trace


# --- drawings -------------------------------------------------------------------------------------


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, colour: Any) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0.02", facecolor=colour, edgecolor="#4D4D4D"
        )
    )
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9)


def _arrow(ax: Axes, a: tuple[float, float], b: tuple[float, float], text: str = "") -> None:
    ax.add_patch(
        FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color="#4D4D4D", lw=1.2)
    )
    if text:
        ax.text((a[0] + b[0]) / 2 + 0.02, (a[1] + b[1]) / 2, text, fontsize=8, va="center")


def draw_who_calls_what() -> Figure:
    """The same sans-I/O Connection under two I/O models: who calls what."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    core = tint(PALETTE["bluish green"], 0.55)
    thread = tint(PALETTE["orange"], 0.5)
    loop = tint(PALETTE["sky blue"], 0.45)
    app = tint(PALETTE["yellow"], 0.45)
    for ax, title in ((left, "wslib.sync: threads"), (right, "wslib.asyncio: one event loop")):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
        ax.set_title(title, fontsize=11)
        _box(ax, 0.25, 0.04, 0.5, 0.14, "wslib.protocol.Connection\nbytes in, events out", core)
    # threads: per connection, a handler thread and a reader thread; one acceptor
    _box(left, 0.02, 0.78, 0.3, 0.13, "acceptor thread\n(one per server)", thread)
    _box(
        left,
        0.02,
        0.44,
        0.42,
        0.16,
        "connection thread:\nyour handler\nconn.recv(), conn.send()",
        app,
    )
    _box(
        left,
        0.56,
        0.44,
        0.42,
        0.16,
        "reader thread:\nsock.recv() → receive_data\npongs, close, keepalive",
        thread,
    )
    _arrow(left, (0.17, 0.78), (0.2, 0.6), "starts")
    _arrow(left, (0.23, 0.44), (0.4, 0.18), "send_text → sendall\n(under a lock)")
    _arrow(left, (0.77, 0.44), (0.6, 0.18), "receive_data")
    _arrow(left, (0.56, 0.52), (0.44, 0.52), "")
    left.text(0.5, 0.64, "messages: a queue\n(max_queue)", ha="center", fontsize=8)
    left.text(0.5, 0.95, "2 threads per connection, each a blocked stack", ha="center", fontsize=9)
    # asyncio: the loop calls the connection; the handler is a task
    _box(
        right,
        0.02,
        0.74,
        0.96,
        0.16,
        "event loop (one thread): epoll → data_received(bytes),\n"
        "timers (keepalive, close_timeout), pause/resume_writing",
        loop,
    )
    _box(right, 0.02, 0.4, 0.42, 0.16, "handler task:\nawait conn.recv()\nawait conn.send()", app)
    _box(
        right,
        0.56,
        0.4,
        0.42,
        0.16,
        "AsyncConnection\n(an asyncio.Protocol):\ntransport.write()",
        loop,
    )
    _arrow(right, (0.77, 0.74), (0.77, 0.56), "data_received")
    _arrow(right, (0.44, 0.48), (0.56, 0.48), "")
    _arrow(right, (0.77, 0.4), (0.6, 0.18), "receive_data\nsend_text")
    _arrow(right, (0.23, 0.74), (0.23, 0.56), "resumes")
    right.text(0.5, 0.95, "1 task per connection, a few objects, no stack", ha="center", fontsize=9)
    fig.tight_layout()
    return fig


COLOURS_BY_KIND = {
    "wslib-threads": PALETTE["orange"],
    "wslib-asyncio": PALETTE["blue"],
    "websockets-asyncio": PALETTE["grey"],
}


def draw_crowd(results: Sequence[dict[str, Any]], labels: dict[str, str], title: str) -> Figure:
    """Three panels from benchmarks/bench_connections.py: memory per connection and time to
    open against N, and the broadcast latency distribution (p50, p95, p99) against N."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    kinds = list(dict.fromkeys(r["kind"] for r in results))
    sizes = sorted({r["n"] for r in results if r["test"] == "broadcast"})
    for kind in kinds:
        held = [r for r in results if r["test"] == "held" and r["kind"] == kind]
        colour = COLOURS_BY_KIND.get(kind, PALETTE["black"])
        n = [r["held"] for r in held]  # what it held (less than asked when it gave up)
        axes[0].plot(
            n, [r["rss_per_conn_kib"] for r in held], "o-", color=colour, label=labels[kind]
        )
        axes[1].plot(n, [r["open_s"] for r in held], "o-", color=colour, label=labels[kind])
        casts = [r for r in results if r["test"] == "broadcast" and r["kind"] == kind]
        for r in casts:
            x = sizes.index(r["n"]) * (len(kinds) + 1) + kinds.index(kind)
            axes[2].vlines(x, r["p50_ms"], r["p99_ms"], color=colour, lw=2)
            axes[2].plot([x], [r["p95_ms"]], "o", color=colour)
            axes[2].plot([x], [r["p50_ms"]], "_", color=colour, ms=12)
    for i, n in enumerate(sizes):  # one label under each group, whoever is in it
        axes[2].text(
            i * (len(kinds) + 1) + (len(kinds) - 1) / 2,
            0,
            f"N={n}",
            ha="center",
            va="top",
            transform=axes[2].get_xaxis_transform(),
            fontsize=9,
        )
    axes[0].set(xlabel="connections held", ylabel="KiB per connection (VmRSS growth / N)")
    axes[1].set(xlabel="connections held", ylabel="seconds to open them (cumulative)")
    axes[2].set(ylabel="broadcast latency (ms): bar p50 to p99, dot p95")
    axes[2].set_xticks([])
    axes[2].set_yscale("log")
    axes[2].yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes[2].yaxis.set_major_formatter(ScalarFormatter())  # 5, 50, 500: not 5×10^0
    axes[2].yaxis.set_minor_formatter(NullFormatter())
    axes[0].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def draw_timelines(timelines: Sequence[Timeline]) -> Figure:
    """One panel per strategy: when each fast client got each message, against when it was due."""
    # One time axis for all panels: a delay shows as dots drifting right, on the same scale.
    fig, axes = plt.subplots(
        1, len(timelines), figsize=(6 * len(timelines), 3.8), sharey=True, sharex=True
    )
    axes_list = [axes] if len(timelines) == 1 else list(axes)
    for ax, timeline in zip(axes_list, timelines, strict=True):
        for due in timeline.sent:
            ax.axvline(due, color=tint(PALETTE["grey"], 0.7), lw=0.8, zorder=0)
        for i, times in enumerate(timeline.received):
            ax.plot(times, [i] * len(times), "o", ms=4, color=PALETTE["blue"])
        lag = max(
            (t - timeline.sent[k] for r in timeline.received for k, t in enumerate(r)), default=0
        )
        ax.set_title(f"{timeline.strategy}: worst delay {lag * 1e3:.0f} ms", fontsize=10)
        ax.set_xlabel("seconds since the feed started (grey: a message is due)")
        ax.grid(alpha=0.2, axis="y")
    axes_list[0].set_ylabel("fast client")
    fig.tight_layout()
    return fig


def draw_backpressure(trace: BackpressureTrace) -> Figure:
    """What the application handed over, wslib's write buffer and the kernel's send queue."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    mib = 2**20
    top.plot(
        trace.times,
        [h / mib for h in trace.handed],
        color=PALETTE["blue"],
        label="handed to conn.send() (MiB)",
    )
    top.axvline(
        trace.reading_from, color=PALETTE["vermillion"], ls="--", label="the peer starts reading"
    )
    top.set_ylabel("MiB")
    top.set_ylim(bottom=0)
    top.legend(fontsize=8, loc="center left")
    kernel = [k if k is not None else float("nan") for k in trace.kernel]
    bottom.plot(
        trace.times,
        [b / 1024 for b in trace.buffered],
        color=PALETTE["orange"],
        label="wslib write buffer (write_buffer_size, KiB)",
    )
    bottom.plot(
        trace.times,
        [k / 1024 for k in kernel],
        color=PALETTE["bluish green"],
        label="kernel send queue (/proc/net/tcp tx_queue, KiB)",
    )
    bottom.axhline(trace.write_limit / 1024, color=PALETTE["grey"], ls=":", label="write_limit")
    bottom.axvline(trace.reading_from, color=PALETTE["vermillion"], ls="--")
    bottom.set(xlabel="seconds", ylabel="KiB")
    bottom.legend(fontsize=8, loc="center left")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
