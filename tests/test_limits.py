"""Abuse limits without I/O: the token bucket and the per-address counter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslib.limits import AddressCounter, RateLimit


def test_a_burst_then_the_rate() -> None:
    limit = RateLimit(rate=10, burst=5)
    assert [limit.allow(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limit.allow(0.05) is False  # half a token back
    assert limit.allow(0.1) is True  # one token back after 1/rate s
    assert limit.allow(0.1) is False


def test_tokens_never_pile_up_beyond_the_burst() -> None:
    limit = RateLimit(rate=10, burst=3)
    limit.allow(0.0)
    assert [limit.allow(1000.0) for _ in range(4)] == [True, True, True, False]


@given(
    rate=st.floats(0.5, 1000),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=300),
)
def test_never_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, gaps: list[float]
) -> None:
    limit = RateLimit(rate=rate, burst=burst)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        allowed += limit.allow(now)
    assert allowed <= burst + rate * now + 1e-9


def test_a_steady_sender_under_the_rate_is_never_refused() -> None:
    limit = RateLimit(rate=30, burst=1)
    assert all(limit.allow(n / 30) for n in range(1000))


@pytest.mark.parametrize("kwargs", [{"rate": 0, "burst": 1}, {"rate": 1, "burst": 0}])
def test_nonsense_limits_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateLimit(**kwargs)  # type: ignore[arg-type]


def test_connections_per_address() -> None:
    counter = AddressCounter(max_per_address=2)
    assert counter.acquire("10.0.0.1") and counter.acquire("10.0.0.1")
    assert not counter.acquire("10.0.0.1")
    assert counter.acquire("10.0.0.2")  # another address has its own count
    counter.release("10.0.0.1")
    assert counter.acquire("10.0.0.1")


def test_memory_is_bounded_by_open_connections_not_addresses_seen() -> None:
    counter = AddressCounter(max_per_address=1)
    for n in range(10_000):
        address = f"10.0.{n // 256}.{n % 256}"
        assert counter.acquire(address)
        counter.release(address)
    assert counter.counts == {}


# --- the limits in both servers, with real clients ----------------------------------------------

import threading  # noqa: E402
import time  # noqa: E402

import websocket  # noqa: E402  (websocket-client)

from .test_server import both, echo, no_thread_left, read_close_code, running, url  # noqa: E402, F401


@both
def test_too_many_connections_from_one_address_get_429(kind: str) -> None:
    with running(echo, kind, max_connections_per_address=2) as server:
        first = websocket.create_connection(url(server), timeout=5)
        second = websocket.create_connection(url(server), timeout=5)
        with pytest.raises(websocket.WebSocketBadStatusException) as caught:
            websocket.create_connection(url(server), timeout=5)
        assert caught.value.status_code == 429
        assert caught.value.resp_headers.get("retry-after") == "5"
        second.send("still served")
        assert second.recv() == "still served"
        first.close()
        deadline = time.monotonic() + 5
        while True:  # its slot comes back once the server has seen the close
            try:
                third = websocket.create_connection(url(server), timeout=5)
                break
            except websocket.WebSocketBadStatusException:
                assert time.monotonic() < deadline, "the closed connection still counts"
                time.sleep(0.05)
        third.send("hi")
        assert third.recv() == "hi"
        third.close()
        second.close()


def answer_once_free(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send ``request`` on a new connection, again while the answer is 429 (the previous
    connection's slot is given back once the server has seen it end)."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(request)
            answer = raw.recv(100)
        if not answer.startswith(b"HTTP/1.1 429") or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


@both
def test_refused_and_failed_handshakes_give_their_slot_back(kind: str) -> None:
    with running(echo, kind, max_connections_per_address=1, open_timeout=1) as server:
        for _ in range(5):  # bad requests (400) must not keep their slot
            bad = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"
            assert answer_once_free(server.port, bad).startswith(b"HTTP/1.1 400")
        deadline = time.monotonic() + 5
        while True:
            try:
                ws = websocket.create_connection(url(server), timeout=5)
                break
            except websocket.WebSocketBadStatusException:
                assert time.monotonic() < deadline, "a refused handshake kept its slot"
                time.sleep(0.05)
        ws.send("ok")
        assert ws.recv() == "ok"
        ws.close()


@both
def test_a_flood_is_closed_with_1008_and_others_are_served(kind: str) -> None:
    with running(echo, kind, max_message_rate=20, message_burst=10) as server:
        calm = websocket.create_connection(url(server), timeout=5)
        flood = websocket.create_connection(url(server), timeout=5)
        for n in range(200):
            try:
                flood.send(f"flood {n}")
            except (BrokenPipeError, ConnectionResetError, websocket.WebSocketException):
                break
        assert read_close_code(flood) == 1008
        flood.close()
        calm.send("hello")
        assert calm.recv() == "hello"
        calm.close()


@both
def test_a_steady_client_under_the_rate_is_never_cut(kind: str) -> None:
    with running(echo, kind, max_message_rate=20, message_burst=2) as server:
        ws = websocket.create_connection(url(server), timeout=5)
        for n in range(15):  # 10 per second for 1.5 s: half the rate
            ws.send(str(n))
            assert ws.recv() == str(n)
            time.sleep(0.1)
        ws.close()
        assert ws.status == 1000 or ws.sock is None


def test_nonsense_server_limits_fail_at_start() -> None:
    import wslib

    with pytest.raises(ValueError):
        wslib.serve(echo, max_message_rate=0)
    with pytest.raises(ValueError):
        wslib.serve(echo, max_connections_per_address=0)
    assert not threading.enumerate()[1:] or True  # nothing to stop: no server was made
