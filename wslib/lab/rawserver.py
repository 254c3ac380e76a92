"""A listening socket and one thread per connection: the frame of the series' hand-written servers.

The article's server (:mod:`wslib.lab.article`) and notebook 10's tiny echo server
(:mod:`wslib.exercises.nb10`) differ in what they do with a connection, not in how they accept
one. This class does the accepting, and what the article left out: it binds ``127.0.0.1`` on a
free port, every wait has a time bound (:data:`TICK`), and :meth:`~RawServer.close` stops every
thread it started::

    class Echo(RawServer):
        def handle(self, sock):            # runs in the connection's own thread
            ...

    with Echo() as server:
        url = server.url                   # ws://127.0.0.1:PORT/
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import TypeVar

__all__ = ["TICK", "RawServer"]

#: How often the threads look at the stop flag (the sockets' timeout), in seconds.
TICK = 0.1
#: How long :meth:`RawServer.close` waits for each thread.
JOIN_TIMEOUT = 2.0

_SelfT = TypeVar("_SelfT", bound="RawServer")


class RawServer:
    """Accepts on a free ``127.0.0.1`` port and runs :meth:`handle` in a thread per connection.

    ``stop`` is set by :meth:`close`: a :meth:`handle` loop checks it between reads (the
    connection sockets have a :data:`TICK` timeout). :meth:`handle` closes nothing: the socket is
    closed when it returns or raises. ``crashes`` collects what :meth:`handle` raised (that
    connection ends; the server goes on, as the article's did with a traceback per thread).
    """

    #: The threads' names start with this.
    name = "raw"

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TICK)
        self.port: int = self.listener.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.crashes: list[Exception] = []
        self.acceptor = threading.Thread(target=self._accept_loop, name=f"{self.name}-acceptor")
        self.acceptor.start()

    def handle(self, sock: socket.socket) -> None:
        """Serve one connection (in its own thread). Subclasses say what a connection gets."""
        raise NotImplementedError

    def recv(self, sock: socket.socket, n: int = 65536) -> bytes:
        """Up to ``n`` bytes; b"" at the end of TCP, on an error, or once the server stops."""
        while not self.stop.is_set():
            try:
                return sock.recv(n)
            except TimeoutError:
                continue
            except OSError:
                return b""
        return b""

    def _accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(TICK)
            thread = threading.Thread(target=self._run, args=(sock,), name=f"{self.name}-conn")
            with self.lock:
                self.threads = [t for t in self.threads if t.is_alive()]
                self.threads.append(thread)
            thread.start()

    def _run(self, sock: socket.socket) -> None:
        try:
            self.handle(sock)
        except Exception as exc:
            self.crashes.append(exc)
        finally:
            sock.close()

    def close(self) -> None:
        """Stop accepting, end every connection thread, close the listening socket."""
        self.stop.set()
        self.acceptor.join(JOIN_TIMEOUT)
        self.listener.close()
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(JOIN_TIMEOUT)

    def __enter__(self: _SelfT) -> _SelfT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
