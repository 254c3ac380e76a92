"""Reference solutions to notebook 06's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``. Each function receives the frames of one
conversation (``wslib.lab.dissect.FrameRecord``), in time order.
"""

from __future__ import annotations

from typing import Any

from wslib.frames import Opcode

DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


# --- 06.close-code --------------------------------------------------------------------------------
# RFC 6455 §5.5.1: the close frame's payload is a 2-byte unsigned code in network byte order
# (big-endian), then an optional UTF-8 reason. No close frame at all (a reset): no code on the wire.


def find_close(frames: list[Any]) -> tuple[int, str] | None:
    for frame in frames:
        if frame.opcode == Opcode.CLOSE:
            payload = bytes(frame.payload)
            return int.from_bytes(payload[:2], "big"), payload[2:].decode("utf-8")
    return None


def close_little_endian(frames: list[Any]) -> tuple[int, str] | None:
    """Reads the code in the machine's usual (little-endian) order: 1000 becomes 59395."""
    for frame in frames:
        if frame.opcode == Opcode.CLOSE:
            payload = bytes(frame.payload)
            return int.from_bytes(payload[:2], "little"), payload[2:].decode("utf-8")
    return None


def close_code_in_reason(frames: list[Any]) -> tuple[int, str] | None:
    """Takes the whole payload as the reason: the code's two bytes come out as characters."""
    for frame in frames:
        if frame.opcode == Opcode.CLOSE:
            payload = bytes(frame.payload)
            return int.from_bytes(payload[:2], "big"), payload.decode("latin-1")
    return None


def close_never_none(frames: list[Any]) -> tuple[int, str] | None:
    """Assumes there is always a close frame: reports 1006 for the reset connection."""
    return find_close(frames) or (1006, "")


# --- 06.overhead ----------------------------------------------------------------------------------
# RFC 6455 §5.2: 2 bytes (FIN, RSV, opcode; MASK, 7-bit length), then 2 more bytes for a length of
# 126-65535 or 8 more for 65536 and up, then the 4-byte masking key when the frame is masked
# (every client-to-server frame, §5.3).


def header_size(length: int, masked: bool) -> int:
    extended = 0 if length < 126 else 2 if length < 65536 else 8
    return 2 + extended + (4 if masked else 0)


def overhead(frames: list[Any]) -> tuple[int, int]:
    framing = sum(header_size(f.length, f.masked) for f in frames)
    payload = sum(f.length for f in frames)
    return framing, payload


def overhead_without_key(frames: list[Any]) -> tuple[int, int]:
    """Forgets the 4-byte masking key of the client's frames."""
    framing = sum(header_size(f.length, False) for f in frames)
    return framing, sum(f.length for f in frames)


def overhead_two_bytes(frames: list[Any]) -> tuple[int, int]:
    """Ignores the extended length: every header is 2 bytes, + 4 when masked."""
    framing = sum(2 + (4 if f.masked else 0) for f in frames)
    return framing, sum(f.length for f in frames)


def overhead_close_header_as_payload(frames: list[Any]) -> tuple[int, int]:
    """Counts the close frames' headers as payload (they carry no message, so 'all payload')."""
    closes = [f for f in frames if f.opcode == Opcode.CLOSE]
    others = [f for f in frames if f.opcode != Opcode.CLOSE]
    framing = sum(header_size(f.length, f.masked) for f in others)
    payload = sum(f.length for f in frames) + sum(header_size(f.length, f.masked) for f in closes)
    return framing, payload


def overhead_data_only(frames: list[Any]) -> tuple[int, int]:
    """Counts only the data frames' payload as payload."""
    framing = sum(header_size(f.length, f.masked) for f in frames)
    return framing, sum(f.length for f in frames if f.opcode in DATA)


def overhead_reads_header_length(frames: list[Any]) -> tuple[int, int]:
    """Uses the dissector's header_length, which the check hides (it is 0)."""
    return sum(f.header_length for f in frames), sum(f.length for f in frames)


# --- 06.ping-between ------------------------------------------------------------------------------
# RFC 6455 §5.4: "Control frames MAY be injected in the middle of a fragmented message." The
# fragments to look at are the data frames (text, binary, continuation) sent by the ping's side.


def ping_between(frames: list[Any]) -> tuple[bytes, bytes]:
    index = next(i for i, f in enumerate(frames) if f.opcode == Opcode.PING)
    side = frames[index].direction
    fragments = [(i, f) for i, f in enumerate(frames) if f.direction == side and f.opcode in DATA]
    before = [f for i, f in fragments if i < index][-1]
    after = next(f for i, f in fragments if i > index)
    return bytes(before.payload), bytes(after.payload)


def ping_neighbours(frames: list[Any]) -> tuple[bytes, bytes]:
    """Takes the frames right before and after the ping, whoever sent them (the pong, say)."""
    index = next(i for i, f in enumerate(frames) if f.opcode == Opcode.PING)
    return bytes(frames[index - 1].payload), bytes(frames[index + 1].payload)


def ping_first_and_last(frames: list[Any]) -> tuple[bytes, bytes]:
    """Returns the message's first and last fragments: right only if there are two fragments."""
    index = next(i for i, f in enumerate(frames) if f.opcode == Opcode.PING)
    side = frames[index].direction
    fragments = [f for f in frames if f.direction == side and f.opcode in DATA]
    return bytes(fragments[0].payload), bytes(fragments[-1].payload)


def ping_hard_coded(frames: list[Any]) -> tuple[bytes, bytes]:
    """The answer read off the table of fragmented-ping.pcap: right there, wrong elsewhere."""
    return b"Hello, ", b"fragmented "


SOLUTIONS: dict[str, Any] = {
    "06.close-code": find_close,
    "06.overhead": overhead,
    "06.ping-between": ping_between,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "06.close-code": [close_little_endian, close_code_in_reason, close_never_none, (1000, "")],
    "06.overhead": [
        overhead_without_key,
        overhead_two_bytes,
        overhead_close_header_as_payload,
        overhead_data_only,
        overhead_reads_header_length,
    ],
    "06.ping-between": [ping_neighbours, ping_first_and_last, ping_hard_coded],
}
