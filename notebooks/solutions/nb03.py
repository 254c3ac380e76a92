"""Reference solutions to notebook 03's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every function in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from wslib import Close, Connection, Frame, MessageAssembler, Opcode, ProtocolError, Side, State
from wslib.streams import StreamReader

# --- 03.next-state -------------------------------------------------------------------------------


def next_state(state: State, action: str) -> State | None:
    if action == "receive_eof":
        return State.CLOSED  # TCP ended: closed, with or without a closing handshake
    if action.startswith("send_"):
        if state is not State.OPEN:
            return None  # no data and no second close frame after a close frame (§5.5.1)
        return State.LOCAL_CLOSING if action == "send_close" else State.OPEN
    if state is State.OPEN:
        if action == "receive_close":
            return State.REMOTE_CLOSING  # the peer closed first; we answer at once
        if action == "receive_bad_frame":
            return State.LOCAL_CLOSING  # we fail the connection: our close frame goes first
        return State.OPEN
    return state  # closing or closed: only the end of TCP changes the state


def next_state_closes_on_close_frame(state: State, action: str) -> State | None:
    """Takes 'both close frames exchanged' for CLOSED, without waiting for the end of TCP."""
    if state is State.LOCAL_CLOSING and action == "receive_close":
        return State.CLOSED
    return next_state(state, action)


def next_state_error_closes_at_once(state: State, action: str) -> State | None:
    """Forgets that failing the connection sends a close frame first (§7.1.7)."""
    if state is State.OPEN and action == "receive_bad_frame":
        return State.CLOSED
    return next_state(state, action)


def next_state_sends_while_closing(state: State, action: str) -> State | None:
    """Lets the application go on sending messages while the closing handshake runs."""
    if action == "send_text" and state in (State.LOCAL_CLOSING, State.REMOTE_CLOSING):
        return state
    return next_state(state, action)


# --- 03.close-answer -----------------------------------------------------------------------------


def close_answer(payload: bytes) -> bytes:
    try:
        Close.parse(payload)  # 1002 for a bad length or code, 1007 for a reason that is not UTF-8
    except ProtocolError as error:
        return Close(error.close_code, "").serialize()  # fail the connection (§7.1.7)
    return payload  # echo: the same code and reason; nothing when the client sent nothing


def close_answer_always_1000(payload: bytes) -> bytes:
    return struct.pack("!H", 1000)


def close_answer_echoes_everything(payload: bytes) -> bytes:
    """Echoes invalid payloads too, instead of failing the connection."""
    return payload


def close_answer_1005_for_empty(payload: bytes) -> bytes:
    """Puts 1005 on the wire, a code that only reports 'there was none'."""
    return close_answer(payload) or struct.pack("!H", 1005)


def close_answer_bad_utf8_is_1002(payload: bytes) -> bytes:
    """Treats a reason that is not UTF-8 as a protocol error (1002) instead of 1007."""
    answer = close_answer(payload)
    return struct.pack("!H", 1002) if answer == struct.pack("!H", 1007) else answer


# --- 03.spot-the-event ---------------------------------------------------------------------------


def events_for(raw: bytes) -> list[str]:
    """wslib decides; the notebook asks to reason it out first, then to confirm it this way."""
    conn = Connection(Side.SERVER)
    conn.receive_data(raw)
    return [type(event).__name__ for event in conn.events_received()]


def _frames(raw: bytes) -> list[Frame]:
    """Every frame in raw, until the first one that breaks a rule or is cut short."""
    reader = StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    frames = []
    try:
        while reader.buffer:
            parser = Frame.parse(reader.read_exact, mask=True)
            try:
                next(parser)
            except StopIteration as done:
                frames.append(done.value)
    except (ProtocolError, EOFError):
        pass
    return frames


_NAMES = {
    Opcode.CONT: "TextMessage",
    Opcode.TEXT: "TextMessage",
    Opcode.BINARY: "BinaryMessage",
    Opcode.PING: "Ping",
    Opcode.PONG: "Pong",
    Opcode.CLOSE: "CloseReceived",
}


def events_one_per_frame(raw: bytes) -> list[str]:
    """One event per frame: forgets that fragments make one message."""
    return [_NAMES[frame.opcode] for frame in _frames(raw)]


def events_after_close_too(raw: bytes) -> list[str]:
    """Assembles messages right, but keeps reading after the close frame."""
    assembler, names = MessageAssembler(), []
    for frame in _frames(raw):
        if frame.opcode in (Opcode.CONT, Opcode.TEXT, Opcode.BINARY):
            try:
                message = assembler.feed(frame)
            except ProtocolError:
                break
            if message is not None:
                names.append("TextMessage" if isinstance(message, str) else "BinaryMessage")
        else:
            names.append(_NAMES[frame.opcode])
    return names


def events_closed_on_failure(raw: bytes) -> list[str]:
    """Expects a Closed event as soon as the connection fails, before TCP has ended."""
    conn = Connection(Side.SERVER)
    conn.receive_data(raw)
    names = [type(event).__name__ for event in conn.events_received()]
    return [*names, "Closed"] if conn.failure is not None else names


SOLUTIONS: dict[str, Any] = {
    "03.next-state": next_state,
    "03.close-answer": close_answer,
    "03.spot-the-event": events_for,
}

WRONG_ANSWERS: dict[str, list[Callable[..., Any]]] = {
    "03.next-state": [
        next_state_closes_on_close_frame,
        next_state_error_closes_at_once,
        next_state_sends_while_closing,
    ],
    "03.close-answer": [
        close_answer_always_1000,
        close_answer_echoes_everything,
        close_answer_1005_for_empty,
        close_answer_bad_utf8_is_1002,
    ],
    "03.spot-the-event": [
        events_one_per_frame,
        events_after_close_too,
        events_closed_on_failure,
    ],
}
