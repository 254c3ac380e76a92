"""What TLS costs wslib: ``ws://`` against ``wss://`` between ``wslib.connect`` and ``wslib.serve``.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_tls.py                  # full run (about 20 s)
    .venv/bin/python benchmarks/bench_tls.py --quick          # a few seconds, noisier
    .venv/bin/python benchmarks/bench_tls.py --json out.json  # also save the measurements

Three measurements, each for ``ws://`` and ``wss://`` (TLS 1.3, the local CA of
:mod:`wslib.lab.certs`, ECDSA P-256 certificate, the suite OpenSSL picks), taking turns so that a
machine that slows down half-way hurts both alike; each figure is the best of :data:`RUNS` runs:

- **open**: connections opened and closed per second (TCP, the TLS handshake for ``wss://``,
  the upgrade, the closing handshake), one after the other;
- **echo**: round trips per second of a 16-byte text message on one connection;
- **bulk**: MiB per second of 1 MiB binary messages echoed on one connection.

The server runs in this process (threads), so client and server share the interpreter: the
figures compare ``ws://`` with ``wss://`` on one machine at one moment; they are not targets,
and no test asserts them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import wslib
from wslib.lab.certs import LocalCA

RUNS = 3
MiB = 1 << 20


def echo(conn: wslib.ServerConnection) -> None:
    for message in conn:
        conn.send(message)


def best(measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(RUNS))


def run(quick: bool = False) -> dict[str, dict[str, float]]:
    opens, echoes, bulk = (30, 500, 8) if quick else (150, 3000, 40)
    results: dict[str, dict[str, float]] = {"ws": {}, "wss": {}}
    with LocalCA() as ca:
        server_ctx, client_ctx = ca.server_context(), ca.client_context()
        with (
            wslib.serve(echo, max_size=2 * MiB) as plain,
            wslib.serve(echo, max_size=2 * MiB, ssl=server_ctx) as secure,
        ):
            targets: dict[str, tuple[str, Any]] = {
                "ws": (f"ws://127.0.0.1:{plain.port}/", None),
                "wss": (f"wss://localhost:{secure.port}/", client_ctx),
            }

            def opening(url: str, ctx: Any) -> float:
                start = time.perf_counter()
                for _ in range(opens):
                    with wslib.connect(url, ssl=ctx, max_size=2 * MiB):
                        pass
                return opens / (time.perf_counter() - start)

            def echoing(url: str, ctx: Any) -> float:
                with wslib.connect(url, ssl=ctx) as conn:
                    start = time.perf_counter()
                    for _ in range(echoes):
                        conn.send("sixteen bytes!!!")
                        conn.recv(timeout=10)
                    return echoes / (time.perf_counter() - start)

            def bulking(url: str, ctx: Any) -> float:
                payload = bytes(MiB)
                with wslib.connect(url, ssl=ctx, max_size=2 * MiB) as conn:
                    start = time.perf_counter()
                    for _ in range(bulk):
                        conn.send(payload)
                        conn.recv(timeout=30)
                    return 2 * bulk / (time.perf_counter() - start)  # MiB each way

            for name, measure in (("open", opening), ("echo", echoing), ("bulk", bulking)):
                for scheme, (url, ctx) in targets.items():
                    results[scheme][name] = best(lambda u=url, c=ctx, m=measure: m(u, c))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations, a few seconds")
    parser.add_argument("--json", metavar="FILE", help="also save the measurements as JSON")
    args = parser.parse_args()
    results = run(quick=args.quick)
    units = {"open": "connections/s", "echo": "round trips/s", "bulk": "MiB/s"}
    print(f"{'':6}{'ws://':>14}{'wss://':>14}{'wss / ws':>10}  unit")
    for name, unit in units.items():
        ws, wss = results["ws"][name], results["wss"][name]
        print(f"{name:6}{ws:14,.1f}{wss:14,.1f}{wss / ws:10.2f}  {unit}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
