"""Checks for the exercises of notebook 06 (replaying recorded captures).

- ``06.close-code``: find the close code and reason in ``close-clean.pcap`` by decoding the
  close frame's payload (RFC 6455 §5.5.1: a 2-byte code in network byte order, then UTF-8).
- ``06.overhead``: the framing overhead (header bytes, masking keys included) versus the
  payload bytes of ``echo-123-456.pcap`` (RFC 6455 §5.2: 2 bytes, +2 or +8 for an extended
  length, +4 for a masking key).
- ``06.ping-between``: the fragments that the ping sits between in ``fragmented-ping.pcap``
  (RFC 6455 §5.4: control frames MAY be injected in the middle of a fragmented message).

Every expected answer is computed from the shipped captures in ``data/pcaps/`` with
:mod:`wslib.lab.dissect` when the check runs, so that the checks still hold after the captures are
recorded again (``python -m wslib.lab.recordings``). The learner's function receives the
dissector's frames with the fields the exercise is about blanked out, so that it has to work
them out from the bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ..frames import Opcode
from ..lab.tools import PCAP_DIR
from . import Wrong, exercise

__all__ = ["CLOSE_FILES", "OVERHEAD_FILES", "PING_FILE", "websocket_frames"]

#: The captures each exercise is checked against (file names in ``data/pcaps/``).
CLOSE_FILES = ("close-clean.pcap", "close-abnormal.pcap")
OVERHEAD_FILES = ("echo-123-456.pcap", "big-message.pcap")
PING_FILE = "fragmented-ping.pcap"

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


def websocket_frames(name: str) -> list[Any]:
    """The frames of the first WebSocket conversation in ``data/pcaps/NAME``, in time order."""
    from ..lab.dissect import conversations

    path = PCAP_DIR / name
    found = [conv for conv in conversations(path) if conv.request is not None]
    if not found:
        raise LookupError(f"no WebSocket conversation in {path.name}")
    return list(found[0].frames)


def _call(answer: Any, frames: list[Any], what: str) -> Any:
    if not callable(answer):
        raise Wrong(f"the answer should be a function {what}(frames).")
    return answer(list(frames))


# --- 06.close-code --------------------------------------------------------------------------------


def _expected_close(frames: Sequence[Any]) -> tuple[int, str] | None:
    for frame in frames:
        if frame.opcode == Opcode.CLOSE:
            if frame.close_code is None:  # an empty close payload: no code on the wire
                return None
            return int(frame.close_code), str(frame.close_reason or "")
    return None


@exercise(
    "06.close-code",
    "Write find_close(frames) -> (code, reason): in the frames of one conversation, decode the "
    "payload of the FIRST close frame (a 2-byte big-endian code, then the reason in UTF-8); "
    "return None when there is no close frame. The check runs it on close-clean.pcap and "
    "close-abnormal.pcap, with the dissector's close_code and close_reason fields set to None.",
)
def check_close_code(answer: Any) -> None:
    for name in CLOSE_FILES:
        frames = websocket_frames(name)
        expected = _expected_close(frames)
        blanked = [dataclasses.replace(f, close_code=None, close_reason=None) for f in frames]
        got = _call(answer, blanked, "find_close")
        if expected is None:
            if got is not None:
                raise Wrong(
                    f"{name} has no close frame (the connection was reset), so find_close "
                    f"should return None, not {got!r}. An application reports code 1006 for "
                    "such a connection, a code that never appears on the wire (RFC 6455 §7.4.1)."
                )
            continue
        if got is None:
            raise Wrong(f"{name} has a close frame: look for the frame whose opcode is CLOSE (8).")
        if not isinstance(got, tuple) or len(got) != 2:
            raise Wrong(f"return a tuple (code, reason), not {got!r}.")
        code, reason = got
        exp_code, exp_reason = expected
        if isinstance(code, bytes) or not isinstance(code, int):
            raise Wrong(f"the code should be an int, like 1000, not {code!r}.")
        if code != exp_code:
            swapped = int.from_bytes(exp_code.to_bytes(2, "big"), "little")
            if code == swapped:
                raise Wrong(
                    f"{code} is the code read in little-endian order: the 2 bytes are in "
                    "network byte order, big-endian (int.from_bytes(payload[:2], 'big'))."
                )
            raise Wrong(f"in {name}, {code} is not the close code: read the first 2 payload bytes.")
        if isinstance(reason, bytes):
            raise Wrong("the reason should be a str: decode the bytes after the code as UTF-8.")
        if reason != exp_reason:
            if reason.endswith(exp_reason) and len(reason) == len(exp_reason) + 2:
                raise Wrong(
                    "the reason starts with two extra characters: those are the code's bytes. "
                    "The reason is the payload after the first 2 bytes."
                )
            raise Wrong(f"in {name}, {reason!r} is not the reason sent with code {code}.")


# --- 06.overhead ----------------------------------------------------------------------------------


@exercise(
    "06.overhead",
    "Write overhead(frames) -> (framing_bytes, payload_bytes): the bytes of all frame headers "
    "(masking keys included) and the payload bytes of all frames (control frames included). "
    "The check hides the dissector's header_length (it is 0): work out each header's size from "
    "the frame's length and mask bit. It runs on echo-123-456.pcap and big-message.pcap.",
)
def check_overhead(answer: Any) -> None:
    for name in OVERHEAD_FILES:
        frames = websocket_frames(name)
        framing = sum(f.header_length for f in frames)
        payload = sum(f.length for f in frames)
        blanked = [dataclasses.replace(f, header_length=0) for f in frames]
        got = _call(answer, blanked, "overhead")
        if not isinstance(got, tuple) or len(got) != 2:
            raise Wrong(f"return a tuple (framing_bytes, payload_bytes), not {got!r}.")
        got_framing, got_payload = got
        masked = sum(1 for f in frames if f.masked)
        extended = [f for f in frames if f.length >= 126]
        if got_payload != payload:
            if got_payload == sum(f.length for f in frames if f.opcode in _DATA):
                raise Wrong(
                    "that payload count leaves out the control frames (close, ping, pong): "
                    "their payload bytes count too."
                )
            close_headers = sum(f.header_length for f in frames if f.opcode == Opcode.CLOSE)
            if close_headers and got_payload == payload + close_headers:
                raise Wrong(
                    "the close frames' headers are counted as payload: a close frame has a "
                    "header like any other frame; only its code and reason are payload."
                )
            if got_payload == sum(len(f.payload) for f in frames) and got_payload != payload:
                raise Wrong(
                    "len(frame.payload) is not always the length on the wire: the dissector "
                    "keeps only the start of a huge payload. Use frame.length."
                )
            raise Wrong(
                f"{name} carries {payload} payload bytes in {len(frames)} frames, not "
                f"{got_payload}: add up every frame's length."
            )
        if got_framing == 0:
            raise Wrong(
                "0 bytes of framing: header_length is hidden by the check. Compute each "
                "header: 2 bytes, +2 or +8 for an extended length, +4 for a masking key."
            )
        if got_framing != framing:
            if got_framing == framing - 4 * masked:
                raise Wrong(
                    f"{name}: the {masked} masked frames (client to server) each carry a 4-byte "
                    "masking key in their header: count it."
                )
            if got_framing == framing + 4 * (len(frames) - masked):
                raise Wrong(
                    "only the client masks its frames: a server's frame has no masking key "
                    "(look at frame.masked)."
                )
            if extended and got_framing < framing:
                raise Wrong(
                    f"{name} has frames of 126 bytes or more: their length needs 2 more bytes "
                    "(126-65535) or 8 more (65536 and up) after the first two header bytes."
                )
            raise Wrong(
                f"{name}: {got_framing} is not the framing overhead of its {len(frames)} "
                "frames (2 bytes, +2/+8 extended length, +4 key when masked)."
            )


# --- 06.ping-between ------------------------------------------------------------------------------


def _expected_between(frames: Sequence[Any]) -> tuple[bytes, bytes]:
    index = next(i for i, f in enumerate(frames) if f.opcode == Opcode.PING)
    side = frames[index].direction
    same = [(i, f) for i, f in enumerate(frames) if f.direction == side and f.opcode in _DATA]
    before = [f for i, f in same if i < index][-1]
    after = next(f for i, f in same if i > index)
    return bytes(before.payload), bytes(after.payload)


def _moved_ping(frames: list[Any]) -> list[Any] | None:
    """The same frames with the ping (and its pong, right behind it) after another fragment."""
    index = next(i for i, f in enumerate(frames) if f.opcode == Opcode.PING)
    ping = frames[index]
    pongs = [f for f in frames if f.opcode == Opcode.PONG and f.direction != ping.direction]
    rest = [f for f in frames if f is not ping and (not pongs or f is not pongs[0])]
    fragments = [
        i
        for i, f in enumerate(rest)
        if f.direction == ping.direction and f.opcode in _DATA and not f.fin
    ]
    before_now = _expected_between(frames)[0]
    choices = [i for i in fragments if bytes(rest[i].payload) != before_now]
    at = choices[0] if choices else fragments[0] if fragments else None
    if at is None:
        return None
    moved = [*rest[: at + 1], ping, *pongs[:1], *rest[at + 1 :]]
    start = frames[0].time
    step = (frames[-1].time - start) / max(1, len(moved) - 1)
    return [dataclasses.replace(f, time=start + k * step) for k, f in enumerate(moved)]


def _as_bytes(value: Any) -> Any:
    return value.encode("utf-8") if isinstance(value, str) else value


@exercise(
    "06.ping-between",
    "Write ping_between(frames) -> (before, after): the payloads of the message fragments sent "
    "just before and just after the ping, on the ping's side of the connection. The check runs "
    "it on fragmented-ping.pcap, and on the same frames with the ping moved.",
)
def check_ping_between(answer: Any) -> None:
    frames = websocket_frames(PING_FILE)
    cases = [("fragmented-ping.pcap", frames)]
    moved = _moved_ping(frames)
    if moved is not None:
        cases.append(("the same frames with the ping moved", moved))
    for label, case in cases:
        expected = _expected_between(case)
        got = _call(answer, case, "ping_between")
        if not isinstance(got, tuple) or len(got) != 2:
            raise Wrong(f"return a tuple (before, after) of two payloads, not {got!r}.")
        got = (_as_bytes(got[0]), _as_bytes(got[1]))
        if got == expected:
            continue
        index = next(i for i, f in enumerate(case) if f.opcode == Opcode.PING)
        neighbours = (
            bytes(case[index - 1].payload) if index > 0 else None,
            bytes(case[index + 1].payload) if index + 1 < len(case) else None,
        )
        if got == neighbours:
            raise Wrong(
                f"in {label}, those are the frames right next to the ping in the capture, "
                "whichever side sent them: keep only the fragments (text, binary, continuation) "
                "sent in the same direction as the ping."
            )
        if got[0] == expected[0]:
            raise Wrong(f"in {label}, the fragment before is right, the one after is not.")
        if got[1] == expected[1]:
            raise Wrong(f"in {label}, the fragment after is right, the one before is not.")
        raise Wrong(
            f"in {label}, the ping does not sit between those two: find the ping's index, then "
            "the last fragment before it and the first one after it, on the ping's side."
        )
