"""wslib.timing: the clocks of a connection, with an injected clock (no sleeping)."""

from __future__ import annotations

from wslib.protocol import Connection, Side, State
from wslib.timing import Action, Deadlines, PingTracker, failure_may_go


def deadlines(**options: float | None) -> Deadlines:
    settings: dict[str, float | None] = {
        "ping_interval": 20.0,
        "ping_timeout": 20.0,
        "close_timeout": 10.0,
        "message_timeout": None,
    }
    settings.update(options)
    return Deadlines(
        0.0,
        ping_interval=settings["ping_interval"],
        ping_timeout=settings["ping_timeout"],
        close_timeout=settings["close_timeout"],  # type: ignore[arg-type]
        message_timeout=settings["message_timeout"],
    )


def test_keepalive_pings_then_fails_with_1011_without_a_pong() -> None:
    clock = deadlines()
    assert clock.due(State.OPEN, 19.9).action is Action.NOTHING
    assert clock.next_deadline(State.OPEN) == 20.0
    assert clock.due(State.OPEN, 20.0).action is Action.PING
    clock.ping_sent(lambda: False, 20.0)
    assert clock.next_deadline(State.OPEN) == 40.0  # the pong's deadline, no second ping
    assert clock.due(State.OPEN, 39.0).action is Action.NOTHING
    due = clock.due(State.OPEN, 40.0)
    assert (due.action, due.code, due.reason) == (Action.FAIL, 1011, "keepalive ping timeout")


def test_a_pong_in_time_clears_the_keepalive() -> None:
    clock = deadlines()
    answered = [False]
    clock.ping_sent(lambda: answered[0], 20.0)
    answered[0] = True
    assert clock.due(State.OPEN, 39.0).action is Action.NOTHING
    assert clock.keepalive is None
    assert clock.due(State.OPEN, 40.0).action is Action.PING  # the next one, 20 s later


def test_message_timeout_fails_with_1008_and_progress_resets_it() -> None:
    clock = deadlines(ping_interval=None, message_timeout=5.0)
    clock.received(False, 1.0)  # bytes that complete nothing: a message under way
    clock.received(False, 3.0)  # more of it: the clock still runs from 1.0
    assert clock.next_deadline(State.OPEN) == 6.0
    assert clock.due(State.OPEN, 6.0).code == 1008
    clock.received(True, 6.5)  # it completed: no deadline any more
    assert clock.next_deadline(State.OPEN) is None


def test_closing_waits_close_timeout_but_a_failure_ends_at_once() -> None:
    protocol = Connection(Side.SERVER)
    clock = deadlines(ping_interval=None)
    clock.sent(protocol, 1.0)
    assert clock.next_deadline(State.OPEN) is None  # open: nothing to wait for
    protocol.send_close(1000)
    clock.sent(protocol, 2.0)
    assert clock.next_deadline(protocol.state) == 12.0  # RFC 6455 §7.1.1: not forever
    assert clock.due(protocol.state, 11.9).action is Action.NOTHING
    assert clock.due(protocol.state, 12.0).action is Action.ABORT

    failing = Connection(Side.SERVER)
    failing.receive_data(b"\x81\x05hello")  # unmasked from a client: §5.1, fail at once
    other = deadlines(ping_interval=None)
    other.sent(failing, 3.0)
    assert failing.failure is not None
    assert other.due(failing.state, 3.0).action is Action.ABORT  # §7.1.7: no waiting


def test_failure_waits_for_the_application_within_the_grace() -> None:
    assert not failure_may_go(inbox=2, receivers_waiting=1, now=0.0, deadline=1.0)
    assert not failure_may_go(inbox=0, receivers_waiting=0, now=0.0, deadline=1.0)
    assert failure_may_go(inbox=0, receivers_waiting=1, now=0.0, deadline=1.0)
    assert failure_may_go(inbox=5, receivers_waiting=0, now=1.0, deadline=1.0)


def test_a_pong_answers_its_ping_and_every_earlier_one() -> None:
    pings: PingTracker[str] = PingTracker()
    for payload in (b"1", b"2", b"3"):
        pings.add(payload, payload.decode())
    assert pings.pong(b"unsolicited") == []
    assert pings.pong(b"2") == ["1", "2"]  # RFC 6455 §5.5.3
    assert b"3" in pings and b"1" not in pings
    assert pings.clear() == ["3"]
