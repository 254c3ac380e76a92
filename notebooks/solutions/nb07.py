"""Reference solutions to notebook 07's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

from typing import Any

# --- 07.predict-bytes -----------------------------------------------------------------------------
# In T seconds: T / interval polls, each poll_bytes, and rate * T pieces of news.


def predict_bytes(poll_bytes: float, interval: float, rate: float) -> float:
    return (poll_bytes / interval) / rate


def predict_upside_down(poll_bytes: float, interval: float, rate: float) -> float:
    """Multiplies where it should divide: longer intervals would cost more."""
    return poll_bytes * interval * rate


def predict_one_poll_at_least(poll_bytes: float, interval: float, rate: float) -> float:
    """Forgets that one poll can bring several pieces of news at once."""
    return max(poll_bytes, poll_bytes / (interval * rate))


def predict_bytes_per_second(poll_bytes: float, interval: float, rate: float) -> float:
    """Bytes per second, not per piece of news."""
    return poll_bytes / interval


# --- 07.handshakes --------------------------------------------------------------------------------
# HTTP/1.0 closes after each response: the POST and every poll on a new connection. The others
# keep one connection for the submission and the news (the SSE stream follows the POST on it).


def handshakes(strategy: str, polls: int) -> int:
    return polls + 1 if strategy == "short" else 1


def handshakes_forgets_submission(strategy: str, polls: int) -> int:
    """Counts the polls of short polling but not the POST that submitted the task."""
    return polls if strategy == "short" else 1


def handshakes_per_request(strategy: str, polls: int) -> int:
    """One connection per request for every HTTP strategy, as if keep-alive did not exist."""
    return 1 if strategy == "websocket" else polls + 1


def handshakes_upgrade_twice(strategy: str, polls: int) -> int:
    """Thinks the WebSocket upgrade needs a connection of its own before the real one."""
    return {"short": polls + 1, "websocket": 2}.get(strategy, 1)


def handshakes_websocket_needs_none(strategy: str, polls: int) -> int:
    """Thinks a WebSocket, once "upgraded", needs no TCP connection (or handshake) of its own."""
    return {"short": polls + 1, "websocket": 0}.get(strategy, 1)


def handshakes_keepalive_per_poll(strategy: str, polls: int) -> int:
    """Right for short polling and WebSocket, but a new connection per keep-alive request."""
    return 1 if strategy == "websocket" else polls + 1


SOLUTIONS: dict[str, Any] = {
    "07.predict-bytes": predict_bytes,
    "07.handshakes": handshakes,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "07.predict-bytes": [predict_upside_down, predict_one_poll_at_least, predict_bytes_per_second],
    "07.handshakes": [
        handshakes_forgets_submission,
        handshakes_per_request,
        handshakes_upgrade_twice,
        handshakes_websocket_needs_none,
        handshakes_keepalive_per_poll,
    ],
}
