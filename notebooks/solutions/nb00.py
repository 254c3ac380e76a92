"""Reference solutions for notebook 00 (welcome), for instructors.

WRONG_ANSWERS holds plausible mistakes that the checks must reject (tests/test_exercises.py).
"""

from __future__ import annotations

import math


def polling_cost(interval_s: float, duration_s: float) -> tuple[int, int]:
    # One poll at t = 0, interval, 2 × interval, ... while t < duration: ceil(duration / interval)
    # polls. HTTP/1.0 opens a new TCP connection (and pays a three-way handshake) for every poll;
    # WebSocket pays one handshake for the whole session.
    return math.ceil(duration_s / interval_s), 1


def polling_cost_off_by_one(interval_s: float, duration_s: float) -> tuple[int, int]:
    # counts a poll at t = duration too
    return int(duration_s // interval_s) + 1, 1


def polling_cost_no_handshake(interval_s: float, duration_s: float) -> tuple[int, int]:
    # forgets that the WebSocket connection itself starts with a TCP handshake
    return math.ceil(duration_s / interval_s), 0


SOLUTIONS = {"00.polling-cost": polling_cost}
WRONG_ANSWERS = {"00.polling-cost": [polling_cost_off_by_one, polling_cost_no_handshake]}
