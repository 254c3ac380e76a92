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
        expected = (math.ceil(duration / interval), 1)
        got = answer(interval, duration)
        if tuple(got) != expected:
            raise Wrong(
                f"polling_cost({interval}, {duration}) returned {got!r}. Count the polls at "
                f"t = 0, {interval}, {2 * interval}, ... that happen before t = {duration}: each "
                "opens a new TCP connection. How many connections does WebSocket open?"
            )
