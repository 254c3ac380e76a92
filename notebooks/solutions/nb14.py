"""Reference solutions to notebook 14's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

from typing import Any

# --- 14.come-back ---------------------------------------------------------------------------------
# Come back after what may pass (a restart, a dead process, an overload); stop after what says
# *you* did something wrong, after a goodbye on purpose, and after codes only an application knows.


def come_back(code: int | None) -> bool:
    return code is None or code in (1001, 1006, 1011, 1012, 1013, 1014)


def always_come_back(code: int | None) -> bool:
    """Reconnect whatever happened: a 1008 (banned) client hammers the server forever."""
    return True


def only_after_errors(code: int | None) -> bool:
    """Everything but 1000: 1008 and 4xxx are retried too."""
    return code != 1000


def only_restart_codes(code: int | None) -> bool:
    """Only 1012 and 1013: a crashed server (1006) loses its clients for good."""
    return code in (1012, 1013)


# --- 14.newest-id ---------------------------------------------------------------------------------
# Compare stream IDs as (milliseconds, sequence) pairs of numbers.


def newest_id(ids: list[str]) -> str:
    if not ids:
        return ""
    return max(ids, key=lambda i: tuple(int(part) for part in i.split("-")))


def newest_as_text(ids: list[str]) -> str:
    """max() on the strings: '999-0' beats '1000-0'."""
    return max(ids) if ids else ""


def newest_by_millis(ids: list[str]) -> str:
    """Only the milliseconds count: ties are broken by position, not by sequence number."""
    return max(ids, key=lambda i: int(i.split("-")[0])) if ids else ""


def last_in_list(ids: list[str]) -> str:
    """The last one given, as if the list were sorted."""
    return ids[-1] if ids else ""


# --- 14.backoff -----------------------------------------------------------------------------------
# Multiply until the cap, then stay there (no power of a big exponent: it overflows).


def delays(attempts: int, initial: float, factor: float, cap: float) -> list[float]:
    out, delay = [], initial
    for _ in range(attempts):
        out.append(min(delay, cap))
        delay = min(delay * factor, cap)
    return out


def delays_with_power(attempts: int, initial: float, factor: float, cap: float) -> list[float]:
    """Right for small n, but initial * factor ** 5000 overflows."""
    return [min(cap, initial * factor**n) for n in range(attempts)]


def delays_without_cap(attempts: int, initial: float, factor: float, cap: float) -> list[float]:
    out, delay = [], initial
    for _ in range(attempts):
        out.append(delay)
        delay *= factor
    return out


def delays_one_late(attempts: int, initial: float, factor: float, cap: float) -> list[float]:
    """Starts at initial * factor: the first retry waits twice as long as asked."""
    out, delay = [], initial
    for _ in range(attempts):
        delay = min(delay * factor, cap)
        out.append(delay)
    return out


SOLUTIONS: dict[str, Any] = {
    "14.come-back": come_back,
    "14.newest-id": newest_id,
    "14.backoff": delays,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "14.come-back": [always_come_back, only_after_errors, only_restart_codes],
    "14.newest-id": [newest_as_text, newest_by_millis, last_in_list],
    "14.backoff": [delays_with_power, delays_without_cap, delays_one_late],
}
