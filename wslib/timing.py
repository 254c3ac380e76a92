"""The clocks of an open connection, without I/O: keepalive, closing and failure timing.

A WebSocket connection has a few deadlines, and both I/O layers (:mod:`wslib.sync`, a reader
thread that wakes up at the next deadline; :mod:`wslib.asyncio`, one timer on the event loop)
keep them with a :class:`Deadlines`: they tell it what happened (:meth:`~Deadlines.sent`,
:meth:`~Deadlines.received`, :meth:`~Deadlines.ping_sent`), ask :meth:`~Deadlines.due` what to do
now, and sleep until :meth:`~Deadlines.next_deadline`:

- **keepalive**: a ping every ``ping_interval`` seconds; no pong within ``ping_timeout`` fails
  the connection with 1011 ("keepalive ping timeout", as the ``websockets`` library does).
- **message_timeout**: once bytes of a message or control frame arrived, the rest must follow
  within that many seconds, or the connection fails with 1008 (policy violation, §7.4.1).
- **closing**: after a close frame was sent, wait ``close_timeout`` for the peer to end TCP
  (RFC 6455 §7.1.1: a client "MAY initiate the TCP Close" "after a reasonable amount of time");
  after this side *failed* the connection, end TCP at once (§7.1.7: "MUST _Close the WebSocket
  Connection_"): a peer that broke the rules may keep TCP open on purpose.
- **failure grace**: a bad frame that follows some messages waits (``defer_failure=True`` in
  :class:`wslib.protocol.Connection`) until the application took those messages and asks for
  more, at most :data:`FAILURE_GRACE` seconds (:func:`failure_may_go`).

:class:`PingTracker` matches pongs to pings: a pong answers its ping and every ping sent before
it (§5.5.3 lets a peer answer only the latest).
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .protocol import Connection, State

__all__ = [
    "FAILURE_GRACE",
    "Action",
    "Deadlines",
    "Due",
    "PingTracker",
    "failure_may_go",
]

#: After a bad frame, how long the messages that came before it may wait for the application
#: to take them (and answer them) before the connection fails anyway.
FAILURE_GRACE = 1.0

_W = TypeVar("_W")


class Action(enum.Enum):
    """What :meth:`Deadlines.due` asks the I/O layer to do now."""

    NOTHING = "nothing"
    PING = "ping"  # send a keepalive ping, then call ping_sent()
    FAIL = "fail"  # send a close frame with Due.code and Due.reason, end TCP at once
    ABORT = "abort"  # the closing handshake took too long: end TCP now (§7.1.1)


@dataclass(frozen=True)
class Due:
    action: Action
    code: int = 0
    reason: str = ""


class Deadlines:
    """Keepalive, message and closing deadlines of one connection; times are
    :func:`time.monotonic` seconds passed in by the caller (so a test can pass any clock)."""

    def __init__(
        self,
        now: float,
        *,
        ping_interval: float | None,
        ping_timeout: float | None,
        close_timeout: float,
        message_timeout: float | None,
    ) -> None:
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.message_timeout = message_timeout
        self.next_ping = None if ping_interval is None else now + ping_interval
        # The pending keepalive ping: "has its pong arrived?" and when it is too late.
        self.keepalive: tuple[Callable[[], bool], float] | None = None
        self.close_deadline: float | None = None
        # When bytes arrived that completed nothing yet (a message or control frame under way).
        self.unfinished_since: float | None = None

    def sent(self, protocol: Connection, now: float) -> None:
        """The I/O layer wrote what the protocol had to send: start the closing clocks."""
        if protocol.failure is not None:
            # This side failed the connection: RFC 6455 §7.1.7 ends TCP at once.
            self.close_deadline = now
        elif self.close_deadline is None and protocol.close_expected():
            # RFC 6455 §7.1.1: wait for the peer to end TCP, but not forever.
            self.close_deadline = now + self.close_timeout

    def failed(self, now: float) -> None:
        """This side failed the connection (keepalive, message timeout): no waiting."""
        self.close_deadline = now

    def received(self, completed: bool, now: float) -> None:
        """Bytes arrived: did they complete something (an event), or start the clock?

        The sans-I/O protocol tells what bytes *completed* (its events), not what they started:
        bytes that give no event belong to a message or control frame still under way.
        """
        if completed:
            self.unfinished_since = None
        elif self.unfinished_since is None:
            self.unfinished_since = now

    def ping_sent(self, pong_arrived: Callable[[], bool], now: float) -> None:
        """The keepalive ping went out; ``pong_arrived()`` tells when its pong is back."""
        if self.ping_timeout is not None:
            self.keepalive = (pong_arrived, now + self.ping_timeout)
        self.next_ping = now + (self.ping_interval or 0)

    def due(self, state: State, now: float) -> Due:
        """What to do at ``now``, the most urgent first."""
        if self.close_deadline is not None and now >= self.close_deadline:
            return Due(Action.ABORT)
        if state is not State.OPEN:
            return Due(Action.NOTHING)
        if self.keepalive is not None and self.keepalive[0]():
            self.keepalive = None
        if self.keepalive is not None and now >= self.keepalive[1]:
            return Due(Action.FAIL, 1011, "keepalive ping timeout")
        if (
            self.message_timeout is not None
            and self.unfinished_since is not None
            and now >= self.unfinished_since + self.message_timeout
        ):
            return Due(Action.FAIL, 1008, f"no complete message within {self.message_timeout:g} s")
        if self.next_ping is not None and self.keepalive is None and now >= self.next_ping:
            return Due(Action.PING)
        return Due(Action.NOTHING)

    def next_deadline(self, state: State) -> float | None:
        """The earliest time at which :meth:`due` may answer something new (None: never)."""
        deadlines = []
        if self.close_deadline is not None:
            deadlines.append(self.close_deadline)
        if state is State.OPEN:
            if self.next_ping is not None and self.keepalive is None:
                deadlines.append(self.next_ping)
            if self.keepalive is not None:
                deadlines.append(self.keepalive[1])
            if self.message_timeout is not None and self.unfinished_since is not None:
                # Once closing, close_timeout bounds the wait instead.
                deadlines.append(self.unfinished_since + self.message_timeout)
        return min(deadlines, default=None)


def failure_may_go(inbox: int, receivers_waiting: int, now: float, deadline: float) -> bool:
    """Is it time to send the failure held back after some messages (``defer_failure``)?

    When the application took every message (``inbox == 0``) and waits for more (an echo
    handler has sent its echoes by then), or at ``deadline`` (:data:`FAILURE_GRACE` after the
    bad frame) at the latest.
    """
    return (inbox == 0 and receivers_waiting > 0) or now >= deadline


class PingTracker(Generic[_W]):
    """Pings waiting for their pong, oldest first: payload -> a waiter (an event, a future)."""

    def __init__(self) -> None:
        self._pings: OrderedDict[bytes, _W] = OrderedDict()

    def __contains__(self, payload: object) -> bool:
        return payload in self._pings

    def add(self, payload: bytes, waiter: _W) -> None:
        self._pings[payload] = waiter

    def pong(self, payload: bytes) -> list[_W]:
        """A pong arrived: the waiters it answers (its ping and every earlier one, §5.5.3);
        none for an unsolicited pong."""
        answered: list[_W] = []
        if payload in self._pings:
            while self._pings:
                data, waiter = self._pings.popitem(last=False)
                answered.append(waiter)
                if data == payload:
                    break
        return answered

    def clear(self) -> list[_W]:
        """The connection is over: every waiter still pending (the I/O layer wakes them)."""
        waiters = list(self._pings.values())
        self._pings.clear()
        return waiters
