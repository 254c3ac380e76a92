"""Many clients on one machine: wslib threads, wslib asyncio and websockets asyncio side by side.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_connections.py            # full run (several minutes)
    .venv/bin/python benchmarks/bench_connections.py --quick    # small N, under half a minute
    .venv/bin/python benchmarks/bench_connections.py --json out.json

What is measured, for each server (``wslib.serve``: one thread per connection plus a reader
thread; ``wslib.asyncio.serve``: one task per connection; ``websockets.asyncio.server.serve``):

- **held**: idle connections opened and held, 1,000 then 5,000 then 10,000 (quick: 100, 300):
  the time to open them (cumulative), the server's resident memory per connection (growth of
  ``VmRSS`` in ``/proc/<pid>/status`` since before the first connection, divided by N) and its
  number of threads.
- **broadcast**: at 1,000 and 10,000 connections (quick: 100, 300), the server sends one small
  message to every client, 20 times (quick: 5); each client notes how long after the server's
  start of the broadcast the message arrived (``time.monotonic()`` is one clock for every
  process on Linux). Reported: p50 / p95 / p99 of those per-client latencies, all rounds pooled.
- **echo**: one connection, a binary message sent and its echo read back, for 16 B, 1 KiB,
  64 KiB and 1 MiB: round trips per second.

How, and why that way:

- Each server runs in its **own process** (this script, started again with ``--serve KIND``);
  the clients run in other processes (``--clients``), asyncio raw-socket clients that build the
  handshake by hand and parse only the frame headers they need, so that their cost is small and
  the same for every server. Both processes raise their file-descriptor limit
  (``RLIMIT_NOFILE``) to the hard limit: 10,000 connections need 10,000 descriptors on each
  side. Nothing is changed system-wide.
- Every server keeps its defaults except: keepalive pings off (so that nothing but the
  benchmark moves), and websockets' compression off (wslib's is off by default).
- The broadcast is each library's own: ``wslib.sync.broadcast`` (non-blocking writes, a queue
  per slow client), ``wslib.asyncio.broadcast`` and ``websockets.asyncio.server.broadcast``
  (both write to each transport's buffer without waiting).
- Speed is never asserted: these are measurements on one machine at one moment, printed with
  their ratios. A machine shared with other work (as when this was written) adds noise.

Notebook 13 loads this file with :mod:`importlib` and calls ``run(quick=True)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ["wslib-asyncio", "websockets-asyncio", "wslib-threads"]
LABELS = {
    "wslib-threads": "wslib.serve (threads)",
    "wslib-asyncio": "wslib.asyncio.serve",
    "websockets-asyncio": "websockets.asyncio",
}
KiB = 1024
MiB = 1024 * KiB
ECHO_SIZES = [16, 1 * KiB, 64 * KiB, 1 * MiB]
SETTINGS: dict[str, dict[str, Any]] = {
    "full": {
        "held": [1000, 5000, 10000],
        "broadcast": [1000, 10000],
        "rounds": 20,
        "echo_s": 1.5,
        "clients": 4,
    },
    "quick": {
        "held": [100, 300],
        "broadcast": [100, 300],
        "rounds": 5,
        "echo_s": 0.2,
        "clients": 2,
    },
}
OPEN_TIMEOUT_S = 60.0  # for each batch of connections (see ClientGroup.open)
BROADCAST_PAYLOAD = 64  # bytes: an 8-byte time stamp and padding
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # one fixed masking key: fine on loopback, not elsewhere

Result = dict[str, Any]


def raise_fd_limit() -> int:
    """Raise this process's RLIMIT_NOFILE soft limit to its hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def proc_status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def stamp_message() -> bytes:
    return struct.pack("!d", time.monotonic()) + bytes(BROADCAST_PAYLOAD - 8)


# --- the servers, each in its own process ---------------------------------------------------------


def serve_main(kind: str) -> None:
    """The child process: serve, print the port, answer commands on stdin (rss, threads,
    bcast), stop at the end of stdin."""
    raise_fd_limit()
    if kind == "wslib-threads":
        import wslib
        import wslib.sync

        def echo(conn: Any) -> None:
            for message in conn:
                conn.send(message)

        server = wslib.serve(echo, ping_interval=None, max_size=2 * MiB)

        def broadcast() -> None:
            wslib.sync.broadcast(server.connections, stamp_message())

        print(server.port, flush=True)
        try:
            commands(broadcast)
        finally:
            server.close()
        return
    asyncio.run(serve_async(kind))


def commands(broadcast: Any) -> None:
    for line in sys.stdin:  # the parent's commands; the end of stdin means "stop"
        command = line.strip()
        if command == "rss":
            print(proc_status("VmRSS"), flush=True)
        elif command == "threads":
            print(proc_status("Threads"), flush=True)
        elif command == "bcast":
            broadcast()
            print("sent", flush=True)


async def serve_async(kind: str) -> None:
    loop = asyncio.get_running_loop()
    if kind == "wslib-asyncio":
        import wslib.asyncio

        async def echo(conn: Any) -> None:
            async for message in conn:
                await conn.send(message)

        server: Any = await wslib.asyncio.serve(echo, ping_interval=None, max_size=2 * MiB)
        port = server.port

        def broadcast() -> None:
            wslib.asyncio.broadcast(server.connections, stamp_message())

        async def stop() -> None:
            await server.close()

    elif kind == "websockets-asyncio":
        import websockets.asyncio.server as ws
        from websockets.exceptions import ConnectionClosed

        async def ws_echo(conn: Any) -> None:
            try:
                async for message in conn:
                    await conn.send(message)
            except ConnectionClosed:  # the clients go away without a closing handshake
                pass

        server = await ws.serve(
            ws_echo, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=2 * MiB
        )
        port = server.sockets[0].getsockname()[1]

        def broadcast() -> None:
            ws.broadcast(server.connections, stamp_message())

        async def stop() -> None:
            server.close()
            await server.wait_closed()

    else:
        raise SystemExit(f"unknown server {kind!r}")
    print(port, flush=True)
    done = loop.create_future()

    def read_stdin() -> None:  # a thread: stdin blocks; the broadcast runs on the loop
        def on_loop(fn: Any) -> Any:
            future = asyncio.run_coroutine_threadsafe(_call(fn), loop)
            return future.result(60)

        commands(lambda: on_loop(broadcast))
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

    threading.Thread(target=read_stdin, daemon=True).start()
    await done
    await stop()


async def _call(fn: Any) -> Any:
    return fn()


class Child:
    """A child process of this script, spoken to line by line on stdin and stdout."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout

    def ask(self, command: str) -> str:
        self.stdin.write(command + "\n")
        self.stdin.flush()
        return self.stdout.readline().strip()

    def close(self) -> None:
        with suppress(OSError):
            self.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.stdout.close()


# --- the clients: asyncio, raw sockets, in their own processes ----------------------------------


class _Client(asyncio.Protocol):
    """One raw WebSocket client: sends the handshake, then notes each binary message's delay."""

    def __init__(self, host: str, port: int, group: ClientGroup) -> None:
        self.group = group
        self.buffer = bytearray()
        self.opened = asyncio.get_running_loop().create_future()
        self.handshake = (
            f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.messages = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.handshake)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        if not self.opened.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            ok = self.buffer.startswith(b"HTTP/1.1 101")
            del self.buffer[: end + 4]
            self.opened.set_result(ok)
        while len(self.buffer) >= 2:  # server frames: not masked
            opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, start = struct.unpack("!H", self.buffer[2:4])[0], 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, start = struct.unpack("!Q", self.buffer[2:10])[0], 10
            if len(self.buffer) < start + length:
                return
            if opcode == 0x2 and length >= 8:
                sent = struct.unpack("!d", self.buffer[start : start + 8])[0]
                self.group.latencies.append(now - sent)
                self.messages += 1
            del self.buffer[: start + length]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_result(False)


class ClientGroup:
    """The clients of one process; commands on stdin: ``open K``, ``wait R``, ``report``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.clients: list[_Client] = []
        self.latencies: list[float] = []

    async def open(self, count: int) -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        limit = asyncio.Semaphore(64)  # connections being opened at once

        async def one() -> bool:
            async with limit:
                try:
                    _, client = await loop.create_connection(
                        lambda: _Client("127.0.0.1", self.port, self), "127.0.0.1", self.port
                    )
                    ok = await asyncio.wait_for(client.opened, OPEN_TIMEOUT_S)
                except (OSError, asyncio.TimeoutError):
                    return False
                if ok:
                    self.clients.append(client)
                return bool(ok)

        # One deadline for the whole batch: a server that cannot keep up (thousands of
        # threads) stops the run here instead of making every client wait its own minute.
        tasks = [asyncio.ensure_future(one()) for _ in range(count)]
        done, pending = await asyncio.wait(tasks, timeout=OPEN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        return sum(t.result() for t in done if not t.cancelled()), time.monotonic() - start

    async def wait(self, rounds: int, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(c.messages >= rounds for c in self.clients):
                break
            await asyncio.sleep(0.005)
        return sum(c.messages >= rounds for c in self.clients)


async def clients_main_async(port: int) -> None:
    raise_fd_limit()
    group = ClientGroup(port)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, _, arg = line.partition(" ")
        if command == "open":
            opened, took = await group.open(int(arg))
            print(json.dumps({"opened": opened, "seconds": took}), flush=True)
        elif command == "wait":
            print(await group.wait(int(arg)), flush=True)
        elif command == "report":
            print(json.dumps(group.latencies), flush=True)
            group.latencies = []
    for client in group.clients:
        client.transport.abort()


# --- measuring ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def echo_round_trips(port: int, size: int, seconds: float) -> float:
    """Round trips per second of one raw client: a masked binary message, then its echo."""
    from wslib.frames import Frame, Opcode

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(handshake(port))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    frame = Frame(Opcode.BINARY, bytes(size)).serialize(mask=True, mask_key=KEY)
    answer = len(Frame(Opcode.BINARY, bytes(size)).serialize(mask=False))
    buffer = bytearray(answer)
    view = memoryview(buffer)
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        sock.sendall(frame)
        got = 0
        while got < answer:
            n = sock.recv_into(view[got:])
            if not n:
                raise ConnectionError("the server closed the connection")
            got += n
        count += 1
    took = time.perf_counter() - start
    sock.close()
    return count / took


def handshake(port: int) -> bytes:
    return (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def measure(kind: str, settings: dict[str, Any], log: Any = print) -> list[Result]:
    """Every measurement for one server: held connections, broadcasts, echo."""
    results: list[Result] = []
    server = Child("--serve", kind)
    clients: list[Child] = []
    try:
        port = int(server.stdout.readline())
        base_rss = int(server.ask("rss"))
        base_threads = int(server.ask("threads"))
        for size in ECHO_SIZES:  # before the crowd: one connection, an idle server
            per_s = echo_round_trips(port, size, settings["echo_s"])
            results.append({"kind": kind, "test": "echo", "size": size, "per_s": per_s})
        clients = [Child("--clients", str(port)) for _ in range(settings["clients"])]
        held = 0
        opening = 0.0
        for n in settings["held"]:
            more = n - held
            shares = [more // len(clients) + (i < more % len(clients)) for i in range(len(clients))]
            start = time.monotonic()
            for child, share in zip(clients, shares, strict=True):
                child.stdin.write(f"open {share}\n")
                child.stdin.flush()
            opened = sum(json.loads(c.stdout.readline())["opened"] for c in clients)
            opening += time.monotonic() - start
            held += opened
            time.sleep(0.5)  # let the server settle (handler tasks started, threads parked)
            rss = int(server.ask("rss"))
            threads = int(server.ask("threads"))
            row = {
                "kind": kind,
                "test": "held",
                "n": n,
                "held": held,
                "open_s": opening,
                "rss_per_conn_kib": (rss - base_rss) / max(1, held),
                "rss_mib": rss / 1024,
                "threads": threads,
                "threads_added": threads - base_threads,
            }
            results.append(row)
            log(
                f"  {LABELS[kind]}: {held}/{n} held, opened in {opening:.1f} s, "
                f"{row['rss_per_conn_kib']:.1f} KiB/conn, {threads} threads"
            )
            if held < n:
                break  # it could not hold them all: no point in going further
            if n in settings["broadcast"]:
                for child in clients:
                    child.ask("report")  # forget anything before
                for r in range(1, settings["rounds"] + 1):
                    server.ask("bcast")
                    for child in clients:
                        child.ask(f"wait {r}")
                latencies = [x for c in clients for x in json.loads(c.ask("report"))]
                results.append(
                    {
                        "kind": kind,
                        "test": "broadcast",
                        "n": n,
                        "samples": len(latencies),
                        "latencies": latencies,
                        **{f"p{q}_ms": percentile(latencies, q) * 1e3 for q in (50, 95, 99)},
                    }
                )
                b = results[-1]
                log(
                    f"  {LABELS[kind]}: broadcast to {n}: p50 {b['p50_ms']:.1f} ms, "
                    f"p95 {b['p95_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms"
                )
    finally:
        for child in clients:
            child.close()
        server.close()
    return results


def run(
    quick: bool = False, kinds: list[str] | None = None, log: Any = print, **overrides: Any
) -> list[Result]:
    """Measure every server in turn (each in its own process); return the rows."""
    raise_fd_limit()
    settings = dict(SETTINGS["quick" if quick else "full"], **overrides)
    results: list[Result] = []
    for kind in kinds or KINDS:
        results += measure(kind, settings, log)
    return results


# --- the report -----------------------------------------------------------------------------------


def size_label(size: int) -> str:
    return (
        f"{size // MiB} MiB"
        if size >= MiB
        else f"{size // KiB} KiB"
        if size >= KiB
        else f"{size} B"
    )


def rows(results: list[Result], test: str) -> list[Result]:
    return [r for r in results if r["test"] == test]


def find(results: list[Result], test: str, kind: str, **key: Any) -> Result | None:
    for r in rows(results, test):
        if r["kind"] == kind and all(r.get(k) == v for k, v in key.items()):
            return r
    return None


def format_report(results: list[Result]) -> str:
    lines = ["held idle connections (cumulative time to open, VmRSS growth / N, threads)"]
    lines.append(
        f"  {'server':24} {'N':>6} {'held':>6} {'open s':>7} {'KiB/conn':>9} {'threads':>8}"
    )
    for r in rows(results, "held"):
        lines.append(
            f"  {LABELS[r['kind']]:24} {r['n']:>6} {r['held']:>6} {r['open_s']:>7.1f} "
            f"{r['rss_per_conn_kib']:>9.1f} {r['threads']:>8}"
        )
    lines.append("broadcast: per-client latency, all rounds pooled")
    lines.append(f"  {'server':24} {'N':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for r in rows(results, "broadcast"):
        lines.append(
            f"  {LABELS[r['kind']]:24} {r['n']:>6} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f}"
        )
    lines.append("echo round trips per second (one connection)")
    lines.append("  " + f"{'server':24}" + "".join(f"{size_label(s):>10}" for s in ECHO_SIZES))
    for kind in KINDS:
        cells = [find(results, "echo", kind, size=s) for s in ECHO_SIZES]
        if any(c is None for c in cells):
            continue
        lines.append(f"  {LABELS[kind]:24}" + "".join(f"{c['per_s']:>10.0f}" for c in cells if c))
    lines.append("ratios wslib.asyncio / websockets.asyncio (memory, p95: lower is better)")
    for r in rows(results, "held"):
        if r["kind"] != "wslib-asyncio":
            continue
        other = find(results, "held", "websockets-asyncio", n=r["n"])
        if other and other["rss_per_conn_kib"] > 0:
            ratio = r["rss_per_conn_kib"] / other["rss_per_conn_kib"]
            lines.append(f"  memory per connection at N={r['n']}: {ratio:.2f}")
    for r in rows(results, "broadcast"):
        if r["kind"] != "wslib-asyncio":
            continue
        other = find(results, "broadcast", "websockets-asyncio", n=r["n"])
        if other:
            lines.append(f"  broadcast p95 at N={r['n']}: {r['p95_ms'] / other['p95_ms']:.2f}")
    for size in ECHO_SIZES:
        mine = find(results, "echo", "wslib-asyncio", size=size)
        other = find(results, "echo", "websockets-asyncio", size=size)
        if mine and other:
            lines.append(
                f"  echo round trips/s at {size_label(size)}: {mine['per_s'] / other['per_s']:.2f}"
                " (higher is better)"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N, a few rounds")
    parser.add_argument("--json", help="also write the measurements to this file")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, help="only these servers")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args.serve)
        return
    if args.clients:
        asyncio.run(clients_main_async(args.clients))
        return
    print(f"file descriptors: {raise_fd_limit()} (RLIMIT_NOFILE, this process and its children)")
    results = run(quick=args.quick, kinds=args.kinds)
    print(format_report(results))
    if args.json:
        slim = [{k: v for k, v in r.items() if k != "latencies"} for r in results]
        Path(args.json).write_text(json.dumps(slim, indent=1))


if __name__ == "__main__":
    main()
