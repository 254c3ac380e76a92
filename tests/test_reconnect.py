"""Reconnecting clients: the backoff policy (no I/O) and the loop against real wslib servers."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import wslib
from wslib.lab.daemon import free_port
from wslib.reconnect import COME_BACK_LATER, Backoff, should_reconnect, should_retry_open
from wslib.sync.reconnect import reconnecting

from .test_server import no_thread_left, url  # noqa: F401  (autouse: every thread stopped)

pytestmark = pytest.mark.timeout(30)


# --- the policy --------------------------------------------------------------------------------


def test_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.5, factor=2, cap=3, jitter=0)
    assert [backoff.delay(n) for n in range(6)] == [0.5, 1, 2, 3, 3, 3]
    assert backoff.ceiling(10_000) == 3  # no overflow for a client that retried all night


@given(
    attempt=st.integers(0, 200),
    jitter=st.floats(0, 1),
    seed=st.integers(0, 2**32),
)
def test_jitter_stays_between_its_bounds(attempt: int, jitter: float, seed: int) -> None:
    backoff = Backoff(initial=0.1, factor=1.5, cap=20, jitter=jitter)
    ceiling = backoff.ceiling(attempt)
    delay = backoff.delay(attempt, random.Random(seed))
    assert (1 - jitter) * ceiling - 1e-12 <= delay <= ceiling


def test_jitter_spreads_a_herd() -> None:
    backoff = Backoff(initial=1, jitter=0.5)
    rng = random.Random(7)
    delays = [backoff.delay(0, rng) for _ in range(1000)]
    assert min(delays) < 0.55 and max(delays) > 0.95  # the whole range [0.5, 1] is used


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": 0}, {"initial": 2, "cap": 1}, {"factor": 0.5}, {"jitter": 1.5}],
)
def test_nonsense_backoffs_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


@pytest.mark.parametrize(
    ("code", "again"),
    [
        (None, True),
        (1000, False),
        (1001, True),
        (1002, False),
        (1003, False),
        (1005, False),
        (1006, True),
        (1007, False),
        (1008, False),
        (1009, False),
        (1011, True),
        (1012, True),
        (1013, True),
        (1014, True),
        (3000, False),
        (4000, False),
        (4999, False),
    ],
)
def test_which_close_codes_mean_come_back_later(code: int | None, again: bool) -> None:
    assert should_reconnect(code) is again
    assert (code in COME_BACK_LATER) is (again and code is not None)


@pytest.mark.parametrize(
    ("status", "again"), [(None, True), (500, True), (502, True), (503, True), (400, False),
                          (401, False), (403, False), (404, False), (426, False), (200, False)]
)  # fmt: skip
def test_which_failed_opens_are_retried(status: int | None, again: bool) -> None:
    assert should_retry_open(status) is again


# --- the loop, against real servers ------------------------------------------------------------

FAST = Backoff(initial=0.05, factor=2, cap=0.2, jitter=0)


def closing_with(*codes: int) -> tuple[list[int], object]:
    """A handler that closes the n-th connection with codes[n] (then the last code forever)."""
    seen: list[int] = []
    lock = threading.Lock()

    def handler(conn: wslib.ServerConnection) -> None:
        with lock:
            n = len(seen)
            seen.append(n)
        conn.send(f"hello {n}")
        conn.close(codes[min(n, len(codes) - 1)], "bye")

    return seen, handler


def test_comes_back_after_restart_codes_and_stops_on_a_final_one() -> None:
    _, handler = closing_with(1012, 1013, 1001, 1008)
    got: list[str] = []
    with wslib.serve(handler, ping_interval=None) as server:
        loop = reconnecting(url(server), backoff=FAST, ping_interval=None)
        for conn in loop:
            try:
                got.extend(str(m) for m in conn)
            except wslib.ConnectionClosed:
                pass
    assert got == ["hello 0", "hello 1", "hello 2", "hello 3"]
    assert loop.close_code == 1008
    kinds = [a.kind for a in loop.history]
    assert kinds == ["open", "closed", "wait"] * 3 + ["open", "closed"]
    waits = [a.delay for a in loop.history if a.kind == "wait"]
    # Each connection closed at once: none was stable, so the delay doubles every time.
    assert waits == [0.05, 0.1, 0.2]
    # ... and the loop really waited that long between a close and the next open.
    history = loop.history
    for i in range(1, len(history) - 2, 3):  # closed, wait, open
        closed, wait, opened = history[i : i + 3]
        assert (closed.kind, wait.kind, opened.kind) == ("closed", "wait", "open")
        assert opened.at - closed.at >= wait.delay * 0.9


def test_a_stable_connection_resets_the_backoff() -> None:
    _, handler = closing_with(1012, 1012, 1000)
    with wslib.serve(handler, ping_interval=None) as server:
        loop = reconnecting(url(server), backoff=FAST, stable_after=0.0, ping_interval=None)
        for conn in loop:
            with pytest.raises(wslib.ConnectionClosed):
                conn.recv(timeout=5)
                conn.recv(timeout=5)
    assert [a.delay for a in loop.history if a.kind == "wait"] == [0.05, 0.05]
    assert loop.close_code == 1000


def test_nobody_listening_is_retried_then_given_up() -> None:
    port = free_port()
    loop = reconnecting(f"ws://127.0.0.1:{port}/", backoff=FAST, max_attempts=4, timeout=2)
    with pytest.raises(ConnectionRefusedError):
        for _ in loop:
            pytest.fail("nothing listens there")
    assert [a.kind for a in loop.history] == ["failed", "wait"] * 3 + ["failed"]


def test_a_server_that_comes_up_late_is_found() -> None:
    port = free_port()
    server_box: list[wslib.Server] = []

    def start_later() -> None:
        time.sleep(0.3)
        server_box.append(wslib.serve(lambda c: c.close(1000), port=port, ping_interval=None))

    starter = threading.Thread(target=start_later)
    starter.start()
    try:
        loop = reconnecting(f"ws://127.0.0.1:{port}/", backoff=FAST, timeout=2)
        for conn in loop:
            with pytest.raises(wslib.ConnectionClosed):
                conn.recv(timeout=5)
        assert loop.close_code == 1000
        failed = [a for a in loop.history if a.kind == "failed"]
        assert failed and all("Refused" in a.detail for a in failed)
    finally:
        starter.join(5)
        for server in server_box:
            server.close()


def test_a_403_is_final_and_raised_at_once() -> None:
    with wslib.serve(lambda c: None, origins=["http://good.example"]) as server:
        loop = reconnecting(url(server), backoff=FAST, origin="http://evil.example")
        with pytest.raises(wslib.InvalidResponse) as caught:
            for _ in loop:
                pytest.fail("the origin check should refuse us")
    assert caught.value.status == 403
    assert [a.kind for a in loop.history] == ["failed"]


def test_a_503_from_a_full_server_is_retried() -> None:
    release = threading.Event()

    def hold(conn: wslib.ServerConnection) -> None:
        release.wait(10)

    with wslib.serve(hold, max_connections=1, ping_interval=None) as server:
        first = wslib.connect(url(server), ping_interval=None)
        threading.Timer(0.3, release.set).start()
        threading.Timer(0.3, first.close).start()
        loop = reconnecting(url(server), backoff=FAST, ping_interval=None)
        for _conn in loop:
            break  # we are in: the server had room again
        statuses = {a.code for a in loop.history if a.kind == "failed"}
        assert statuses == {503}
        release.set()


def test_stop_ends_a_wait_at_once() -> None:
    port = free_port()
    loop = reconnecting(f"ws://127.0.0.1:{port}/", backoff=Backoff(initial=20, cap=20), timeout=2)
    threading.Timer(0.3, loop.stop).start()
    start = time.monotonic()
    for _ in loop:
        pytest.fail("nothing listens there")
    assert time.monotonic() - start < 5  # not the 10-20 s of the backoff
    assert loop.close_code is None


def test_stop_from_another_thread_closes_the_open_connection() -> None:
    with wslib.serve(lambda c: c.recv(timeout=10), ping_interval=None) as server:
        loop = reconnecting(url(server), backoff=FAST, ping_interval=None)
        for conn in loop:
            threading.Timer(0.2, loop.stop).start()
            with pytest.raises(wslib.ConnectionClosed):
                conn.recv(timeout=10)
    assert [a.kind for a in loop.history] == ["open", "closed"]
    assert loop.history[-1].code == 1001


# --- the asyncio loop: the same decisions (wslib.reconnect.ReconnectPlan) ------------------------


def run_async(coroutine: Any) -> Any:
    import asyncio

    return asyncio.run(asyncio.wait_for(coroutine, 20))


def test_asyncio_comes_back_after_restart_codes_and_stops_on_a_final_one() -> None:
    import wslib.asyncio

    codes = iter([1012, 1013, 1008])

    async def handler(conn: Any) -> None:
        await conn.send("hello")
        await conn.close(next(codes), "bye")

    async def main() -> tuple[list[str], Any]:
        got: list[str] = []
        async with wslib.asyncio.serve(handler, ping_interval=None) as server:
            loop = wslib.asyncio.reconnecting(
                f"ws://127.0.0.1:{server.port}/", backoff=FAST, ping_interval=None
            )
            async for conn in loop:
                try:
                    async for message in conn:
                        got.append(str(message))
                except wslib.ConnectionClosed:
                    pass
        return got, loop

    got, loop = run_async(main())
    assert got == ["hello"] * 3
    assert loop.close_code == 1008
    assert [a.delay for a in loop.history if a.kind == "wait"] == [0.05, 0.1]


def test_asyncio_nobody_listening_is_retried_then_given_up() -> None:
    import wslib.asyncio

    port = free_port()

    async def main() -> Any:
        loop = wslib.asyncio.reconnecting(
            f"ws://127.0.0.1:{port}/", backoff=FAST, max_attempts=3, timeout=2
        )
        with pytest.raises(ConnectionRefusedError):
            async for _ in loop:
                pytest.fail("nothing listens there")
        return loop

    loop = run_async(main())
    assert [a.kind for a in loop.history] == ["failed", "wait"] * 2 + ["failed"]


def test_asyncio_a_403_is_final() -> None:
    import wslib.asyncio

    async def main() -> None:
        async def nothing(conn: Any) -> None:
            return None

        async with wslib.asyncio.serve(nothing, origins=["http://good.example"]) as server:
            loop = wslib.asyncio.reconnecting(
                f"ws://127.0.0.1:{server.port}/", backoff=FAST, origin="http://evil.example"
            )
            with pytest.raises(wslib.InvalidResponse) as caught:
                async for _ in loop:
                    pytest.fail("refused")
            assert caught.value.status == 403

    run_async(main())
