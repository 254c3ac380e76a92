"""Exercise checks for notebook 00 (welcome)."""

from __future__ import annotations

import math
from typing import Any

from . import Wrong, exercise

CASES = [(2, 60), (1, 10), (3, 10), (5, 4), (0.5, 3), (10, 600)]


@exercise(
    "00.polling-cost",
    "Write polling_cost(interval_s, duration_s) returning (TCP handshakes with HTTP/1.0 polling, "
    "TCP handshakes with one WebSocket connection) for a client that polls at t = 0, interval, "
    "2 × interval, ... while t < duration.",
)
def polling_cost(answer: Any) -> None:
    for interval, duration in CASES:
        expected_polls = math.ceil(duration / interval)
        got = answer(interval, duration)
        call = f"polling_cost({interval}, {duration})"
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Wrong(f"{call} returned {got!r}: return a pair (polling, WebSocket).")
        polls, websocket = got
        if polls > expected_polls:
            raise Wrong(
                f"{call} counts too many polls: they happen while t < {duration}, so there is "
                f"no poll at t = {duration} itself, nor after it."
            )
        if polls < expected_polls:
            raise Wrong(
                f"{call} counts too few polls: the first one is at t = 0, and a poll shortly "
                f"before t = {duration} still happens (round up, not down)."
            )
        if websocket != 1:
            raise Wrong(
                f"{call} gives {websocket!r} for WebSocket: its one connection stays open for the "
                "whole session, but opening it is a TCP connection like any other."
            )
