"""``python -m wslib.cluster --servers 3``: the chat cluster of notebook 14 in a terminal.

Starts redis-server, the chat servers and nginx on free 127.0.0.1 ports, prints the page to open
in a browser, and stops every process on Ctrl-C. See :mod:`wslib.lab.cluster`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wslib.cluster",
        description="Several wslib servers behind nginx, with Redis between them (notebook 14).",
    )
    parser.add_argument("--servers", type=int, default=3, help="how many chat servers (1-26)")
    parser.add_argument(
        "--mode",
        choices=("pubsub", "streams"),
        default="streams",
        help="Redis pub/sub (at most once) or a Redis stream (resumable); default: streams",
    )
    args = parser.parse_args(argv)

    from .lab.broker import BrokerError
    from .lab.cluster import Cluster
    from .lab.proxy import ProxyError

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        cluster = Cluster(args.servers, args.mode)
        cluster.start()
    except (BrokerError, ProxyError, OSError) as exc:
        print(f"python -m wslib.cluster: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"open {cluster.page} in a browser (on this machine)", flush=True)
        print(f"WebSocket clients: {cluster.url}", flush=True)
        for name, url in zip(cluster.names, cluster.node_urls, strict=True):
            print(f"  server {name}: {url}", flush=True)
        print(f"Redis: {cluster.redis.url} ({args.mode}); Ctrl-C stops everything", flush=True)
        stopping.wait()
    finally:
        cluster.stop()
        print("stopped: nginx, the servers and Redis", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
