"""A real server program (nginx, redis-server) run for one experiment, then gone without a trace.

:class:`TempDaemon` is what :class:`wslib.lab.proxy.Nginx` and
:class:`wslib.lab.broker.RedisServer` share: a temporary directory for the program's files, a free
port on 127.0.0.1 (or a given one), a start that returns only once the program is ready (and says
why when it is not), a stop that always happens (SIGTERM, then SIGKILL after ``stop_timeout``),
and logs that stay readable after the files are gone. A subclass says how to launch the program
(:meth:`TempDaemon._launch`), how to tell it is ready (:meth:`TempDaemon._ready`), and which log
files it writes.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, TypeVar

__all__ = ["TempDaemon", "accepts", "free_port", "stop_process"]

_SelfT = TypeVar("_SelfT", bound="TempDaemon")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts(port: int) -> bool:
    """Does something accept TCP connections on 127.0.0.1:``port``?"""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if ``process`` has not exited within ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class TempDaemon:
    """Base class: a program in a temporary directory on 127.0.0.1, a context manager."""

    #: The program's name, in messages ("nginx").
    program: ClassVar[str] = "program"
    #: The log files it writes in its directory; :meth:`log` reads them, even after :meth:`stop`.
    log_files: ClassVar[tuple[str, ...]] = ()
    #: The exception for a program that cannot start.
    error: ClassVar[type[Exception]] = RuntimeError

    def __init__(
        self, binary: str, *, port: int = 0, start_timeout: float = 5.0, stop_timeout: float = 5.0
    ) -> None:
        self.binary = binary
        self.port = port  # 0: a free port picked at start
        self.fixed_port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.prefix: Path | None = None  # the temporary directory, while it runs
        self.command: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._logs: dict[str, str] = {}

    # --- what a subclass says ---------------------------------------------------------------

    def _launch(self) -> list[str]:
        """Write the program's files under :attr:`prefix` for :attr:`port`; return its command."""
        raise NotImplementedError

    def _ready(self) -> bool:
        """Is the program ready to serve?"""
        return accepts(self.port)

    def last_error(self) -> str:
        """The line of its logs that best says why it stopped."""
        lines = [line.strip() for name in self.log_files for line in self.log(name).splitlines()]
        lines = [line for line in lines if line]
        return lines[-1] if lines else "nothing in its log"

    # --- the life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the program and return once it is ready; raise :attr:`error` (with its last log
        line) if it exits or is not ready within ``start_timeout``."""
        if self.process is not None:
            raise self.error(f"this {self.program} is already running")
        self._tempdir = tempfile.TemporaryDirectory(prefix=f"wslib-{self.program}-")
        self.prefix = Path(self._tempdir.name)
        try:
            for attempt in range(3):  # a free port may be taken between our check and its bind
                try:
                    self._start_once()
                    return
                except self.error:
                    self._stop_process()
                    retry = not self.fixed_port and "Address already in use" in self.last_error()
                    if attempt == 2 or not retry:
                        raise
        except BaseException:
            self._cleanup()
            raise

    def _start_once(self) -> None:
        assert self.prefix is not None
        self.port = self.fixed_port or free_port()
        for name in self.log_files:
            (self.prefix / name).write_text("", encoding="utf-8")
        self.command = self._launch()
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it in order
        )
        deadline = time.monotonic() + self.start_timeout
        while not self._ready():
            if self.process.poll() is not None:
                raise self.error(f"{self.program} exited at start-up: {self.last_error()}")
            if time.monotonic() > deadline:
                raise self.error(
                    f"{self.program} was not ready within {self.start_timeout:g} s: "
                    f"{self.last_error()}"
                )
            time.sleep(0.02)

    def _stop_process(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        stop_process(process, self.stop_timeout)  # SIGTERM: nginx's fast shutdown, redis' exit

    def _cleanup(self) -> None:
        if self.prefix is not None:
            for name in self.log_files:
                with contextlib.suppress(OSError):
                    self._logs[name] = (self.prefix / name).read_text("utf-8", "replace")
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def stop(self) -> None:
        """Stop it (SIGTERM, SIGKILL after ``stop_timeout`` s); keep its logs, drop its files."""
        self._stop_process()
        self._cleanup()

    def log(self, name: str) -> str:
        """The log file ``name`` so far (kept after :meth:`stop`)."""
        if self.prefix is not None and self._tempdir is not None:
            with contextlib.suppress(OSError):
                return (self.prefix / name).read_text("utf-8", "replace")
        return self._logs.get(name, "")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self: _SelfT) -> _SelfT:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
