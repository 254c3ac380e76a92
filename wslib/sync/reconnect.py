"""A client that comes back: :func:`reconnecting` opens a new connection each time one ends.

::

    from wslib.sync.reconnect import reconnecting

    for conn in reconnecting("ws://127.0.0.1:8765/chat"):
        try:
            for message in conn:
                print(message)
        except wslib.ConnectionClosed:
            pass        # the loop decides: come back later, or stop

Each turn of the loop gets an open :class:`~wslib.sync.client.ClientConnection`. When the body
is done with it (the connection closed, usually), the close code decides what happens
(:func:`wslib.reconnect.should_reconnect`): 1001, 1006, 1011–1014 mean "come back later", and
the loop waits a :class:`~wslib.reconnect.Backoff` delay and opens the next connection; any other
code ends the loop. A body that returns while its connection is still open has finished with
it: the loop closes it (1000) and ends. Failing to open is retried the same way when nobody
answered (connection refused, timed out) or the answer was a 5xx; a 4xx (403, 401...) raises
:class:`~wslib.exceptions.InvalidResponse` at once. Break out of the loop to stop, or call
:meth:`Reconnecting.stop` from another thread.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..exceptions import InvalidResponse
from ..reconnect import Backoff, should_reconnect, should_retry_open
from .client import ClientConnection, connect

__all__ = ["Attempt", "Reconnecting", "reconnecting"]


@dataclass(frozen=True)
class Attempt:
    """One event of a reconnecting client, for logs and timelines.

    ``kind`` is ``"open"`` (a connection opened), ``"closed"`` (it ended; ``code`` is its close
    code), ``"failed"`` (opening failed; ``detail`` says why, ``code`` is the HTTP status if any)
    or ``"wait"`` (``delay`` seconds of backoff before the next attempt). ``at`` is a
    :func:`time.monotonic` time.
    """

    at: float
    kind: str
    code: int | None = None
    detail: str = ""
    delay: float = 0.0


class Reconnecting:
    """Iterate to get one open connection after another; see the module's documentation.

    - ``backoff``: the delays between attempts (:class:`~wslib.reconnect.Backoff`).
    - ``stable_after=5.0``: a connection that stayed open this long resets the backoff to its
      first delay (one that opens and closes at once does not: a server that accepts and then
      says 1013 "try again later" must not be hammered).
    - ``max_attempts``: give up after this many consecutive failed attempts, raising the last
      error (default: never give up).
    - ``rng``: the random source for the jitter (seed it for reproducible delays).
    - ``uri`` may be a function that returns the URL of each attempt: a client that resumes
      after the last message it saw puts it in the URL (``/chat?after=ID``).
    - Other keyword arguments go to :func:`wslib.connect` for every attempt.

    :attr:`history` lists every :class:`Attempt`; :attr:`close_code` is the code that ended the
    loop (None while it runs or when it was stopped).
    """

    def __init__(
        self,
        uri: str | Callable[[], str],
        *,
        backoff: Backoff | None = None,
        stable_after: float = 5.0,
        max_attempts: int | None = None,
        rng: random.Random | None = None,
        **connect_options: Any,
    ) -> None:
        self.uri = uri
        self.backoff = backoff or Backoff()
        self.stable_after = stable_after
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()
        self.connect_options = connect_options
        self.history: list[Attempt] = []
        self.close_code: int | None = None
        self.connection: ClientConnection | None = None
        self._stopped = threading.Event()

    def stop(self) -> None:
        """End the loop: wakes it from a backoff wait and closes the current connection."""
        self._stopped.set()
        conn = self.connection
        if conn is not None:
            conn.close(1001, "client going away")

    def _note(self, kind: str, **fields: Any) -> None:
        self.history.append(Attempt(time.monotonic(), kind, **fields))

    def __iter__(self) -> Iterator[ClientConnection]:
        failures = 0  # consecutive attempts that did not give a stable connection
        while not self._stopped.is_set():
            try:
                uri = self.uri() if callable(self.uri) else self.uri
                conn = connect(uri, **self.connect_options)
            except InvalidResponse as exc:
                self._note("failed", code=exc.status, detail=str(exc))
                if not should_retry_open(exc.status):
                    raise
                error: Exception = exc
            except OSError as exc:  # refused, reset, unreachable, timed out (TimeoutError)
                self._note("failed", detail=f"{type(exc).__name__}: {exc}")
                error = exc
            else:
                opened = time.monotonic()
                self._note("open")
                self.connection = conn
                try:
                    yield conn
                finally:  # the body is done, or the caller broke out (GeneratorExit)
                    conn.close()
                    self.connection = None
                    self._note("closed", code=conn.close_code, detail=conn.close_reason or "")
                code = conn.close_code
                if self._stopped.is_set():
                    return
                if not should_reconnect(code):
                    self.close_code = code
                    return
                if time.monotonic() - opened >= self.stable_after:
                    failures = 0
                error = ConnectionError(f"connection closed with {code}")
            failures += 1
            if self.max_attempts is not None and failures >= self.max_attempts:
                raise error
            delay = self.backoff.delay(failures - 1, self.rng)
            self._note("wait", delay=delay)
            if self._stopped.wait(delay):
                return


def reconnecting(uri: str | Callable[[], str], **options: Any) -> Reconnecting:
    """``for conn in reconnecting(uri, **options):`` see :class:`Reconnecting`."""
    return Reconnecting(uri, **options)
