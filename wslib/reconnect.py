"""When and how soon a client should come back after its connection ended: the policy, no I/O.

A server restarts, a load balancer drains it, the network drops: a long-lived client must open a
new connection. Two questions decide how:

1. **Come back at all?** The way the last connection ended says it. The close codes of
   RFC 6455 §7.4.1 (and the IANA registry, §11.7) split in two:

   - *come back later*: 1001 (going away: the server restarts), 1006 (no close frame: the
     process died, the network dropped), 1011 (the server hit an error), 1012 (service restart),
     1013 (try again later: overloaded), 1014 (bad gateway); and failures to open: the TCP
     connection refused or timed out, an HTTP 5xx from the server or from a proxy with no
     upstream left (nginx answers 502);
   - *final*: 1000 (the server said goodbye on purpose), 1002, 1003, 1007, 1008, 1009, 1010
     (something in *our* messages broke a rule: sending them again breaks it again), 3000–4999
     (defined by the application or a library: only it knows, so the safe default is to stop),
     and an HTTP 4xx (403 from an origin check, 401: asking again gives the same answer).

2. **How soon?** Not at once, and not all together. When one server dies, all its clients
   notice in the same millisecond; if they all reconnect at once they hit the survivors as one
   burst (the *thundering herd*), and if the service is down they hammer it in a tight loop. So
   the delay grows exponentially with each failed attempt, up to a cap, and each client draws a
   random part of it (*jitter*) so the herd spreads out in time.

:class:`Backoff` computes the delays; :func:`should_reconnect` and :func:`should_retry_open`
classify how a connection ended; :class:`ReconnectPlan` puts them together into the decisions of
a reconnecting loop. The loops themselves, which wait and connect, live in the I/O layers
(:func:`wslib.sync.reconnect.reconnecting`, :func:`wslib.asyncio.reconnect.reconnecting`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "COME_BACK_LATER",
    "Attempt",
    "Backoff",
    "ReconnectPlan",
    "should_reconnect",
    "should_retry_open",
]

#: Close codes after which a client should reconnect (with a delay). 1005 (no status code in the
#: close frame) is absent: the peer closed cleanly without saying why, so it counts as 1000.
COME_BACK_LATER = frozenset({1001, 1006, 1011, 1012, 1013, 1014})


def should_reconnect(close_code: int | None) -> bool:
    """Should a client open a new connection after its connection closed with ``close_code``?

    ``None`` (no close code known) is treated as 1006: the connection was lost.
    """
    if close_code is None:
        return True
    return close_code in COME_BACK_LATER


def should_retry_open(status: int | None) -> bool:
    """Should a client try again after failing to open a connection?

    ``status`` is the HTTP status of a refused handshake, or None when there was no HTTP answer
    (connection refused, reset, timed out: the server is not there *now*). 5xx: the server or a
    proxy in front of it is failing, which may pass; 4xx and anything else: final.
    """
    return status is None or 500 <= status <= 599


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: the delay before reconnection attempt ``n`` (0, 1, 2...).

    The un-jittered delay is ``initial * factor ** n``, capped at ``cap``; the delay used is drawn
    uniformly in ``[(1 - jitter) * d, d]``. With the defaults: about 0.25–0.5 s, then 0.5–1 s,
    1–2 s, 2–4 s ... and never more than 30 s. ``jitter=0`` gives fixed delays (tests, pictures);
    ``jitter=1`` is "full jitter", any delay from 0 to d.
    """

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.cap < self.initial:
            raise ValueError("Backoff needs 0 < initial <= cap")
        if self.factor < 1:
            raise ValueError("Backoff needs factor >= 1: delays must not shrink")
        if not 0 <= self.jitter <= 1:
            raise ValueError("Backoff needs 0 <= jitter <= 1")

    def ceiling(self, attempt: int) -> float:
        """The delay before attempt ``attempt``, without jitter: ``min(cap, initial*factor**n)``."""
        if attempt < 0:
            raise ValueError("attempt counts from 0")
        # Compare exponents instead of computing factor**attempt, which overflows for large n.
        delay = self.initial
        for _ in range(attempt):
            delay *= self.factor
            if delay >= self.cap:
                return self.cap
        return min(delay, self.cap)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay before attempt ``attempt``, jittered with ``rng`` (default: :mod:`random`)."""
        ceiling = self.ceiling(attempt)
        draw = (rng or random).random()
        return ceiling * (1 - self.jitter * draw)


@dataclass(frozen=True)
class Attempt:
    """One event of a reconnecting client, for logs and timelines.

    ``kind`` is ``"open"`` (a connection opened), ``"closed"`` (it ended; ``code`` is its close
    code), ``"failed"`` (opening failed; ``detail`` says why, ``code`` is the HTTP status if any)
    or ``"wait"`` (``delay`` seconds of backoff before the next attempt). ``at`` is the time the
    I/O layer gave (its clock: :func:`time.monotonic`, or the event loop's).
    """

    at: float
    kind: str
    code: int | None = None
    detail: str = ""
    delay: float = 0.0


class ReconnectPlan:
    """The decisions of a reconnecting client, without I/O: both I/O layers' loops ask it.

    Tell it what happened (:meth:`opened`, :meth:`closed`, :meth:`open_failed`, each with the
    time); it answers with the delay before the next attempt, or ``None`` to stop (a final close
    code, a final HTTP status, or ``max_attempts`` failures in a row: :attr:`gave_up`). It keeps
    :attr:`history` and, once the loop ends on a close, :attr:`close_code`.

    - ``stable_after``: a connection that stayed open this long resets the backoff to its first
      delay (one that opens and closes at once does not: a server that accepts and then says
      1013 "try again later" must not be hammered).
    - ``max_attempts``: consecutive failed attempts before giving up (None: never).
    """

    def __init__(
        self,
        backoff: Backoff | None = None,
        *,
        stable_after: float = 5.0,
        max_attempts: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.backoff = backoff or Backoff()
        self.stable_after = stable_after
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()
        self.history: list[Attempt] = []
        self.close_code: int | None = None
        self.gave_up = False
        self._failures = 0  # consecutive attempts that did not give a stable connection
        self._opened_at: float | None = None

    def opened(self, now: float) -> None:
        self._opened_at = now
        self.history.append(Attempt(now, "open"))

    def closed(self, now: float, code: int | None, reason: str = "") -> float | None:
        """The connection ended with ``code``: the delay before the next one, or None to stop."""
        self.history.append(Attempt(now, "closed", code=code, detail=reason))
        if not should_reconnect(code):
            self.close_code = code
            return None
        if self._opened_at is not None and now - self._opened_at >= self.stable_after:
            self._failures = 0
        self._opened_at = None
        return self._next_delay(now)

    def open_failed(self, now: float, status: int | None, detail: str) -> float | None:
        """Opening failed (``status``: the HTTP status of a refusal, None when nobody answered):
        the delay before the next attempt, or None to stop (then the caller raises the error)."""
        self.history.append(Attempt(now, "failed", code=status, detail=detail))
        if not should_retry_open(status):
            return None
        return self._next_delay(now)

    def stopped(self, now: float, code: int | None = None, reason: str = "") -> None:
        """The application stopped the loop; ``code``: how its last connection closed, if any."""
        self._opened_at = None
        if code is not None:
            self.history.append(Attempt(now, "closed", code=code, detail=reason))

    def _next_delay(self, now: float) -> float | None:
        self._failures += 1
        if self.max_attempts is not None and self._failures >= self.max_attempts:
            self.gave_up = True
            return None
        delay = self.backoff.delay(self._failures - 1, self.rng)
        self.history.append(Attempt(now, "wait", delay=delay))
        return delay
