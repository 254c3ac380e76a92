"""Checks for the exercises of notebook 03, the connection without I/O (RFC 6455 §5.5, §7).

- ``03.next-state``: the state a server-side connection reaches after one action (§7.1).
- ``03.close-answer``: the close payload a server answers a client's close frame with (§5.5.1).
- ``03.spot-the-event``: the events a server-side connection reports for some raw bytes (§5-§7).

Every expected answer is computed by driving a real :class:`~wslib.protocol.Connection`, so the
checks follow ``wslib.protocol`` rather than a table copied next to it.
"""

from __future__ import annotations

import random
import struct
from typing import Any

from ..exceptions import InvalidState, ProtocolError
from ..frames import Close, Frame, Opcode
from ..protocol import Connection, Side, State
from ..streams import StreamReader
from . import Wrong, exercise

__all__ = ["ACTIONS", "CLOSE_PAYLOADS", "SPOT_THE_EVENT", "STATES"]

# RFC 6455 §5.7 masks its examples with this key; the checks use it for every client frame.
_KEY = bytes.fromhex("37fa213d")


def _client(opcode: Opcode, payload: bytes = b"", fin: bool = True) -> bytes:
    """A frame as a client sends it: masked (RFC 6455 §5.1). Not checked: may break rules."""
    return Frame(opcode, payload, fin).serialize(mask=True, mask_key=_KEY, check=False)


def _hex(data: bytes, limit: int = 24) -> str:
    shown = data[:limit].hex(" ")
    return shown + (f" … ({len(data)} bytes)" if len(data) > limit else "")


def _server_frames(data: bytes) -> list[Frame]:
    """Decode the unmasked frames a server sent."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
    return frames


# --- 03.next-state -------------------------------------------------------------------------------

#: The states a Connection can be in (CONNECTING belongs to the handshake, before one exists).
STATES = [State.OPEN, State.LOCAL_CLOSING, State.REMOTE_CLOSING, State.CLOSED]

#: What can happen to a server-side connection, and what each name means.
ACTIONS = {
    "send_text": "the application calls send_text('hi')",
    "send_close": "the application calls send_close(1000)",
    "receive_text": "a text frame from the client arrives",
    "receive_ping": "a ping from the client arrives",
    "receive_close": "a close frame from the client arrives",
    "receive_bad_frame": "a frame that breaks a rule arrives (here: an unmasked one)",
    "receive_eof": "the TCP connection ends (recv() returned b''): receive_eof()",
}


def _server_in(state: State) -> Connection:
    """A server-side connection brought into ``state`` the ordinary way."""
    conn = Connection(Side.SERVER)
    if state in (State.LOCAL_CLOSING, State.CLOSED):
        conn.send_close(1000)
    if state is State.REMOTE_CLOSING:
        conn.receive_data(_client(Opcode.CLOSE, struct.pack("!H", 1000)))
    if state is State.CLOSED:
        conn.receive_data(_client(Opcode.CLOSE, struct.pack("!H", 1000)))
        conn.receive_eof()
    assert conn.state is state
    return conn


def _after(state: State, action: str) -> State | None:
    """What wslib does: the state after ``action``, or None if the connection refuses it."""
    conn = _server_in(state)
    try:
        if action == "send_text":
            conn.send_text("hi")
        elif action == "send_close":
            conn.send_close(1000)
        elif action == "receive_text":
            conn.receive_data(_client(Opcode.TEXT, b"hi"))
        elif action == "receive_ping":
            conn.receive_data(_client(Opcode.PING, b"?"))
        elif action == "receive_close":
            conn.receive_data(_client(Opcode.CLOSE, struct.pack("!H", 1000)))
        elif action == "receive_bad_frame":
            conn.receive_data(Frame(Opcode.TEXT, b"hi").serialize(mask=False))
        else:
            conn.receive_eof()
    except InvalidState:
        return None
    return conn.state


def _name(state: object) -> str:
    return f"State.{state.name}" if isinstance(state, State) else repr(state)


def _why(state: State, action: str, expected: State | None, got: State | None) -> str:
    """The learner's mistake and the rule to look at, for the hint: never the answer itself."""
    if expected is None:
        if state is State.CLOSED:
            return "that lets it happen, but the TCP connection has ended: can anything go out?"
        if action == "send_close":
            return (
                "that lets it happen, but a close frame already went out (ours first, or our "
                "answer to the peer's): how many close frames does one side send (§5.5.1)?"
            )
        return (
            "that lets it happen, but a close frame already went out: what may an endpoint "
            "still send after its close frame (§5.5.1)?"
        )
    if got is None:
        return "yours refuses it, but the connection accepts this action in this state."
    if action == "receive_eof":
        return "what does the end of TCP mean for a connection, closing handshake or not (§7.1.4)?"
    if state is State.CLOSED:
        return "can anything still change a connection whose TCP connection has ended?"
    if state is State.REMOTE_CLOSING:
        return "after the peer's close frame, what arrives is discarded (§1.4): what can it change?"
    if state is State.LOCAL_CLOSING:
        return (
            "the states follow TCP, not only the close frames: CLOSED means the TCP connection "
            "ended (§7.1.4). What has happened so far?"
        )
    if action == "receive_bad_frame":
        return (
            "failing the connection starts by sending a close frame (§7.1.7): which side sent "
            "the first close frame, then?"
        )
    if action in ("receive_close", "send_close"):
        return "which side sent the first close frame? The two closing states tell them apart."
    return "messages and pings flow while the connection is open: do they change its state?"


@exercise(
    "03.next-state",
    "Write next_state(state, action) -> State | None: the state of a server-side Connection "
    "after one action from ACTIONS, or None when the connection refuses it (InvalidState).",
)
def check_next_state(answer: Any) -> None:
    wrong = []
    for state in STATES:
        for action in ACTIONS:
            expected = _after(state, action)
            got = answer(state, action)
            if got is not None and not isinstance(got, State):
                raise Wrong(
                    f"next_state({_name(state)}, {action!r}) returned {got!r}: return a member "
                    "of State (such as State.OPEN), or None when the connection refuses."
                )
            if got is not expected:
                wrong.append((state, action, expected, got))
    if not wrong:
        return
    state, action, expected, got = wrong[0]
    total = len(STATES) * len(ACTIONS)
    raise Wrong(
        f"{len(wrong)} of {total} answers differ. The first: next_state({_name(state)}, "
        f"{action!r}) is {_name(got)} in yours: {_why(state, action, expected, got)}"
    )


# --- 03.close-answer -----------------------------------------------------------------------------

#: Close payloads a client sends first, in the close frame that starts the closing handshake.
CLOSE_PAYLOADS: list[bytes] = [
    b"",
    struct.pack("!H", 1000),
    struct.pack("!H", 1000) + b"bye",
    struct.pack("!H", 1001) + "page closed, ¡adiós!".encode(),
    struct.pack("!H", 1008) + b"policy",
    struct.pack("!H", 1011),
    struct.pack("!H", 3000) + b"registered",
    struct.pack("!H", 4999) + b"private",
    b"\x03",
    struct.pack("!H", 1005),
    struct.pack("!H", 1006) + b"lost",
    struct.pack("!H", 999),
    struct.pack("!H", 2000),
    struct.pack("!H", 1000) + b"\xff\xfe",
]


def _wslib_close_answer(payload: bytes) -> bytes:
    """The payload of the close frame a wslib server sends after the client's close frame."""
    conn = Connection(Side.SERVER)
    conn.receive_data(_client(Opcode.CLOSE, payload))
    data = b"".join(conn.data_to_send())
    (frame,) = [f for f in _server_frames(data) if f.opcode is Opcode.CLOSE]
    return frame.payload


def _describe_close(payload: bytes) -> str:
    if not payload:
        return "an empty payload"
    try:
        return f"code {Close.parse(payload)}"
    except ProtocolError as error:
        return f"{_hex(payload)}, which is invalid ({error})"


@exercise(
    "03.close-answer",
    "Write close_answer(payload) -> bytes: the payload of the close frame a server sends back "
    "when the client's close frame, the first of the closing handshake, carries `payload`.",
)
def check_close_answer(answer: Any) -> None:
    for payload in CLOSE_PAYLOADS:
        expected = _wslib_close_answer(payload)
        got = answer(payload)
        call = f"close_answer({payload!r})"
        if not isinstance(got, (bytes, bytearray)):
            raise Wrong(f"{call} should return bytes, not {type(got).__name__}.")
        got = bytes(got)
        if not expected:
            if got:
                raise Wrong(
                    f"{call} is {_describe_close(got)}, but the client's close frame had no "
                    "code: 1005 only reports 'there was none' and MUST NOT be sent (§7.4.1), "
                    "and any other code would claim one the client never gave."
                )
            continue
        if not got:
            raise Wrong(
                f"{call} is empty, but the answer needs a code here: the client sent "
                f"{_describe_close(payload)}."
            )
        try:
            mine = Close.parse(got)
        except ProtocolError as error:
            raise Wrong(f"{call} gives {_hex(got)}, not a valid close payload: {error}") from None
        code = Close.parse(expected).code
        if mine.code == code:
            continue
        try:
            Close.parse(payload)
        except ProtocolError as error:
            raise Wrong(
                f"{call} is code {int(mine.code)}, but the client's payload breaks a rule "
                f"({error}): the server fails the connection instead of echoing. Which close "
                "code says what is wrong here (§7.4.1, section 5 of the notebook)?"
            ) from None
        raise Wrong(
            f"{call} is code {int(mine.code)}, but the client's code is valid, and the endpoint "
            "'typically echos the status code it received' (§5.5.1)."
        )


# --- 03.spot-the-event ---------------------------------------------------------------------------


def _spot_cases() -> list[tuple[bytes, str]]:
    rng = random.Random(3)

    def frame(opcode: Opcode, payload: bytes = b"", fin: bool = True) -> bytes:
        key = rng.randbytes(4)
        return Frame(opcode, payload, fin).serialize(mask=True, mask_key=key, check=False)

    hello = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")  # RFC 6455 §5.7
    bye = struct.pack("!H", 1000) + b"bye"
    # (raw bytes, what to look at: the rule, never the events themselves)
    return [
        (hello, "RFC 6455 §5.7's masked 'Hello': read its FIN bit and its opcode"),
        (
            hello[:6],
            "only the header and the masking key of a frame have arrived: can anything be "
            "reported before its payload is in?",
        ),
        (
            frame(Opcode.TEXT, b"123") + frame(Opcode.TEXT, b"456"),
            "one chunk may hold several whole frames: the connection reports everything "
            "complete in what it received",
        ),
        (frame(Opcode.BINARY, bytes(range(8))), "look at the opcode: 0x2"),
        (
            frame(Opcode.PING, b"still there?"),
            "the connection answers a ping by itself (§5.5.2), and still tells the application",
        ),
        (
            frame(Opcode.PONG, b"heartbeat"),
            "nobody asked for this pong (§5.5.3): is it reported, answered, or ignored?",
        ),
        (
            frame(Opcode.TEXT, b"Hel", fin=False),
            "FIN is clear: messages are reported whole (§5.4)",
        ),
        (
            frame(Opcode.TEXT, b"Hel", fin=False)
            + frame(Opcode.PING, b"?")
            + frame(Opcode.CONT, b"lo"),
            "a control frame between two fragments is handled at once (§5.4); a message "
            "only when its last fragment arrives",
        ),
        (
            frame(Opcode.CLOSE, bye),
            "a close frame from the client: which event tells the application?",
        ),
        (
            frame(Opcode.CLOSE, bye) + frame(Opcode.TEXT, b"too late"),
            "what arrives after the peer's close frame is discarded (§1.4)",
        ),
        (
            Frame(Opcode.TEXT, b"Hello").serialize(mask=False),
            "a client frame without a mask fails the connection (§5.1, §7.1.7); the application "
            "hears of it only when TCP ends, and this chunk has no end of stream",
        ),
        (
            frame(Opcode.PING, b"1") + frame(Opcode.TEXT, b"\xc3\x28") + frame(Opcode.PING, b"2"),
            "the text is not valid UTF-8 (§8.1): what happens to the frame before the failure, "
            "and to the one after it?",
        ),
    ]


_SPOT = _spot_cases()

#: The raw bytes of exercise 03.spot-the-event, each fed in one piece to a fresh server-side
#: Connection (messages up to 1 MiB), without an end of stream.
SPOT_THE_EVENT: list[bytes] = [raw for raw, _ in _SPOT]


def _event_names(raw: bytes) -> list[str]:
    conn = Connection(Side.SERVER)
    conn.receive_data(raw)
    return [type(event).__name__ for event in conn.events_received()]


def _as_names(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise Wrong(f"return a list of event names, not {type(value).__name__}.")
    names = []
    for item in value:
        if isinstance(item, type):
            names.append(item.__name__)
        elif isinstance(item, str):
            names.append(item)
        else:
            raise Wrong(f"each event should be a name such as 'TextMessage', not {item!r}.")
    return names


@exercise(
    "03.spot-the-event",
    "Write events_for(raw) -> list[str]: the names of the events ('TextMessage', 'Ping', ...) "
    "that a fresh server-side Connection reports after receive_data(raw).",
)
def check_spot_the_event(answer: Any) -> None:
    wrong = []
    for index, (raw, rule) in enumerate(_SPOT):
        expected = _event_names(raw)
        got = _as_names(answer(raw))
        if got != expected:
            wrong.append((index, raw, expected, got, rule))
    if wrong:
        index, raw, expected, got, rule = wrong[0]
        if sorted(got) == sorted(expected):
            mistake = "the right events in the wrong order: events come in the order of the frames"
        elif len(got) > len(expected):
            mistake = "yours reports more events than the connection does"
        elif len(got) < len(expected):
            mistake = "yours reports fewer events than the connection does"
        else:
            mistake = "as many events as the connection reports, but not the same ones"
        raise Wrong(
            f"{len(wrong)} of {len(_SPOT)} answers differ. The first is SPOT_THE_EVENT[{index}] "
            f"({_hex(raw)}): yours says {got}; {mistake}. Hint: {rule}."
        )
