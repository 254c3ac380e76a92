"""Reference solutions to notebook 04's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

import time
from typing import Any

from wslib.exercises.nb04 import FIRST_KEY, TWO_FRAMES

# --- 04.decode-naive-bug --------------------------------------------------------------------------
# The reasoning, without running the article's decoder. TWO_FRAMES is 18 bytes: the first frame
# (2 header bytes, 4 key bytes, 3 payload bytes) and the second frame (9 bytes, the same shape).
# The decoder finds the first key at bytes 2-5, then XORs *all* of bytes 6-17 with it: the first
# frame's payload comes out right (b"123"), and the second frame's 9 bytes are XORed with the
# first key, continuing where the payload left off (key index 3, 0, 1, ...).

first_payload = bytes(b ^ FIRST_KEY[i % 4] for i, b in enumerate(TWO_FRAMES[6:9]))
second_frame = TWO_FRAMES[9:]
prediction = first_payload + bytes(b ^ FIRST_KEY[(3 + i) % 4] for i, b in enumerate(second_frame))

# Wrong: the key restarts at index 0 for the second frame's bytes (an off-by-three).
key_restarts = first_payload + bytes(b ^ FIRST_KEY[i % 4] for i, b in enumerate(second_frame))
# Wrong: the second frame's bytes copied as they are, not XORed at all.
second_untouched = first_payload + second_frame


# --- 04.handler -----------------------------------------------------------------------------------


def upper_handler(conn: Any) -> None:
    for message in conn:
        conn.send(message.upper() if isinstance(message, str) else message)


def echo_handler(conn: Any) -> None:
    """Forgets the upper case."""
    for message in conn:
        conn.send(message)


def upper_everything(conn: Any) -> None:
    """bytes have .upper() too: binary messages come back changed."""
    for message in conn:
        conn.send(message.upper())


def binary_as_text(conn: Any) -> None:
    """Decodes binary messages and sends them back as text."""
    for message in conn:
        if isinstance(message, bytes):
            message = message.decode("latin-1")
        conn.send(message.upper() if isinstance(message, str) else message)


def answers_once(conn: Any) -> None:
    """Answers the first message, then returns: the server closes the connection."""
    message = conn.recv()
    conn.send(message.upper() if isinstance(message, str) else message)


# --- 04.push-progress -----------------------------------------------------------------------------


def push_progress(conn: Any, durations: list[float]) -> None:
    for step, duration in enumerate(durations, 1):
        time.sleep(duration)  # the work of this step
        conn.send(f"{100 * step // len(durations)}%")
    conn.send("done")


def push_at_the_end(conn: Any, durations: list[float]) -> None:
    """Collects the progress and sends it all when the job is over: that is not a push."""
    messages = []
    for step, duration in enumerate(durations, 1):
        time.sleep(duration)
        messages.append(f"{100 * step // len(durations)}%")
    for message in [*messages, "done"]:
        conn.send(message)


def push_before_work(conn: Any, durations: list[float]) -> None:
    """Announces each step's progress before doing its work."""
    for step, duration in enumerate(durations, 1):
        conn.send(f"{100 * step // len(durations)}%")
        time.sleep(duration)
    conn.send("done")


def push_off_by_one(conn: Any, durations: list[float]) -> None:
    """Counts steps from 0: 0 %, 25 %, 50 %, 75 %."""
    for step, duration in enumerate(durations):
        time.sleep(duration)
        conn.send(f"{100 * step // len(durations)}%")
    conn.send("done")


def push_without_done(conn: Any, durations: list[float]) -> None:
    """Never says it is done."""
    for step, duration in enumerate(durations, 1):
        time.sleep(duration)
        conn.send(f"{100 * step // len(durations)}%")


SOLUTIONS: dict[str, Any] = {
    "04.decode-naive-bug": prediction,
    "04.handler": upper_handler,
    "04.push-progress": push_progress,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "04.decode-naive-bug": [b"123", b"123456", key_restarts, second_untouched, "123"],
    "04.handler": [echo_handler, upper_everything, binary_as_text, answers_once],
    "04.push-progress": [push_at_the_end, push_before_work, push_off_by_one, push_without_done],
}
