"""A client that comes back, with asyncio: ``async for conn in reconnecting(url):``.

The same loop as :mod:`wslib.sync.reconnect`, awaiting instead of blocking; every decision
(come back or stop, how long to wait, when to give up) is
:class:`wslib.reconnect.ReconnectPlan`'s, shared by both::

    async for conn in reconnecting("ws://127.0.0.1:8765/chat"):
        try:
            async for message in conn:
                print(message)
        except wslib.ConnectionClosed:
            pass        # the loop decides: come back later, or stop
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..exceptions import InvalidResponse
from ..reconnect import Attempt, Backoff, ReconnectPlan
from .client import ClientConnection, connect

__all__ = ["Reconnecting", "reconnecting"]


class Reconnecting:
    """``async for conn in Reconnecting(uri, **options)``; the options are those of
    :class:`wslib.sync.reconnect.Reconnecting`, the other keyword arguments go to
    :func:`wslib.asyncio.connect`. :meth:`stop` ends the loop from another task."""

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
        self._stopped = asyncio.Event()

    @property
    def history(self) -> list[Attempt]:
        return self.plan.history

    @property
    def close_code(self) -> int | None:
        return self.plan.close_code

    async def stop(self) -> None:
        """End the loop: wakes it from a backoff wait and closes the current connection."""
        self._stopped.set()
        conn = self.connection
        if conn is not None:
            await conn.close(1001, "client going away")

    def __aiter__(self) -> AsyncIterator[ClientConnection]:
        return self._connections()

    async def _connections(self) -> AsyncIterator[ClientConnection]:
        plan = self.plan
        loop = asyncio.get_running_loop()
        while not self._stopped.is_set():
            uri = self.uri() if callable(self.uri) else self.uri
            try:
                conn = await connect(uri, **self.connect_options)
            except InvalidResponse as exc:
                delay = plan.open_failed(loop.time(), exc.status, str(exc))
                if delay is None:
                    raise
            except OSError as exc:  # refused, reset, unreachable, timed out (TimeoutError)
                delay = plan.open_failed(loop.time(), None, f"{type(exc).__name__}: {exc}")
                if delay is None:
                    raise
            else:
                plan.opened(loop.time())
                self.connection = conn
                try:
                    yield conn
                finally:  # the body is done, or the caller broke out
                    await conn.close()
                    self.connection = None
                if self._stopped.is_set():
                    plan.stopped(loop.time(), conn.close_code, conn.close_reason or "")
                    return
                delay = plan.closed(loop.time(), conn.close_code, conn.close_reason or "")
                if delay is None:
                    if plan.gave_up:
                        raise ConnectionError(f"gave up: connection closed with {conn.close_code}")
                    return
            try:
                await asyncio.wait_for(self._stopped.wait(), delay)
                return  # stopped during the wait
            except asyncio.TimeoutError:
                pass


def reconnecting(uri: str | Callable[[], str], **options: Any) -> Reconnecting:
    """``async for conn in reconnecting(uri, **options):`` see :class:`Reconnecting`."""
    return Reconnecting(uri, **options)
