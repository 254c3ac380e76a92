"""Reference solutions to notebook 10's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

from typing import Any

from wslib.frames import Frame, Opcode

# --- 10.ping-pong ---------------------------------------------------------------------------------
# A ping is answered with a pong carrying the same payload (RFC 6455 §5.5.2, §5.5.3); a pong is
# answered with nothing; every data frame is still echoed as it came.


def answer(frame: Frame) -> list[Frame]:
    if frame.opcode is Opcode.PING:
        return [Frame(Opcode.PONG, frame.payload)]
    if frame.opcode is Opcode.PONG:
        return []
    return [frame]


def pong_without_payload(frame: Frame) -> list[Frame]:
    """A pong, but an empty one: "the pong is just a sign of life"."""
    if frame.opcode is Opcode.PING:
        return [Frame(Opcode.PONG, b"")]
    if frame.opcode is Opcode.PONG:
        return []
    return [frame]


def pong_to_everything_control(frame: Frame) -> list[Frame]:
    """Pings *and* pongs get a pong: a pong answered is a conversation nobody started."""
    if frame.opcode in (Opcode.PING, Opcode.PONG):
        return [Frame(Opcode.PONG, frame.payload)]
    return [frame]


def pong_and_echo(frame: Frame) -> list[Frame]:
    """The pong, and the ping's payload echoed as a text message too."""
    if frame.opcode is Opcode.PING:
        return [Frame(Opcode.PONG, frame.payload), Frame(Opcode.TEXT, frame.payload)]
    if frame.opcode is Opcode.PONG:
        return []
    return [frame]


def ping_back(frame: Frame) -> list[Frame]:
    """The naive echo: every frame back as it came, a ping as a ping."""
    return [frame]


SOLUTIONS: dict[str, Any] = {
    "10.ping-pong": answer,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "10.ping-pong": [pong_without_payload, pong_to_everything_control, pong_and_echo, ping_back],
}
