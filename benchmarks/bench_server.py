"""Echo servers under load: ``wslib.serve`` against ``websockets.sync.server.serve``.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_server.py                  # full run (about a minute)
    .venv/bin/python benchmarks/bench_server.py --quick          # under 15 s, noisier
    .venv/bin/python benchmarks/bench_server.py --json out.json  # also save the measurements

It prints two tables: the measurements of both servers side by side, and the ratio
``wslib / websockets`` next to them (above 1: wslib did more round trips per second, or took
more memory per connection). Speed is never asserted, here or in the tests: these are
measurements on one machine at one moment, to compare, not targets to meet.

Notebook 04 loads this file with :mod:`importlib` (it is not a package) and calls
``run(quick=True, connections=100)``, so the notebook and the script measure the same code.

What is measured, all in one run, both servers side by side:

- **echo**: one connection sends a binary message, waits for the echo, sends the next, for
  16 B, 4 KiB, 64 KiB and 1 MiB messages. Reported: round trips per second and the p50 / p99
  of the round-trip time. The two servers take turns in short slices (wslib, websockets,
  wslib, ...) so that a machine that slows down half-way hurts both alike.
- **clients**: the same echo, one connection, but driven by a client library: ``wslib.connect``
  against ``websockets.sync.client.connect``, both talking to the same server
  (``websockets.sync.server``, in its child process), taking turns in slices like the servers.
- **concurrent**: N connections are opened and held open together (1,000 in the full run),
  then each sends one message and every echo is read back. Reported: how many succeeded, the
  time to open them all and to get every echo, and the server's resident memory per connection
  (the growth of ``VmRSS`` in ``/proc/<pid>/status``, divided by N).

How, and why that way:

- Each server runs in its **own process** (this script, started again with ``--serve``), with
  the same handler ``for message in conn: conn.send(message)``. So the client never competes
  with the server for Python's global interpreter lock, and the memory figure is the server's
  alone.
- Both are the same model: one thread per connection plus one reader thread
  (``websockets.sync`` does the same). Both keep their defaults (1 MiB ``max_size``, 20 s
  keepalive pings); websockets' compression is off, and the client offers none anyway.
- **The same client drives both**: a raw-socket client in this file. It builds each masked
  frame once with ``wslib.frames`` before timing starts and reads the echo with ``recv_into``
  into a buffer allocated once, so its own cost is small and identical for both servers. A
  full client library (websocket-client, or ``wslib.connect``) would add its own overhead, the
  same for both, and blur the difference between the servers. Reusing one masking key is fine
  for a benchmark on loopback; a real client MUST use a fresh key per frame (RFC 6455 §5.3).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

KiB = 1024
MiB = 1024 * KiB
SIZES = [16, 4 * KiB, 64 * KiB, 1 * MiB]
IMPLEMENTATIONS = ["wslib", "websockets"]
LABELS = {"wslib": "wslib.serve", "websockets": "websockets.sync.server"}
CLIENT_LABELS = {"wslib": "wslib.connect", "websockets": "websockets.sync.client"}
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # one fixed masking key (RFC 6455 §5.7's), see above

# Time spent on each (server, size) pair, split into slices that alternate between the servers.
BUDGET_S = {"quick": 0.5, "full": 4.0}
SLICES = {"quick": 4, "full": 8}
CONNECTIONS = {"quick": 100, "full": 1000}
TIMEOUT_S = 10.0  # every socket operation of the client

Result = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent


# --- the servers, each in its own process ---------------------------------------------------------


def rss_kib() -> int:
    """This process's resident memory in KiB: VmRSS from /proc, else the peak from resource."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def serve_main(impl: str) -> None:
    """The child process: serve, print the port, answer "rss" on stdin, stop at end of stdin."""
    if impl == "wslib":
        import wslib

        def echo(conn: Any) -> None:
            for message in conn:
                conn.send(message)

        server: Any = wslib.serve(echo)
        port, stop = server.port, server.close
    elif impl == "websockets":
        import threading

        from websockets.sync.server import serve

        def ws_echo(conn: Any) -> None:
            for message in conn:
                conn.send(message)

        server = serve(ws_echo, "127.0.0.1", 0, compression=None)
        thread = threading.Thread(target=server.serve_forever, name="websockets-server")
        thread.start()
        port = server.socket.getsockname()[1]

        def stop() -> None:
            server.shutdown()
            thread.join(10)

    else:
        raise SystemExit(f"unknown server {impl!r}")
    print(port, flush=True)
    try:
        for line in sys.stdin:  # the parent's commands; the end of stdin means "stop"
            if line.strip() == "rss":
                print(rss_kib(), flush=True)
    finally:
        stop()


class ServerProcess:
    """A server in a child process: ``.port``, ``.rss_kib()``, ``.close()`` (bounded)."""

    def __init__(self, impl: str) -> None:
        self.impl = impl
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", impl],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        line = self.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"the {impl} server did not start (it printed {line!r})")
        self.port = int(line)

    def rss_kib(self) -> int:
        self.stdin.write("rss\n")
        self.stdin.flush()
        return int(self.stdout.readline())

    def close(self) -> None:
        try:
            self.stdin.close()  # the child stops serving and closes every connection
        except OSError:
            pass
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.stdout.close()


@contextmanager
def servers(impls: list[str]) -> Iterator[dict[str, ServerProcess]]:
    """Start one child process per server; stop them all on the way out, whatever happens."""
    with ExitStack() as stack:
        running: dict[str, ServerProcess] = {}
        for impl in impls:
            running[impl] = ServerProcess(impl)
            stack.callback(running[impl].close)
        yield running


# --- the client: raw sockets, frames built once --------------------------------------------------


def client_frame(payload: bytes) -> bytes:
    """A masked binary frame, built once by wslib.frames (outside the timed loop)."""
    from wslib.frames import Frame, Opcode

    return Frame(Opcode.BINARY, payload).serialize(mask=True, mask_key=KEY)


def recv_exact(sock: socket.socket, view: memoryview) -> None:
    """Fill ``view`` from the socket (recv may return fewer bytes than asked)."""
    while view:
        n = sock.recv_into(view)
        if n == 0:
            raise ConnectionError("the server closed the connection")
        view = view[n:]


class RawClient:
    """A minimal WebSocket client on a blocking socket: handshake, then echo round trips."""

    def __init__(self, port: int) -> None:
        from wslib.handshake import Response, check_response, client_request

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = client_request(f"127.0.0.1:{port}", "/")
        self.sock.sendall(request.serialize())
        head = b""
        while b"\r\n\r\n" not in head:  # the server sends nothing after its 101 until we do
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the connection during the handshake")
            head += chunk
        check_response(Response.from_bytes(head), request.headers["Sec-WebSocket-Key"])
        self.header = bytearray(10)
        self.buffer = bytearray(0)

    def round_trip(self, frame: bytes, size: int) -> None:
        """Send one pre-built frame and read the echo of ``size`` bytes, checking its header."""
        self.sock.sendall(frame)
        while True:
            header = memoryview(self.header)
            recv_exact(self.sock, header[:2])
            length = header[1] & 0x7F
            extra = {126: 2, 127: 8}.get(length, 0)
            if extra:
                recv_exact(self.sock, header[2 : 2 + extra])
                length = int.from_bytes(header[2 : 2 + extra], "big")
            # A keepalive ping (every 20 s): answer it, as RFC 6455 §5.5.2 says.
            if header[0] == 0x89:
                self.pong(length)
                continue
            if header[0] != 0x82 or length != size:  # FIN + binary, the same size
                raise AssertionError(f"unexpected echo: {bytes(header[:2]).hex()} len={length}")
            if len(self.buffer) < size:
                self.buffer = bytearray(size)
            recv_exact(self.sock, memoryview(self.buffer)[:size])
            return

    def pong(self, length: int) -> None:
        """Read a ping's payload (at most 125 bytes) and send it back in a masked pong."""
        payload = bytearray(length)
        recv_exact(self.sock, memoryview(payload))
        from wslib.frames import Frame, Opcode

        self.sock.sendall(Frame(Opcode.PONG, bytes(payload)).serialize(mask=True))

    def close(self) -> None:
        """A close frame, then the server's answer and its end of TCP (bounded by the timeout)."""
        try:
            self.sock.sendall(bytes([0x88, 0x82]) + KEY + bytes([0x03 ^ 0x37, 0xE8 ^ 0xFA]))
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        finally:
            self.sock.close()


# --- measurements --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_echo(running: dict[str, ServerProcess], mode: str) -> list[Result]:
    """Round trips for each size, the servers taking turns in slices of the time budget."""
    results: list[Result] = []
    clients = {impl: RawClient(server.port) for impl, server in running.items()}
    try:
        for size in SIZES:
            frame = client_frame(os.urandom(size))
            for client in clients.values():  # warm up: first allocations, first page faults
                for _ in range(3):
                    client.round_trip(frame, size)
            times: dict[str, list[float]] = {impl: [] for impl in clients}
            elapsed: dict[str, float] = {impl: 0.0 for impl in clients}
            slice_s = BUDGET_S[mode] / SLICES[mode]
            for _ in range(SLICES[mode]):
                for impl, client in clients.items():
                    start = time.perf_counter()
                    while (now := time.perf_counter()) - start < slice_s:
                        client.round_trip(frame, size)
                        times[impl].append(time.perf_counter() - now)
                    elapsed[impl] += time.perf_counter() - start
            for impl in clients:
                rtts = times[impl]
                results.append(
                    {
                        "kind": "echo",
                        "impl": impl,
                        "size": size,
                        "round_trips": len(rtts),
                        "per_s": len(rtts) / sum(rtts),
                        "p50_us": percentile(rtts, 0.50) * 1e6,
                        "p99_us": percentile(rtts, 0.99) * 1e6,
                        "mb_per_s": 2 * size * len(rtts) / sum(rtts) / 1e6,  # both directions
                    }
                )
    finally:
        for client in clients.values():
            client.close()
    return results


def library_clients(stack: ExitStack, port: int) -> dict[str, Any]:
    """One connection per client library, to the same server, closed when ``stack`` closes."""
    from websockets.sync.client import connect as websockets_connect

    import wslib

    url = f"ws://127.0.0.1:{port}/"
    return {
        "wslib": stack.enter_context(wslib.connect(url, max_size=2 * MiB)),
        "websockets": stack.enter_context(
            websockets_connect(url, compression=None, max_size=2 * MiB)
        ),
    }


def measure_clients(server: ServerProcess, mode: str) -> list[Result]:
    """Echo round trips through wslib.connect and websockets' sync client, taking turns."""
    results: list[Result] = []
    with ExitStack() as stack:
        clients = library_clients(stack, server.port)
        for size in SIZES:
            payload = os.urandom(size)
            for conn in clients.values():  # warm up
                for _ in range(3):
                    conn.send(payload)
                    conn.recv(timeout=TIMEOUT_S)
            times: dict[str, list[float]] = {impl: [] for impl in clients}
            slice_s = BUDGET_S[mode] / SLICES[mode]
            for _ in range(SLICES[mode]):
                for impl, conn in clients.items():
                    start = time.perf_counter()
                    while (now := time.perf_counter()) - start < slice_s:
                        conn.send(payload)
                        if len(conn.recv(timeout=TIMEOUT_S)) != size:
                            raise AssertionError(f"{impl}: the echo has the wrong size")
                        times[impl].append(time.perf_counter() - now)
            for impl in clients:
                rtts = times[impl]
                results.append(
                    {
                        "kind": "client",
                        "impl": impl,
                        "size": size,
                        "round_trips": len(rtts),
                        "per_s": len(rtts) / sum(rtts),
                        "p50_us": percentile(rtts, 0.50) * 1e6,
                        "p99_us": percentile(rtts, 0.99) * 1e6,
                    }
                )
    return results


def measure_concurrent(server: ServerProcess, n: int) -> Result:
    """Open n connections, hold them all, one echo on each; the server's memory per connection."""
    payload = b"x" * 16
    frame = client_frame(payload)
    before = server.rss_kib()
    clients: list[RawClient] = []
    ok = 0
    start = time.perf_counter()
    try:
        for _ in range(n):
            clients.append(RawClient(server.port))
        opened = time.perf_counter()
        for client in clients:  # every message in flight at once...
            client.sock.sendall(frame)
        for client in clients:  # ... then every echo read back
            header = memoryview(client.header)
            recv_exact(client.sock, header[:2])
            body = memoryview(bytearray(header[1] & 0x7F))
            recv_exact(client.sock, body)
            ok += header[0] == 0x82 and bytes(body) == payload
        echoed = time.perf_counter()
        during = server.rss_kib()
    finally:
        for client in clients:
            client.close()
    return {
        "kind": "concurrent",
        "impl": server.impl,
        "connections": n,
        "ok": ok,
        "open_s": opened - start,
        "echo_s": echoed - opened,
        "rss_before_kib": before,
        "rss_during_kib": during,
        "kib_per_connection": (during - before) / n,
    }


def run(quick: bool = False, connections: int | None = None, clients: bool = False) -> list[Result]:
    """Every measurement, both servers; ``connections`` defaults to 100 (quick) or 1,000.

    ``clients=True`` (the script's default) also compares the two client libraries.
    """
    mode = "quick" if quick else "full"
    n = CONNECTIONS[mode] if connections is None else connections
    with servers(IMPLEMENTATIONS) as running:
        results = measure_echo(running, mode)
        if clients:
            results += measure_clients(running["websockets"], mode)
        for impl in IMPLEMENTATIONS:
            results.append(measure_concurrent(running[impl], n))
    return results


# --- reports -------------------------------------------------------------------------------------


def size_label(size: int) -> str:
    if size >= MiB:
        return f"{size // MiB} MiB"
    if size >= KiB:
        return f"{size // KiB} KiB"
    return f"{size} B"


def lookup(results: list[Result], impl: str, size: int, kind: str = "echo") -> Result:
    for r in results:
        if r["kind"] == kind and r["impl"] == impl and r["size"] == size:
            return r
    raise KeyError((impl, size))


def ratio(results: list[Result], size: int, key: str = "per_s") -> float:
    """wslib's measurement divided by websockets' (round trips per second by default)."""
    return float(lookup(results, "wslib", size)[key] / lookup(results, "websockets", size)[key])


def format_table(results: list[Result]) -> str:
    """Both servers side by side, with the ratio wslib / websockets after each measurement."""
    ours, theirs = (LABELS[impl] for impl in IMPLEMENTATIONS)
    lines = [
        "echo round trips, one connection, binary messages, raw client "
        f"(A = {ours}, B = {theirs}, A/B: their ratio)",
    ]
    lines += _echo_rows(results, "echo")
    if any(r["kind"] == "client" for r in results):
        ours, theirs = (CLIENT_LABELS[impl] for impl in IMPLEMENTATIONS)
        lines.append("")
        lines.append(
            f"the same through a client library (A = {ours}, B = {theirs}), both to "
            f"{LABELS['websockets']}"
        )
        lines += _echo_rows(results, "client")
    lines.append("")
    lines.append("concurrent connections, one echo each")
    lines += _concurrent_rows(results)
    return "\n".join(lines)


def _echo_rows(results: list[Result], kind: str) -> list[str]:
    lines = [
        f"{'size':>8}  {'round trips/s A':>15} {'B':>9} {'A/B':>5}   {'p50 µs A':>9} {'B':>7} "
        f"{'A/B':>5}   {'p99 µs A':>9} {'B':>7} {'A/B':>5}",
    ]
    for size in SIZES:
        a, b = lookup(results, "wslib", size, kind), lookup(results, "websockets", size, kind)
        lines.append(
            f"{size_label(size):>8}  {a['per_s']:>15,.0f} {b['per_s']:>9,.0f} "
            f"{a['per_s'] / b['per_s']:>5.2f}   {a['p50_us']:>9,.0f} {b['p50_us']:>7,.0f} "
            f"{a['p50_us'] / b['p50_us']:>5.2f}   {a['p99_us']:>9,.0f} {b['p99_us']:>7,.0f} "
            f"{a['p99_us'] / b['p99_us']:>5.2f}"
        )
    return lines


def _concurrent_rows(results: list[Result]) -> list[str]:
    lines = []
    lines.append(
        f"{'server':<24} {'connections':>11} {'echoed':>7} {'open s':>7} {'echo s':>7} "
        f"{'KiB/conn':>9}"
    )
    concurrent = {r["impl"]: r for r in results if r["kind"] == "concurrent"}
    for r in concurrent.values():
        lines.append(
            f"{LABELS[r['impl']]:<24} {r['connections']:>11,} {r['ok']:>7,} "
            f"{r['open_s']:>7.2f} {r['echo_s']:>7.2f} {r['kib_per_connection']:>9.0f}"
        )
    if set(concurrent) == set(IMPLEMENTATIONS) and concurrent["websockets"]["kib_per_connection"]:
        mem = (
            concurrent["wslib"]["kib_per_connection"]
            / concurrent["websockets"]["kib_per_connection"]
        )
        lines.append(f"{'A/B':<24} {'':>11} {'':>7} {'':>7} {'':>7} {mem:>9.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (< 15 s), noisier")
    parser.add_argument("--json", metavar="PATH", help="also write the measurements as JSON")
    parser.add_argument("--connections", type=int, help="concurrent connections (1,000 full)")
    parser.add_argument("--no-clients", action="store_true", help="skip the client comparison")
    parser.add_argument("--serve", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args.serve)
        return
    start = time.perf_counter()
    results = run(quick=args.quick, connections=args.connections, clients=not args.no_clients)
    print(format_table(results))
    print(f"\n({time.perf_counter() - start:.1f} s, Python {sys.version.split()[0]})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
