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
