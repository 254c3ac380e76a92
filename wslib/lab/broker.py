"""A real Redis server for the cluster of notebook 14: started on a free 127.0.0.1 port, stopped.

Several WebSocket servers behind one load balancer each hold some of the clients; a message one
client sends must reach the clients of every server. The servers do not talk to each other: each
one publishes what its clients send to a **broker** and subscribes to what the others publish.
Redis is the broker most libraries use for this (Socket.IO's Redis adapter, Django Channels' Redis
layer), with two ways to carry messages:

- **pub/sub** (``PUBLISH`` / ``SUBSCRIBE``): fire and forget. Redis pushes each message to whoever
  is subscribed *right now* and keeps nothing, so a server that is down, or a client that is
  between two connections, misses it: at-most-once delivery.
- **streams** (``XADD`` / ``XREAD``): an append-only log in which every message has an ID
  (``1733241600000-0``: milliseconds and a sequence number). A reader asks "everything after ID
  X", so a client that reconnects says the last ID it saw and misses nothing.

:class:`RedisServer` runs ``redis-server`` without root from a temporary directory (no persistence,
bound to 127.0.0.1 only), waits until it answers ``PING`` and always stops it, the way
:class:`wslib.lab.proxy.Nginx` runs nginx. Talk to it with the official client, redis-py
(``redis.Redis(port=server.port)``), or with :meth:`RedisServer.command`, which speaks RESP (the
Redis protocol, a few lines of text per command) over a plain socket so that a notebook can show
the bytes.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from . import tools
from .daemon import TempDaemon


class BrokerError(Exception):
    """redis-server could not start, or did not answer."""


class BrokerUnavailable(BrokerError):
    """redis-server is not installed: the message says how to install it."""


def encode_command(*args: str | bytes | int) -> bytes:
    """A command in RESP, the Redis serialization protocol: an array of bulk strings.

    ``encode_command("PUBLISH", "chat", "hi")`` is
    ``b"*3\\r\\n$7\\r\\nPUBLISH\\r\\n$4\\r\\nchat\\r\\n$2\\r\\nhi\\r\\n"``: ``*`` and the number of
    items, then each item as ``$`` and its length in bytes, CRLF, the bytes, CRLF.
    """
    items = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    out = [b"*%d\r\n" % len(items)]
    for item in items:
        out.append(b"$%d\r\n%s\r\n" % (len(item), item))
    return b"".join(out)


def read_reply(sock: socket.socket) -> object:
    """Read one RESP reply from ``sock``: a string, an int, None, a list, or raise on ``-ERR``."""
    buffer = bytearray()

    def line() -> bytes:
        while b"\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise BrokerError("Redis closed the connection in the middle of a reply")
            buffer.extend(chunk)
        end = buffer.index(b"\r\n")
        data = bytes(buffer[:end])
        del buffer[: end + 2]
        return data

    def exact(n: int) -> bytes:
        while len(buffer) < n + 2:
            chunk = sock.recv(65536)
            if not chunk:
                raise BrokerError("Redis closed the connection in the middle of a reply")
            buffer.extend(chunk)
        data = bytes(buffer[:n])
        del buffer[: n + 2]
        return data

    def reply() -> object:
        head = line()
        kind, rest = head[:1], head[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise BrokerError(f"Redis answered an error: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [reply() for _ in range(n)]
        raise BrokerError(f"not a RESP reply: {head[:40]!r}")

    return reply()


class RedisServer(TempDaemon):
    """A real ``redis-server`` on ``127.0.0.1:port``, a context manager.

    ``with RedisServer() as redis:`` starts it (no persistence: ``--save ""``, ``--appendonly no``;
    its working directory is a temporary directory) and waits until it answers ``PING``; leaving
    the block shuts it down and removes the directory. ``port=0``: a free port, picked at start.
    Attributes: :attr:`port`, :attr:`url` (``redis://127.0.0.1:PORT/0``), :attr:`command`.
    :meth:`log` reads its log.
    """

    program = "redis-server"
    log_files = ("redis.log",)
    error = BrokerError

    def __init__(
        self, *, port: int = 0, start_timeout: float = 5.0, stop_timeout: float = 5.0
    ) -> None:
        tool = tools.redis_server()
        if not tool.available:
            raise BrokerUnavailable(f"redis-server is not installed: {tool.advice}")
        super().__init__(
            tool.detail, port=port, start_timeout=start_timeout, stop_timeout=stop_timeout
        )

    @property
    def directory(self) -> Path | None:
        """Its working directory, while it runs."""
        return self.prefix

    @property
    def url(self) -> str:
        """What redis-py's ``redis.Redis.from_url`` takes: ``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def _launch(self) -> list[str]:
        assert self.prefix is not None
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(self.prefix),
            "--logfile", str(self.prefix / "redis.log"),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ]  # fmt: skip

    def _ready(self) -> bool:
        with contextlib.suppress(OSError, BrokerError):
            return self.command_once("PING") == "PONG"
        return False

    def command_once(self, *args: str | bytes | int, timeout: float = 2.0) -> object:
        """Send one command on a fresh connection and return the decoded reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(encode_command(*args))
            return read_reply(sock)

    def log(self, name: str = "redis.log") -> str:
        """redis-server's log so far (kept after :meth:`stop`)."""
        return super().log(name)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RedisServer 127.0.0.1:{self.port}, {state}>"
