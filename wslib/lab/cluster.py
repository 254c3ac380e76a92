"""Several WebSocket servers behind one nginx, Redis between them: the chat of notebook 14.

::

    nginx :PUBLIC ──┬── server A ──┐
      (page + /chat)├── server B ──┼── redis-server (pub/sub or a stream)
                    └── server C ──┘

A browser (or :func:`wslib.sync.reconnect.reconnecting`) opens ``ws://127.0.0.1:PUBLIC/chat``;
nginx hands each WebSocket upgrade to the next server (round robin, the article's upgrade recipe
in each ``location``) and serves the chat page itself. A message a client sends reaches its
server, which hands it to Redis; every server hears it from Redis and sends it to its own
clients. So every client on every server gets every message, and no server knows the others.

Two ways to carry messages through Redis (``mode``):

- ``"pubsub"``: the server sends the message to its own clients at once and ``PUBLISH``-es it;
  the other servers get it from their ``SUBSCRIBE``. Redis keeps nothing: a client that is
  between two connections (its server died, it is backing off) misses what was said meanwhile.
- ``"streams"``: the server ``XADD``-s the message to a stream; one reader per server
  (``XREAD BLOCK``) sends every entry to its clients, each with the entry's ID. A client that
  reconnects asks ``/chat?after=ID`` (the last ID it saw) and its new server first replays the
  entries after it (``XRANGE``): nothing is lost, at the price of every message going through
  Redis (even to clients of the same server) and a stream to trim (``MAXLEN``).

Why threaded servers (:func:`wslib.serve`) and not asyncio: a classroom is tens of clients per
server, where threads are simplest to read, and the Redis client (redis-py) blocks; the
structure (one fan-out per server, a lock for the order of messages) is the same with asyncio.

:class:`Cluster` starts everything on free 127.0.0.1 ports and stops everything;
``python -m wslib.cluster --servers 3`` runs it from a terminal for a room of laptops. Each server
is a separate process (``python -m wslib.lab.cluster node ...``) so that one can be killed for
real (:meth:`Cluster.kill`: SIGKILL, its clients see 1006) or stopped gracefully
(:meth:`Cluster.terminate`: its clients get 1012 "service restart").
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..sync.server import Server, ServerConnection, serve
from .broker import BrokerError, RedisServer
from .daemon import accepts, free_port, stop_process
from .proxy import Nginx, _temp_paths

__all__ = ["MODES", "ChatNode", "Cluster", "cluster_config", "stream_id"]

#: How the servers carry messages through Redis; see the module documentation.
MODES = ("pubsub", "streams")
#: The Redis key: the pub/sub channel and the stream have the same name.
CHANNEL = "chat"
#: Entries kept in the stream (``XADD ... MAXLEN ~``): how far back a reconnecting client can ask.
STREAM_LENGTH = 10_000


def stream_id(text: str) -> tuple[int, int]:
    """A Redis stream ID ``"1733241600000-3"`` as ``(1733241600000, 3)``, to compare IDs."""
    millis, _, seq = text.partition("-")
    return int(millis), int(seq or 0)


def _text(data: bytes | str) -> str:
    return data.decode() if isinstance(data, bytes) else data


# --- one server of the cluster (runs in its own process) -------------------------------------


class ChatNode:
    """One chat server: a :func:`wslib.serve` whose messages go through Redis.

    Every message a client receives is JSON: ``{"type": "hello", "node": "A"}`` once when it
    connects (which server it landed on), then ``{"type": "message", "id": ..., "node": ...,
    "text": ..., "sent": ...}`` for each chat message (``node``: the server the sender was on;
    ``sent``: the sender's clock, if it gave one; ``id``: the stream ID in streams mode).
    A client sends text: either plain, or JSON ``{"text": ..., "sent": ...}``.
    """

    def __init__(self, name: str, redis_port: int, mode: str, *, port: int = 0) -> None:
        import redis  # the official client (imported here: wslib.lab.cluster loads without it)

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.name = name
        self.mode = mode
        # Any: redis-py's replies depend on the command (its annotations cannot say which).
        # client_name: redis-py sends CLIENT SETNAME on each new connection, so that Redis (its
        # CLIENT LIST, and a capture of the traffic) tells which server each connection is.
        self.redis: Any = redis.Redis(
            port=redis_port, socket_timeout=5, client_name=f"server-{name}"
        )
        self.published = 0
        self._port = port
        self._stop = threading.Event()
        # In streams mode: the order of messages. The reader holds it while it sends an entry to
        # every client, a newcomer while its backlog is replayed, so that each client gets each
        # entry exactly once and in order (``self._last[conn]``: the last ID it was sent).
        self._lock = threading.Lock()
        self._last: dict[ServerConnection, tuple[int, int]] = {}
        self._seen = (0, 0)  # the last entry the reader handled
        self._server: Server | None = None
        self._reader: threading.Thread | None = None

    # The handler: one thread per client, as everywhere with wslib.serve.
    def handle(self, conn: ServerConnection) -> None:
        conn.send(json.dumps({"type": "hello", "node": self.name}))
        after = parse_qs(urlsplit(conn.request.path).query).get("after", [""])[0]
        if self.mode == "streams":
            self._join_stream(conn, after)
        try:
            for message in conn:
                self._publish(message)
        finally:
            with self._lock:
                self._last.pop(conn, None)

    def _publish(self, message: str | bytes) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {"text": _text(message)}
        entry = {"type": "message", "node": self.name, "text": str(data.get("text", ""))}
        if isinstance(data.get("sent"), (int, float)):
            entry["sent"] = data["sent"]
        self.published += 1
        if self.mode == "pubsub":
            text = json.dumps(entry)
            assert self._server is not None
            self._server.broadcast(text)  # our own clients at once...
            self.redis.publish(CHANNEL, text)  # ... and the other servers through Redis
        else:
            self.redis.xadd(CHANNEL, {"entry": json.dumps(entry)}, maxlen=STREAM_LENGTH)

    def _join_stream(self, conn: ServerConnection, after: str) -> None:
        with self._lock:
            start = self._seen
            if after:
                try:
                    start = stream_id(after)
                except ValueError:
                    conn.close(1008, "after= must be a stream ID such as 1733241600000-0")
                    return
                # Replay what the client missed, up to what the reader has already sent to
                # everybody; the reader sends the rest (it skips what this client already has).
                backlog = self.redis.xrange(CHANNEL, min=f"({after}", max="+", count=STREAM_LENGTH)
                for raw_id, fields in backlog:
                    if stream_id(_text(raw_id)) > self._seen:
                        break
                    conn.send(self._entry_text(raw_id, fields))
                    start = stream_id(_text(raw_id))
            self._last[conn] = max(start, self._seen) if not after else start

    @staticmethod
    def _entry_text(raw_id: bytes | str, fields: dict[Any, Any]) -> str:
        entry: dict[str, Any] = json.loads(fields.get(b"entry") or fields["entry"])
        entry["id"] = _text(raw_id)
        return json.dumps(entry)

    # The fan-out from Redis: one thread per server.
    def _read_pubsub(self, pubsub: Any) -> None:
        try:
            while not self._stop.is_set():
                item = pubsub.get_message(timeout=0.2)
                if item is None or item["type"] != "message":
                    continue
                text = _text(item["data"])
                if json.loads(text).get("node") == self.name:
                    continue  # ours: our clients have it already
                assert self._server is not None
                self._server.broadcast(text)
        finally:
            pubsub.close()

    def _read_stream(self, last: str) -> None:
        while not self._stop.is_set():
            batches = self.redis.xread({CHANNEL: last}, block=200, count=500)
            for _, entries in batches or []:
                for raw_id, fields in entries:
                    last = _text(raw_id)
                    ident = stream_id(last)
                    text = self._entry_text(raw_id, fields)
                    with self._lock:
                        self._seen = ident
                        for conn, seen in list(self._last.items()):
                            if ident > seen:
                                with contextlib.suppress(Exception):
                                    conn.send(text)
                                self._last[conn] = ident

    def start(self) -> int:
        """Start serving (and reading from Redis) in the background; return the port.

        Where to start reading is fixed *before* the server accepts anybody: subscribed to the
        channel (pub/sub), or the stream's last ID noted (streams; "0-0" when it is empty, never
        ``$``, which XREAD reads as "from now", and "now" is whenever the reader thread gets the
        CPU). Otherwise what the other servers publish meanwhile is lost for our clients.
        """
        self.redis.ping()
        if self.mode == "pubsub":
            pubsub = self.redis.pubsub()
            pubsub.subscribe(CHANNEL)
            confirmed = pubsub.get_message(timeout=5)  # Redis's answer: we are subscribed
            if confirmed is None or confirmed["type"] != "subscribe":
                raise BrokerError(f"server {self.name} could not subscribe to {CHANNEL!r}")
            args: tuple[Any, ...] = (pubsub,)
            target: Callable[..., None] = self._read_pubsub
        else:
            latest = self.redis.xrevrange(CHANNEL, count=1)
            last = _text(latest[0][0]) if latest else "0-0"
            self._seen = stream_id(last)
            args, target = (last,), self._read_stream
        self._server = serve(self.handle, "127.0.0.1", self._port, ping_interval=10, max_size=4096)
        self._reader = threading.Thread(
            target=target, args=args, name="wslib-cluster-reader", daemon=True
        )
        self._reader.start()
        return self._server.port

    def stop(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Close every client with ``code`` (1012: "service restart"), stop reading Redis."""
        self._stop.set()
        if self._server is not None:
            self._server.close(code, reason)
        if self._reader is not None:
            self._reader.join(2)
        self.redis.close()


def _run_node(args: argparse.Namespace) -> None:
    """``python -m wslib.lab.cluster node``: one server until SIGTERM (then 1012) or SIGINT,
    or until the process that started it is gone (killed with SIGKILL, it could not stop us)."""
    node = ChatNode(args.name, args.redis_port, args.mode, port=args.port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    parent = os.getppid()
    node.start()
    print(f"node {args.name} ready on 127.0.0.1:{args.port}", flush=True)
    while not stopping.wait(1.0):
        if os.getppid() != parent:  # orphaned: nobody would ever stop us
            break
    node.stop(1012, "service restart")


# --- nginx in front, and the whole cluster --------------------------------------------------


def cluster_config(
    upstream_ports: Sequence[int], listen_port: int, *, prefix: Path, page_dir: Path
) -> str:
    """``nginx.conf`` for the cluster: the page at ``/``, WebSocket upgrades at ``/chat``
    spread over ``upstream_ports`` (round robin); a server that refuses a connection is skipped
    for 2 s (``max_fails=1 fail_timeout=2s``) and the handshake goes to the next one."""
    servers = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in upstream_ports
    )
    temp = "\n".join(f"    {line}" for line in _temp_paths(prefix))
    return f"""\
# nginx.conf generated by wslib.lab.cluster
master_process off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;

events {{
    worker_connections 1024;
}}

http {{
    access_log {prefix / "access.log"};
{temp}

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    upstream chat {{
{servers}
    }}

    server {{
        listen 127.0.0.1:{listen_port};
        server_name _;

        location = / {{
            root {page_dir};
            try_files /chat.html =404;
            default_type text/html;
        }}

        location = /chat {{
            proxy_pass http://chat;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


class _ClusterNginx(Nginx):
    def __init__(self, upstream_ports: Sequence[int], page_dir: Path, port: int = 0) -> None:
        super().__init__(upstream_ports[0], location="/chat", port=port)
        self.upstream_ports = list(upstream_ports)
        self.page_dir = page_dir

    def render_config(self) -> str:
        assert self.prefix is not None
        return cluster_config(
            self.upstream_ports, self.port, prefix=self.prefix, page_dir=self.page_dir
        )


class Cluster:
    """redis-server, ``servers`` chat servers (each its own process) and nginx, all on 127.0.0.1.

    ``with Cluster(servers=3, mode="streams") as cluster:`` starts them (Redis, then the
    servers, then nginx) and waits until each accepts connections; leaving the block stops every
    process. :attr:`url` is where clients connect (``ws://127.0.0.1:PORT/chat``), :attr:`page`
    the browser page, :attr:`node_urls` each server directly (bypassing nginx), :attr:`redis`
    the :class:`~wslib.lab.broker.RedisServer`.
    """

    def __init__(self, servers: int = 3, mode: str = "streams", *, start_timeout: float = 10.0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if not 1 <= servers <= 26:
            raise ValueError("servers: from 1 to 26 (they are named A to Z)")
        self.servers = servers
        self.mode = mode
        self.start_timeout = start_timeout
        self.names = [chr(ord("A") + i) for i in range(servers)]
        self.ports: list[int] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.redis = RedisServer()
        self.nginx: _ClusterNginx | None = None
        self.nginx_port = 0

    def reserve_ports(self) -> list[int]:
        """Pick every port now (Redis, the servers, nginx), before :meth:`start`: to capture
        from the very first packet, the capture must know them. Returns them all."""
        if self.ports or self.redis.running:
            raise BrokerError("reserve the ports before the cluster starts")
        self.redis = RedisServer(port=free_port())
        self.ports = [free_port() for _ in self.names]
        self.nginx_port = free_port()
        return [self.redis.port, *self.ports, self.nginx_port]

    @property
    def url(self) -> str:
        assert self.nginx is not None, "the cluster is not running"
        return f"ws://127.0.0.1:{self.nginx.port}/chat"

    @property
    def page(self) -> str:
        assert self.nginx is not None, "the cluster is not running"
        return f"http://127.0.0.1:{self.nginx.port}/"

    @property
    def node_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{port}/chat" for port in self.ports]

    def start(self) -> None:
        try:
            self.redis.start()
            if not self.ports:
                self.ports = [free_port() for _ in self.names]
            for name, port in zip(self.names, self.ports, strict=True):
                self.processes.append(self._spawn(name, port))
            for name, port in zip(self.names, self.ports, strict=True):
                self._wait(name, port)
            page_dir = Path(str(importlib.resources.files("wslib.lab").joinpath("static")))
            self.nginx = _ClusterNginx(self.ports, page_dir, self.nginx_port)
            self.nginx.start()
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, port: int) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "wslib.lab.cluster", "node", "--name", name]
        command += ["--port", str(port), "--redis-port", str(self.redis.port), "--mode", self.mode]
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the command, which stops the nodes in order
        )

    def _wait(self, name: str, port: int) -> None:
        index = self.names.index(name)
        deadline = time.monotonic() + self.start_timeout
        while not accepts(port):
            if self.processes[index].poll() is not None:
                raise BrokerError(f"server {name} exited at start-up")
            if time.monotonic() > deadline:
                raise BrokerError(f"server {name} did not start within {self.start_timeout:g} s")
            time.sleep(0.05)

    def kill(self, name: str) -> None:
        """SIGKILL server ``name``: no close frame, its clients see 1006 (a crash, an OOM kill)."""
        process = self.processes[self.names.index(name)]
        process.kill()
        process.wait(5)

    def terminate(self, name: str, timeout: float = 10.0) -> None:
        """SIGTERM server ``name``: it closes its clients with 1012 (service restart) and exits."""
        stop_process(self.processes[self.names.index(name)], timeout)

    def restart(self, name: str) -> None:
        """Start server ``name`` again on its port (after :meth:`kill` or :meth:`terminate`)."""
        index = self.names.index(name)
        if self.processes[index].poll() is None:
            raise BrokerError(f"server {name} is still running")
        self.processes[index] = self._spawn(name, self.ports[index])
        self._wait(name, self.ports[index])

    def running(self) -> list[str]:
        return [n for n, p in zip(self.names, self.processes, strict=True) if p.poll() is None]

    def stop(self) -> None:
        """Stop nginx, every server (SIGTERM, then SIGKILL) and Redis."""
        if self.nginx is not None:
            self.nginx.stop()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.redis.stop()

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wslib.lab.cluster")
    sub = parser.add_subparsers(dest="command", required=True)
    node = sub.add_parser("node", help="run one chat server (the cluster starts these)")
    node.add_argument("--name", required=True)
    node.add_argument("--port", type=int, required=True)
    node.add_argument("--redis-port", type=int, required=True)
    node.add_argument("--mode", choices=MODES, default="streams")
    args = parser.parse_args(argv)
    if args.command == "node":
        _run_node(args)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
