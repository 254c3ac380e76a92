"""Where a small echo spends its time: cProfile of every thread of ``wslib.serve`` and ``connect``.

Run it from the repository root::

    .venv/bin/python benchmarks/profile_echo.py                # 16 B, 5,000 round trips
    .venv/bin/python benchmarks/profile_echo.py --size 65536 --count 500 --top 30

The server and the client run in this one process, each thread with its own profiler (cProfile
sees only the thread that enabled it): the server's reader thread and handler thread, the
client's reader thread and the main thread that sends and receives. Two summaries come out,
server side and client side, sorted by the time spent in each function itself (``tottime``),
and the number of function calls per round trip, which is the figure that per-message overhead
is made of. Profiling slows everything down several times; compare the shares, not the seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import threading
import time
from collections.abc import Callable
from typing import Any

import wslib
from wslib.sync.connection import SyncConnection
from wslib.sync.server import ServerConnection

PROFILES: dict[str, list[cProfile.Profile]] = {"server": [], "client": []}
_LOCK = threading.Lock()


def _profiled(side: Callable[[Any], str], method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a thread's target so that the thread runs under its own profiler."""

    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        profile = cProfile.Profile()
        with _LOCK:
            PROFILES[side(self)].append(profile)
        profile.enable()
        try:
            return method(self, *args, **kwargs)
        finally:
            profile.disable()

    return run


def _side(conn: Any) -> str:
    return "server" if isinstance(conn, ServerConnection) else "client"


def summary(profiles: list[cProfile.Profile], round_trips: int, top: int) -> str:
    """The merged profiles of one side: calls per round trip, then the top functions."""
    out = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=out)
    for profile in profiles[1:]:
        stats.add(profile)
    calls = sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]
    print(f"{calls / round_trips:.1f} function calls per round trip", file=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16, help="message size in bytes (16)")
    parser.add_argument("--count", type=int, default=5000, help="round trips (5,000)")
    parser.add_argument("--top", type=int, default=25, help="functions shown per side (25)")
    args = parser.parse_args()

    SyncConnection._read_loop = _profiled(_side, SyncConnection._read_loop)  # type: ignore[method-assign]

    def echo(conn: Any) -> None:
        profile = cProfile.Profile()
        with _LOCK:
            PROFILES["server"].append(profile)
        profile.enable()
        try:
            for message in conn:
                conn.send(message)
        finally:
            profile.disable()

    payload = bytes(range(256)) * (args.size // 256) + bytes(args.size % 256)
    with wslib.serve(echo) as server:
        with wslib.connect(f"ws://127.0.0.1:{server.port}/") as conn:
            for _ in range(50):  # warm up
                conn.send(payload)
                conn.recv(timeout=10)
            main_profile = cProfile.Profile()
            PROFILES["client"].append(main_profile)
            start = time.perf_counter()
            main_profile.enable()
            for _ in range(args.count):
                conn.send(payload)
                if conn.recv(timeout=10) != payload:
                    raise AssertionError("the echo differs from the message")
            main_profile.disable()
            elapsed = time.perf_counter() - start
    print(
        f"{args.count:,} round trips of {args.size:,} B under the profiler in {elapsed:.2f} s "
        f"({args.count / elapsed:,.0f}/s)\n"
    )
    for side in ("server", "client"):
        print(f"=== {side} side (all its threads) ===")
        print(summary(PROFILES[side], args.count, args.top))


if __name__ == "__main__":
    main()
