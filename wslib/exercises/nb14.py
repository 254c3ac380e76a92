"""Checks for the exercises of notebook 14 (beyond one machine).

- ``14.come-back``: after a connection ended with a close code, should a client reconnect?
  Checked against :func:`wslib.reconnect.should_reconnect` on every code that has a meaning.
- ``14.newest-id``: the newest of some Redis stream IDs (``"1733241600000-3"``), the one a
  reconnecting client sends as ``after=``: IDs compare as two numbers, not as text.
- ``14.backoff``: the delays of exponential backoff, without jitter: ``initial``, doubling (or
  ``factor``) each attempt, never more than ``cap``, even after thousands of attempts.
"""

from __future__ import annotations

import math
from typing import Any

from ..reconnect import Backoff, should_reconnect
from . import Wrong, exercise

__all__ = ["CODES", "ID_SETS"]

#: The close codes 14.come-back is checked on (None: the connection ended without any).
CODES: list[int | None] = [
    1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
    3000, 4000, 4001, 4999, None,
]  # fmt: skip

_WHY = {
    1000: "1000 is a normal closure: the server said goodbye on purpose, and coming straight "
    "back undoes its decision.",
    1001: "1001 (going away) is what a server sends when it shuts down or restarts: another "
    "server, or the same one in a moment, will take you.",
    1002: "1002 says a frame you sent broke the protocol: the next connection would send the same "
    "frames and be closed the same way.",
    1003: "1003 says the server does not accept that kind of data from you: sending it again "
    "changes nothing.",
    1006: "1006 is what a client sees when no close frame came at all: the server process died or "
    "the network dropped. That is exactly the case reconnecting is for.",
    1007: "1007 says you sent text that is not valid UTF-8: your next connection would too.",
    1008: "1008 is a policy violation (an origin refused, a rate limit, a bad token): the server "
    "decided against you, and asking again in a loop is what a rate limiter punishes.",
    1009: "1009 says your message was too big for the server: it still is.",
    1010: "1010 says the server did not agree to an extension you require: it will not next time.",
    1011: "1011 is a server-side error (a bug, a dependency down): often passing, so come back "
    "later, with a delay.",
    1012: "1012 means 'service restart': the server asks you to come back.",
    1013: "1013 means 'try again later': the server is overloaded now, not forever.",
    1014: "1014 is a gateway that got a bad answer from the server behind it: a failover may "
    "fix it.",
    3000: "3000-3999 are registered for libraries and frameworks: their meaning is theirs, so a "
    "generic client stops rather than guess.",
    4000: "4000-4999 belong to the application (like 'logged out' or 'kicked'): only it knows what "
    "they mean, and the safe default is to stop.",
}


@exercise(
    "14.come-back",
    "Write come_back(code) -> bool: True when a client whose connection ended with close code "
    "`code` should open a new one (after a delay), False when it should stop. None means the "
    "connection ended without any close code.",
)
def check_come_back(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function come_back(code).")
    for code in CODES:
        got = answer(code)
        if not isinstance(got, bool):
            raise Wrong(f"come_back({code!r}) should give True or False, not {got!r}.")
        if got != should_reconnect(code):
            if code is None:
                raise Wrong(
                    "come_back(None) got it wrong: a connection that ended without any close "
                    "code was lost (a dead server, a dropped network), like 1006."
                )
            family = 4000 if 4000 <= code <= 4999 else code
            verb = "reconnects" if got else "gives up"
            raise Wrong(f"your client {verb} after {code}. {_WHY[family]}")


# --- 14.newest-id ---------------------------------------------------------------------------------

#: Sets of stream IDs (in no particular order) and the traps they hold.
ID_SETS: list[list[str]] = [
    ["1733241600000-0", "1733241600001-0"],
    ["999-0", "1000-0"],  # as text, "999" > "1000"
    ["1733241600000-9", "1733241600000-10"],  # as text, "-9" > "-10"
    ["1733241600005-2", "1733241600005-0", "1733241600004-7"],  # not in order
    ["1733241600000-1"],
]


def _id(text: str) -> tuple[int, int]:
    millis, _, seq = text.partition("-")
    return int(millis), int(seq)


@exercise(
    "14.newest-id",
    "Write newest_id(ids) -> str: the newest of a list of Redis stream IDs such as "
    "'1733241600000-3' (milliseconds, a dash, a sequence number), given in no particular order; "
    "'' for an empty list.",
)
def check_newest_id(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function newest_id(ids).")
    try:
        empty = answer([])
    except ValueError:
        raise Wrong(
            "newest_id([]) raised ValueError: a client that saw nothing has no ID"
        ) from None
    if empty != "":
        raise Wrong(f"newest_id([]) gave {empty!r}: a client that saw nothing sends no after=.")
    for ids in ID_SETS:
        got = answer(list(ids))
        want = max(ids, key=_id)
        if got == want:
            continue
        if got not in ids:
            raise Wrong(f"for {ids}, {got!r} is not one of the IDs: give one of them back as is.")
        if _id(got)[0] == _id(want)[0]:
            raise Wrong(
                f"for {ids}, {got!r} has the right milliseconds but not the newest sequence "
                "number: several entries can share a millisecond, and their sequence numbers "
                "tell them apart."
            )
        if got == max(ids):
            raise Wrong(
                f"for {ids}, you picked {got!r}: that is the largest as *text*, where '9' comes "
                "after '1'. Each part of an ID is a number."
            )
        if got == ids[-1]:
            raise Wrong(
                f"for {ids}, you took the last ID of the list: the IDs come in no particular "
                "order (logs of several clients merged, say)."
            )
        raise Wrong(f"for {ids}, {got!r} is not the newest.")


# --- 14.backoff -----------------------------------------------------------------------------------

_BACKOFFS = [(0.5, 2.0, 30.0), (1.0, 3.0, 10.0), (0.1, 1.5, 5.0), (2.0, 2.0, 2.0)]


@exercise(
    "14.backoff",
    "Write delays(attempts, initial, factor, cap) -> list of floats: the delay before each of "
    "`attempts` reconnection attempts, without jitter: `initial` before the first, multiplied "
    "by `factor` each time, never more than `cap`. A client may retry all night: attempts can "
    "be in the thousands.",
)
def check_backoff(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function delays(attempts, initial, factor, cap).")
    for initial, factor, cap in _BACKOFFS:
        backoff = Backoff(initial=initial, factor=factor, cap=cap, jitter=0)
        want = [backoff.ceiling(n) for n in range(12)]
        got = list(answer(12, initial, factor, cap))
        if len(got) != 12:
            raise Wrong(f"delays(12, ...) gave {len(got)} delays: one per attempt.")
        if not math.isclose(got[0], want[0]):
            hint = " (the first attempt is attempt 0)" if math.isclose(got[0], want[1]) else ""
            raise Wrong(
                f"with initial={initial}, the first delay is {got[0]:g}{hint}: the first "
                "attempt waits `initial`."
            )
        if any(d > cap + 1e-9 for d in got):
            raise Wrong(
                f"with cap={cap}, a delay of {max(got):g} s: without the cap a client that "
                "has failed ten times waits minutes, then hours."
            )
        for n, (g, w) in enumerate(zip(got, want, strict=True)):
            if not math.isclose(g, w, rel_tol=1e-9):
                raise Wrong(
                    f"with initial={initial}, factor={factor}, cap={cap}: attempt {n} waits "
                    f"{g:g} s; each delay is the one before times the factor, until the cap."
                )
    try:
        late = list(answer(5000, 0.5, 2.0, 30.0))
    except OverflowError:
        raise Wrong(
            "delays(5000, 0.5, 2.0, 30.0) overflowed: 0.5 * 2.0 ** 5000 is too big for a float. "
            "Once a delay reaches the cap, it never needs to grow again."
        ) from None
    if len(late) != 5000 or not math.isclose(late[-1], 30.0):
        raise Wrong("delays(5000, 0.5, 2.0, 30.0) should end at the cap, 30 s.")
