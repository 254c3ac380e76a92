"""This checkout's wslib against another one's, and websockets, in one run of bench_server.py.

Run it from the repository root, with the other checkout (a git worktree of an older commit)::

    git worktree add /tmp/wslib-before 1a5b5b9
    .venv/bin/python benchmarks/compare_server.py /tmp/wslib-before           # about 2 minutes
    .venv/bin/python benchmarks/compare_server.py /tmp/wslib-before --quick   # about 30 s

On a machine shared with other work, two separate runs of ``bench_server.py`` can differ by more
than the change being measured. Here the three servers (``wslib.serve`` from this checkout, from
the other one, and ``websockets.sync.server``) run side by side and take turns in the same slices,
so their ratios come from the same moments. The client comparison runs each wslib in its own
process against websockets' client (one process cannot import two wslibs), one after the other.
Speed is never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import bench_server as bench

HERE = bench.ROOT


class CheckoutServer(bench.ServerProcess):
    """A server process whose ``import wslib`` finds the given checkout first."""

    def __init__(self, label: str, impl: str, root: Path) -> None:
        self.impl = label
        self.process = subprocess.Popen(
            [sys.executable, str(Path(bench.__file__).resolve()), "--serve", impl],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(root)),
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        line = self.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"the {label} server did not start (it printed {line!r})")
        self.port = int(line)


def clients_of(root: Path, mode: str) -> list[dict[str, Any]]:
    """bench_server.measure_clients in a process that imports the wslib of ``root``."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_server as b\n"
        "with b.servers(['websockets']) as running:\n"
        "    print(json.dumps(b.measure_clients(running['websockets'], sys.argv[2])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(bench.__file__).parent), mode],
        env=dict(os.environ, PYTHONPATH=str(root)),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="the other checkout (its wslib/ is imported)")
    parser.add_argument("--quick", action="store_true", help="a short run, noisier")
    parser.add_argument("--connections", type=int, help="concurrent connections (1,000 full)")
    parser.add_argument("--json", metavar="PATH", help="also write the measurements as JSON")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    n = args.connections or bench.CONNECTIONS[mode]
    start = time.perf_counter()
    servers = [("this", "wslib", HERE), ("baseline", "wslib", args.baseline)]
    servers.append(("websockets", "websockets", HERE))
    with ExitStack() as stack:
        running: dict[str, bench.ServerProcess] = {}
        for label, impl, root in servers:
            running[label] = CheckoutServer(label, impl, root)
            stack.callback(running[label].close)
        echo = bench.measure_echo(running, mode)
        concurrent = {label: bench.measure_concurrent(p, n) for label, p in running.items()}
    clients = {label: clients_of(root, mode) for label, _, root in servers[:2]}

    def get(results: list[dict[str, Any]], impl: str, size: int, kind: str) -> Any:
        return bench.lookup(results, impl, size, kind)

    print(f"echo round trips/s, raw client ({mode}); this = {HERE}, baseline = {args.baseline}")
    print(
        f"{'size':>7} {'this':>8} {'baseline':>8} {'websockets':>10} {'this/ws':>8} "
        f"{'base/ws':>8} {'this/base':>9}   p50 µs this / baseline / websockets"
    )
    for size in bench.SIZES:
        a, b, w = (get(echo, label, size, "echo") for label in ("this", "baseline", "websockets"))
        print(
            f"{bench.size_label(size):>7} {a['per_s']:>8,.0f} {b['per_s']:>8,.0f} "
            f"{w['per_s']:>10,.0f} {a['per_s'] / w['per_s']:>8.2f} {b['per_s'] / w['per_s']:>8.2f} "
            f"{a['per_s'] / b['per_s']:>9.2f}   {a['p50_us']:,.0f} / {b['p50_us']:,.0f} / "
            f"{w['p50_us']:,.0f}"
        )
    print("\nclients to websockets.sync.server: wslib.connect / websockets.sync.client, each run")
    print(
        f"{'size':>7} {'this':>8} {'ws':>8} {'ratio':>6}   {'baseline':>8} {'ws':>8} {'ratio':>6}"
    )
    for size in bench.SIZES:
        cells = []
        for label in ("this", "baseline"):
            ours = get(clients[label], "wslib", size, "client")["per_s"]
            theirs = get(clients[label], "websockets", size, "client")["per_s"]
            cells.append(f"{ours:>8,.0f} {theirs:>8,.0f} {ours / theirs:>6.2f}")
        print(f"{bench.size_label(size):>7} " + "   ".join(cells))
    print(f"\n{n:,} concurrent connections, one echo each")
    for label, r in concurrent.items():
        print(
            f"{label:>10}: echoed {r['ok']:,}, open {r['open_s']:.2f} s, echo {r['echo_s']:.2f} s, "
            f"{r['kib_per_connection']:.0f} KiB/conn"
        )
    print(f"\n({time.perf_counter() - start:.0f} s, Python {sys.version.split()[0]})")
    if args.json:
        everything = {"echo": echo, "clients": clients, "concurrent": concurrent}
        Path(args.json).write_text(json.dumps(everything, indent=2) + "\n")


if __name__ == "__main__":
    main()
