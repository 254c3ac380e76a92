"""Reference solutions to notebook 13's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import wslib.asyncio

# --- 13.ticker ------------------------------------------------------------------------------------
# await asyncio.sleep lets the event loop serve every other connection while this one waits.


async def ticker(conn: Any) -> None:
    for i in range(5):
        await conn.send(f"tick {i}")
        await asyncio.sleep(0.1)


async def ticker_with_time_sleep(conn: Any) -> None:
    """Blocks the whole event loop 0.1 s at a time: every client waits, not only this one."""
    for i in range(5):
        await conn.send(f"tick {i}")
        time.sleep(0.1)


async def ticker_without_await(conn: Any) -> None:
    """conn.send(...) without await: a coroutine made and dropped, nothing sent."""
    for i in range(5):
        conn.send(f"tick {i}")  # type: ignore[unused-coroutine]
        await asyncio.sleep(0.1)


def ticker_not_async(conn: Any) -> None:
    """A plain function: the server cannot await it."""


# --- 13.fan-out -----------------------------------------------------------------------------------
# wslib.asyncio.broadcast writes to each client's buffer without waiting; a client over its
# write_limit is skipped (its bounded queue is full) and the others get the message at once.


async def fan_out(connections: Any, message: Any) -> None:
    wslib.asyncio.broadcast(connections, message)


async def fan_out_one_by_one(connections: Any, message: Any) -> None:
    """The naive loop: the client that reads nothing holds up every one after it."""
    for conn in connections:
        await conn.send(message)


async def fan_out_gather(connections: Any, message: Any) -> None:
    """All at once, but gather ends with the slowest send: the stuck client's."""
    await asyncio.gather(*(conn.send(message) for conn in connections))


SOLUTIONS: dict[str, Any] = {
    "13.ticker": ticker,
    "13.fan-out": fan_out,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "13.ticker": [ticker_with_time_sleep, ticker_without_await, ticker_not_async],
    "13.fan-out": [fan_out_one_by_one, fan_out_gather],
}
