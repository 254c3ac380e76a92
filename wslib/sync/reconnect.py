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
from typing import Any

from ..exceptions import InvalidResponse
from ..reconnect import Attempt, Backoff, ReconnectPlan
from .client import ClientConnection, connect

__all__ = ["Attempt", "Reconnecting", "reconnecting"]


class Reconnecting:
    """Iterate to get one open connection after another; see the module's documentation.

    - ``backoff``: the delays between attempts (:class:`~wslib.reconnect.Backoff`).
    - ``stable_after=5.0``, ``max_attempts=None``: as for :class:`~wslib.reconnect.ReconnectPlan`
      (which makes every decision of this loop; giving up raises the last error).
    - ``rng``: the random source for the jitter (seed it for reproducible delays).
    - ``uri`` may be a function that returns the URL of each attempt: a client that resumes
      after the last message it saw puts it in the URL (``/chat?after=ID``).
    - Other keyword arguments go to :func:`wslib.connect` for every attempt.

    :attr:`history` lists every :class:`~wslib.reconnect.Attempt`; :attr:`close_code` is the
    code that ended the loop (None while it runs or when it was stopped).
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
        self.plan = ReconnectPlan(
            backoff, stable_after=stable_after, max_attempts=max_attempts, rng=rng
        )
        self.connect_options = connect_options
        self.connection: ClientConnection | None = None
        self._stopped = threading.Event()

    @property
    def history(self) -> list[Attempt]:
        return self.plan.history

    @property
    def close_code(self) -> int | None:
        return self.plan.close_code

    def stop(self) -> None:
        """End the loop: wakes it from a backoff wait and closes the current connection."""
        self._stopped.set()
        conn = self.connection
        if conn is not None:
            conn.close(1001, "client going away")

    def __iter__(self) -> Iterator[ClientConnection]:
        plan = self.plan
        while not self._stopped.is_set():
            uri = self.uri() if callable(self.uri) else self.uri
            try:
                conn = connect(uri, **self.connect_options)
            except InvalidResponse as exc:
                delay = plan.open_failed(time.monotonic(), exc.status, str(exc))
                if delay is None:
                    raise
            except OSError as exc:  # refused, reset, unreachable, timed out (TimeoutError)
                delay = plan.open_failed(time.monotonic(), None, f"{type(exc).__name__}: {exc}")
                if delay is None:
                    raise
            else:
                plan.opened(time.monotonic())
                self.connection = conn
                try:
                    yield conn
                finally:  # the body is done, or the caller broke out (GeneratorExit)
                    conn.close()
                    self.connection = None
                if self._stopped.is_set():
                    plan.stopped(time.monotonic(), conn.close_code, conn.close_reason or "")
                    return
                delay = plan.closed(time.monotonic(), conn.close_code, conn.close_reason or "")
                if delay is None:
                    if plan.gave_up:
                        raise ConnectionError(f"gave up: connection closed with {conn.close_code}")
                    return
            if self._stopped.wait(delay):
                return


def reconnecting(uri: str | Callable[[], str], **options: Any) -> Reconnecting:
    """``for conn in reconnecting(uri, **options):`` see :class:`Reconnecting`."""
    return Reconnecting(uri, **options)
