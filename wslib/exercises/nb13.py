"""Checks for the exercises of notebook 13 (many clients: threads, an event loop, broadcast).

- ``13.ticker``: an ``async def ticker(conn)`` handler for :func:`wslib.asyncio.serve` that
  sends ``"tick 0"`` ... ``"tick 4"``, one every 0.1 s. The check serves it, connects, and
  meanwhile measures how fast the same event loop answers another client's pings: a handler
  that blocks the loop (``time.sleep``) delays every connection, not just its own.
- ``13.fan-out``: ``async def fan_out(connections, message)`` that sends ``message`` to every
  connection without letting a client that reads nothing hold up the others. The check
  broadcasts 20 messages to 5 fast clients and one that never reads; each call must return
  quickly, and every fast client must get every message, in order.

Every server binds 127.0.0.1 on a free port and runs on an event loop of its own
(:func:`wslib.lab.crowd.run_async`), with a time bound.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import statistics
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from .. import asyncio as wsasyncio
from ..lab.crowd import HANDSHAKE, run_async
from ..sync import connect
from . import Wrong, exercise

__all__ = ["TICKS", "check_fan_out", "check_ticker"]

#: What the ticker sends, one every 0.1 s.
TICKS = [f"tick {i}" for i in range(5)]


def _coroutine_function(answer: Any, name: str, arity: int) -> None:
    if not inspect.iscoroutinefunction(answer):
        if callable(answer):  # the unfinished stub raises NotImplementedError: not solved yet
            if _raises_not_implemented(answer, arity):
                raise NotImplementedError
        raise Wrong(
            f"{name} must be a coroutine function: write `async def {name}(...)`, so that the "
            "event loop can run it as a task (a plain `def` would run to its end and block "
            "the loop meanwhile)."
        )


@exercise(
    "13.ticker", "Write `async def ticker(conn)`: send 'tick 0' to 'tick 4', one every 0.1 s."
)
def check_ticker(ticker: Callable[[Any], Any]) -> None:
    _coroutine_function(ticker, "ticker", 1)

    async def run() -> tuple[list[Any], float, list[str]]:
        async def route(conn: wsasyncio.ServerConnection) -> None:
            if conn.path == "/ticks":
                try:
                    await ticker(conn)
                except NotImplementedError:
                    unfinished.append(True)
            else:
                async for _ in conn:  # the other client: only pings, answered by the loop
                    pass

        caught: list[str] = []
        unfinished: list[bool] = []
        rtts: list[float] = []
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            async with wsasyncio.serve(route, ping_interval=None) as server:
                url = f"ws://127.0.0.1:{server.port}"
                # Another client, in a thread of its own (not on the server's loop): how long
                # do its pings wait for their pongs while the ticker runs?
                other = await asyncio.to_thread(connect, url + "/other", ping_interval=None)
                stop = threading.Event()

                def pinger() -> None:
                    while not stop.wait(0.01):
                        start = time.monotonic()
                        if other.ping().wait(2):
                            rtts.append(time.monotonic() - start)

                thread = threading.Thread(target=pinger)
                thread.start()
                try:
                    ticks = await wsasyncio.connect(url + "/ticks", ping_interval=None)
                    got: list[Any] = []
                    deadline = time.monotonic() + 2.0
                    while len(got) < len(TICKS) and time.monotonic() < deadline:
                        try:
                            got.append(await ticks.recv(timeout=0.05))
                        except TimeoutError:
                            pass
                        except Exception:  # the handler ended the connection
                            break
                    await ticks.close()
                finally:
                    stop.set()
                    await asyncio.to_thread(thread.join, 5)
                    await asyncio.to_thread(other.close)
            caught = [str(w.message) for w in seen]
        if unfinished:
            raise NotImplementedError
        typical = statistics.median(rtts) if rtts else 0.0
        return got, typical, caught

    got, worst, caught = run_async(run(), 30)
    if not got and any("never awaited" in w for w in caught):
        raise Wrong(
            "no tick arrived: `conn.send(...)` without `await` only makes a coroutine and drops "
            "it (Python warns 'coroutine ... was never awaited'); write `await conn.send(...)`."
        )
    if worst > 0.02:
        raise Wrong(
            f"another client's pings waited {worst * 1e3:.0f} ms (median) for their pongs while "
            "your ticker "
            "ran: something blocked the event loop, most likely `time.sleep(0.1)`. It stops "
            "every connection of the server; `await asyncio.sleep(0.1)` lets the loop serve "
            "the others meanwhile."
        )
    if got != TICKS:
        raise Wrong(f"the client received {got!r}; expected {TICKS!r} (one every 0.1 s)")


def _raises_not_implemented(answer: Any, arity: int) -> bool:
    try:
        answer(*[None] * arity)
    except NotImplementedError:
        return True
    except Exception:
        return False
    return False


def _stuck_client(port: int) -> socket.socket:
    """A client that completes the handshake, then never reads (its receive buffer: 4 KiB)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(HANDSHAKE.format(port=port).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    return sock


@exercise(
    "13.fan-out",
    "Write `async def fan_out(connections, message)`: every connection gets `message`, and one "
    "client that reads nothing must not hold up the others.",
)
def check_fan_out(fan_out: Callable[[Any, Any], Any]) -> None:
    _coroutine_function(fan_out, "fan_out", 2)
    rounds, size = 20, 16 * 1024

    async def run() -> tuple[float, list[list[Any]]]:
        async def idle(conn: wsasyncio.ServerConnection) -> None:
            # small kernel buffers, so that the stuck client is full after a few messages
            assert conn.transport is not None
            conn.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 16384
            )
            async for _ in conn:
                pass

        async with wsasyncio.serve(idle, ping_interval=None, write_limit=size) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            stuck = await asyncio.to_thread(_stuck_client, server.port)
            fast = [await wsasyncio.connect(url, max_queue=1000) for _ in range(5)]
            deadline = time.monotonic() + 5
            while len(server.connections) < 6 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            # the stuck client first: a loop over the connections meets it before the others
            conns = sorted(
                server.connections, key=lambda c: c.remote_address != stuck.getsockname()
            )
            worst = 0.0
            for k in range(rounds):
                start = time.monotonic()
                try:
                    await asyncio.wait_for(fan_out(conns, bytes([k]) * size), 2.0)
                except NotImplementedError:
                    stuck.close()
                    raise
                except asyncio.TimeoutError:
                    worst = 2.0
                    break
                worst = max(worst, time.monotonic() - start)
            got: list[list[Any]] = [[] for _ in fast]
            for i, client in enumerate(fast):
                while len(got[i]) < rounds:
                    try:
                        got[i].append(await client.recv(timeout=1))
                    except Exception:
                        break
            for client in fast:
                await client.close()
            stuck.close()
        return worst, got

    worst, got = run_async(run(), 60)
    if worst >= 0.3:
        raise Wrong(
            f"one call of fan_out took {worst * 1e3:.0f} ms: it waited for the client that "
            "reads nothing. `await conn.send()` waits until that client's buffer has room, and "
            "so does `asyncio.gather` of every send (it ends with the slowest). Queue each "
            "message without waiting for any one client: each client needs a queue of its own, "
            "emptied by a task of its own."
        )
    expected = [bytes([k]) * size for k in range(20)]
    for i, messages in enumerate(got):
        if messages != expected:
            missing = len(expected) - len(messages)
            raise Wrong(
                f"fast client {i} got {len(messages)} messages ({missing} missing or out of "
                "order): a fast client must get every message, in order, even while another "
                "one is too slow"
            )
