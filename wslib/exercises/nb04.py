"""Checks for the exercises of notebook 04 (a threaded server, done right).

- ``04.decode-naive-bug``: predict what the article's decoder returns for two frames that
  arrive in one ``recv()`` (RFC 6455 §5.2: frames on a byte stream).
- ``04.handler``: a handler for :func:`wslib.serve` that answers text in upper case and binary
  unchanged (RFC 6455 §5.6: text and binary messages).
- ``04.push-progress``: push the progress of a job to a client as each step finishes.

The last two run the learner's code in a real :func:`wslib.serve` server, talked to by a real
:func:`wslib.connect` client, on 127.0.0.1; every wait is bounded and both are closed (every
thread joined) before the verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..exceptions import ConnectionClosed
from ..frames import Frame, Opcode
from . import Wrong, exercise

__all__ = ["FIRST_KEY", "PUSH_DURATIONS", "SECOND_KEY", "TWO_FRAMES"]

# --- 04.decode-naive-bug --------------------------------------------------------------------------

#: The masking keys of the two frames (fixed, so that everyone gets the same bytes).
FIRST_KEY = bytes.fromhex("37fa213d")  # RFC 6455 §5.7's key
SECOND_KEY = bytes.fromhex("a1b2c3d4")

#: What one recv() returned: a client's text frame "123" then its text frame "456".
TWO_FRAMES: bytes = Frame(Opcode.TEXT, b"123").serialize(mask=True, mask_key=FIRST_KEY) + Frame(
    Opcode.TEXT, b"456"
).serialize(mask=True, mask_key=SECOND_KEY)


def _article_decode(raw: bytes) -> bytes:
    """The article's decoder: find the key from the 7-bit length, unmask all that follows."""
    length = raw[1] & 0x7F
    start = {126: 4, 127: 10}.get(length, 2)
    mask, payload = raw[start : start + 4], raw[start + 4 :]
    return bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@exercise(
    "04.decode-naive-bug",
    "Predict the bytes that the article's decoder (article_decode) returns when one recv() "
    "returned TWO_FRAMES, the frames of '123' and '456' back to back; work it out before you run "
    "the decoder.",
)
def check_decode_naive_bug(answer: Any) -> None:
    if callable(answer):  # a function that returns the prediction is fine too
        answer = answer()
    if isinstance(answer, str):
        raise Wrong("article_decode returns bytes: write your prediction as b'...'.")
    if not isinstance(answer, (bytes, bytearray)):
        raise Wrong(f"the prediction should be bytes, not {type(answer).__name__}.")
    answer = bytes(answer)
    expected = _article_decode(TWO_FRAMES)
    if answer == expected:
        return
    if answer == b"123":
        raise Wrong(
            "b'123' is what a correct parser finds in the first frame. The article's decoder "
            "reads the length only to find the masking key, then unmasks *everything* after it."
        )
    if answer == b"123456":
        raise Wrong(
            "that is what the client sent, but the decoder sees one frame: the second frame's "
            "header and masking key are not recognised, they are just more 'payload'."
        )
    if len(answer) != len(expected):
        raise Wrong(
            f"count the bytes: {len(TWO_FRAMES)} arrive; the first frame's header takes 2 and its "
            f"key 4, and the decoder unmasks all the rest, so the result has {len(expected)} "
            f"bytes (yours has {len(answer)})."
        )
    if answer[:3] != b"123":
        raise Wrong("the first three bytes are the first frame's payload, correctly unmasked.")
    where = next(i for i in range(len(answer)) if answer[i] != expected[i])
    raise Wrong(
        f"b'123' and the length are right, byte {where} is not: it is byte {where + 6} of "
        f"TWO_FRAMES XOR byte {where % 4} of the *first* frame's key ({FIRST_KEY.hex(' ')}), "
        "the only key this decoder knows. The second frame's bytes are never unmasked with "
        "their own key."
    )


# --- helpers: the learner's code in a real server -------------------------------------------------


def _guarded(
    answer: Callable[..., Any], errors: list[BaseException], *args: Any
) -> Callable[[Any], None]:
    """A handler that runs ``answer(conn, *args)`` and records what it raises (no traceback)."""

    def handler(conn: Any) -> None:
        try:
            answer(conn, *args)
        except ConnectionClosed:
            pass  # the client went away: not the learner's fault
        except BaseException as exc:  # reported by the checker, in the notebook's thread
            errors.append(exc)

    return handler


_SERVER_OPTIONS: dict[str, Any] = {
    "ping_interval": None,
    "open_timeout": 3.0,
    "close_timeout": 2.0,
}


def _preview(message: Any) -> str:
    text = repr(message)
    return text if len(text) <= 40 else text[:37] + "..."


# --- 04.handler -----------------------------------------------------------------------------------

_HANDLER_CASES: list[str | bytes] = [
    "hello",
    b"\x00binary\xff",
    "Grüße, WebSocket!",
    b"abc",
    "",
    "still there?",
]


def _expected_reply(message: str | bytes) -> str | bytes:
    return message.upper() if isinstance(message, str) else message


@exercise(
    "04.handler",
    "Write handler(conn) for wslib.serve: each text message comes back in upper case, each "
    "binary message comes back unchanged, for as long as the client sends.",
)
def check_handler(answer: Any) -> None:
    from ..sync.client import connect
    from ..sync.server import serve

    if not callable(answer):
        raise Wrong("the answer should be a function handler(conn).")
    errors: list[BaseException] = []
    replies: list[Any] = []
    with serve(_guarded(answer, errors), **_SERVER_OPTIONS) as server:
        with connect(f"ws://127.0.0.1:{server.port}/", timeout=3, close_timeout=2) as conn:
            for message in _HANDLER_CASES:
                try:
                    conn.send(message)
                    replies.append(conn.recv(timeout=2))
                except TimeoutError:
                    replies.append(TimeoutError())
                    break
                except ConnectionClosed as closed:
                    replies.append(closed)
                    break
    # The server is closed: the handler's thread has finished.
    if errors:
        raise errors[0]
    for message, reply in zip(_HANDLER_CASES, replies, strict=False):
        expected = _expected_reply(message)
        if reply == expected and type(reply) is type(expected):
            continue
        sent = f"after {_preview(message)} ({'text' if isinstance(message, str) else 'binary'})"
        if isinstance(reply, TimeoutError):
            raise Wrong(f"{sent}, nothing came back within 2 s: send one reply per message.")
        if isinstance(reply, ConnectionClosed):
            raise Wrong(
                f"{sent}, the connection closed: the handler returned. Loop over the "
                "connection (for message in conn: ...) to answer every message."
            )
        if isinstance(message, bytes) and isinstance(reply, str):
            raise Wrong(
                f"{sent}, a text message came back: conn.send(str) sends text, "
                "conn.send(bytes) binary. Send binary messages back as bytes."
            )
        if isinstance(message, str) and isinstance(reply, bytes):
            raise Wrong(f"{sent}, a binary message came back: send text as str.")
        if isinstance(message, bytes) and reply == message.upper():
            raise Wrong(f"{sent}, {_preview(reply)} came back: binary goes back unchanged.")
        if reply == message:
            raise Wrong(f"{sent}, the same text came back: text should come back in upper case.")
        raise Wrong(f"{sent}, {_preview(reply)} came back instead of {_preview(expected)}.")


# --- 04.push-progress -----------------------------------------------------------------------------

#: The job's step durations, in seconds (0.7 s in all).
PUSH_DURATIONS = [0.15, 0.25, 0.1, 0.2]
_EARLY_S = 0.05  # a message may not arrive more than this before its step is over
_LATE_S = 0.25  # ... nor more than this after


@exercise(
    "04.push-progress",
    "Write push_progress(conn, durations): for each step, time.sleep(duration), then send the "
    "text f'{percent}%' where percent = 100 * steps_done // len(durations); after the last "
    "step send 'done'. Each message must go out the moment its step is over.",
)
def check_push_progress(answer: Any) -> None:
    from ..sync.client import connect
    from ..sync.server import serve

    if not callable(answer):
        raise Wrong("the answer should be a function push_progress(conn, durations).")
    n = len(PUSH_DURATIONS)
    expected = [f"{100 * k // n}%" for k in range(1, n + 1)] + ["done"]
    errors: list[BaseException] = []
    arrivals: list[tuple[Any, float]] = []

    def job(conn: Any, durations: list[float]) -> None:
        conn.recv(timeout=5)  # "start": the client's clock starts when it sends it
        answer(conn, durations)

    with serve(_guarded(job, errors, list(PUSH_DURATIONS)), **_SERVER_OPTIONS) as server:
        with connect(f"ws://127.0.0.1:{server.port}/", timeout=3, close_timeout=2) as conn:
            start = time.monotonic()
            conn.send("start")
            deadline = start + sum(PUSH_DURATIONS) + 3
            while len(arrivals) < len(expected) + 2:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    message = conn.recv(timeout=left)
                except (TimeoutError, ConnectionClosed):
                    break
                arrivals.append((message, time.monotonic() - start))
                if message == "done":
                    break
    if errors:
        raise errors[0]

    messages = [message for message, _ in arrivals]
    if messages != expected:
        if any(isinstance(m, bytes) for m in messages):
            raise Wrong("send the progress as text (str), not bytes.")
        if messages[:n] == expected[:n]:
            raise Wrong(f"the {n} percentages are right; then send 'done' (after: {messages[n:]}).")
        raise Wrong(
            f"with durations {PUSH_DURATIONS} the client should receive {expected}, it received "
            f"{messages}. After step k of n, the progress is 100 * k // n percent."
        )
    done_at = 0.0
    for k, ((message, arrived), duration) in enumerate(zip(arrivals, PUSH_DURATIONS, strict=False)):
        done_at += duration
        if arrived < done_at - _EARLY_S:
            raise Wrong(
                f"{message} arrived {arrived:.2f} s after the start, but step {k + 1} only ends "
                f"at {done_at:.2f} s: send the progress after the step's work (the sleep), not "
                "before."
            )
        if arrived > done_at + _LATE_S:
            raise Wrong(
                f"{message} arrived {arrived:.2f} s after the start, though step {k + 1} ended at "
                f"{done_at:.2f} s: push each message the moment its step ends, don't keep them "
                "for later."
            )
