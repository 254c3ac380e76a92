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
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from . import tools
from .proxy import free_port


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


class RedisServer:
    """A real ``redis-server`` on ``127.0.0.1:port``, a context manager.

    ``with RedisServer() as redis:`` starts it (no persistence: ``--save ""``, ``--appendonly no``;
    its working directory is a temporary directory) and waits until it answers ``PING``; leaving
    the block shuts it down and removes the directory. ``port=0``: a free port, picked at start.
    Attributes: :attr:`port`, :attr:`url` (``redis://127.0.0.1:PORT/0``), :attr:`command`.
    :meth:`log` reads its log.
    """

    def __init__(
        self, *, port: int = 0, start_timeout: float = 5.0, stop_timeout: float = 5.0
    ) -> None:
        tool = tools.redis_server()
        if not tool.available:
            raise BrokerUnavailable(f"redis-server is not installed: {tool.advice}")
        self.binary = tool.detail
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.port = port  # 0: a free port picked at start
        self.fixed_port = port
        self.command: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: Path | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._log = ""

    @property
    def url(self) -> str:
        """What redis-py's ``redis.Redis.from_url`` takes: ``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start redis-server and return once it answers ``PING``."""
        if self.process is not None:
            raise BrokerError("this redis-server is already running")
        self._tempdir = tempfile.TemporaryDirectory(prefix="wslib-redis-")
        self.directory = Path(self._tempdir.name)
        try:
            for attempt in range(3):  # the free port may be taken between our check and its bind
                try:
                    self._start_once()
                    return
                except BrokerError:
                    self._stop_process()
                    retry = not self.fixed_port and "Address already in use" in self.log()
                    if attempt == 2 or not retry:
                        raise
        except BaseException:
            self._cleanup()
            raise

    def _start_once(self) -> None:
        assert self.directory is not None
        self.port = self.fixed_port or free_port()
        logfile = self.directory / "redis.log"
        logfile.write_text("", encoding="utf-8")
        self.command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(self.directory),
            "--logfile", str(logfile),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it in order
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            with contextlib.suppress(OSError, BrokerError):
                if self.command_once("PING") == "PONG":
                    return
            if self.process.poll() is not None:
                raise BrokerError(f"redis-server exited at start-up: {self._last_line()}")
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"redis-server did not answer PING within {self.start_timeout:g} s: "
                    f"{self._last_line()}"
                )
            time.sleep(0.02)

    def command_once(self, *args: str | bytes | int, timeout: float = 2.0) -> object:
        """Send one command on a fresh connection and return the decoded reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(encode_command(*args))
            return read_reply(sock)

    def _last_line(self) -> str:
        lines = [line for line in self.log().splitlines() if line.strip()]
        return lines[-1].strip() if lines else "nothing in its log"

    def _stop_process(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()  # SIGTERM: redis-server exits at once (nothing to save)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def _cleanup(self) -> None:
        if self.directory is not None:
            with contextlib.suppress(OSError):
                self._log = (self.directory / "redis.log").read_text("utf-8", "replace")
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def stop(self) -> None:
        """Stop redis-server (SIGTERM, SIGKILL after ``stop_timeout`` s) and remove its files."""
        self._stop_process()
        self._cleanup()

    def log(self) -> str:
        """redis-server's log so far (kept after :meth:`stop`)."""
        if self.directory is not None and self._tempdir is not None:
            with contextlib.suppress(OSError):
                return (self.directory / "redis.log").read_text("utf-8", "replace")
        return self._log

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RedisServer 127.0.0.1:{self.port}, {state}>"
