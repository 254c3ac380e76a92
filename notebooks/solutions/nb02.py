"""Reference solutions to notebook 02's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every function in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wslib import ProtocolError, StreamReader
from wslib.exercises.nb02 import SPOT_THE_ERROR_MAX_SIZE
from wslib.frames import Close, Frame, Opcode
from wslib.messages import MessageAssembler

# --- 02.length-field -----------------------------------------------------------------------------


def encode_length(n: int, masked: bool) -> bytes:
    mask_bit = 0x80 if masked else 0x00
    if n <= 125:
        return bytes([mask_bit | n])
    if n <= 0xFFFF:
        return bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    return bytes([mask_bit | 127]) + n.to_bytes(8, "big")


def encode_length_off_by_one(n: int, masked: bool) -> bytes:
    """Uses the 16-bit form from 125 on: 125 still fits in 7 bits."""
    mask_bit = 0x80 if masked else 0x00
    if n < 125:
        return bytes([mask_bit | n])
    if n <= 0xFFFF:
        return bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    return bytes([mask_bit | 127]) + n.to_bytes(8, "big")


def encode_length_little_endian(n: int, masked: bool) -> bytes:
    """Writes the extended length in the machine's usual byte order, not network order."""
    mask_bit = 0x80 if masked else 0x00
    if n <= 125:
        return bytes([mask_bit | n])
    if n <= 0xFFFF:
        return bytes([mask_bit | 126]) + n.to_bytes(2, "little")
    return bytes([mask_bit | 127]) + n.to_bytes(8, "little")


def encode_length_without_mask_bit(n: int, masked: bool) -> bytes:
    """Forgets the MASK bit."""
    return encode_length(n, masked=False)


def encode_length_always_64_bits(n: int, masked: bool) -> bytes:
    """Skips the 16-bit form: valid-looking, but not the shortest encoding the RFC requires."""
    mask_bit = 0x80 if masked else 0x00
    if n <= 125:
        return bytes([mask_bit | n])
    return bytes([mask_bit | 127]) + n.to_bytes(8, "big")


# --- 02.unmask ------------------------------------------------------------------------------------


def unmask(payload: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def unmask_first_key_byte_only(payload: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[0] for b in payload)


def unmask_key_shifted(payload: bytes, key: bytes) -> bytes:
    """Starts with the key's second byte, as if the count started at 1."""
    return bytes(b ^ key[(i + 1) % 4] for i, b in enumerate(payload))


def unmask_drops_the_tail(payload: bytes, key: bytes) -> bytes:
    """Works 4 bytes at a time and forgets the last len % 4 bytes."""
    whole = len(payload) - len(payload) % 4
    return bytes(payload[i] ^ key[i % 4] for i in range(whole))


# --- 02.spot-error --------------------------------------------------------------------------------


def close_code_for(raw: bytes) -> int | None:
    """What a server must do with ``raw`` as the first frame of a connection: wslib decides."""
    reader = StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=True, max_size=SPOT_THE_ERROR_MAX_SIZE)
    try:
        try:
            next(parser)
        except StopIteration as done:
            frame: Frame = done.value
        else:
            raise AssertionError("the parser wants more bytes than the frame has")
        if frame.opcode == Opcode.CLOSE:
            Close.parse(frame.payload)
        elif frame.opcode in (Opcode.CONT, Opcode.TEXT, Opcode.BINARY):
            MessageAssembler(max_size=SPOT_THE_ERROR_MAX_SIZE).feed(frame)
    except ProtocolError as error:
        return error.close_code
    return None


def only_checks_the_mask_bit(raw: bytes) -> int | None:
    return None if raw[1] & 0x80 else 1002


def bad_utf8_is_a_protocol_error(raw: bytes) -> int | None:
    """Answers 1002 where the RFC asks for 1007 (invalid payload data)."""
    code = close_code_for(raw)
    return 1002 if code == 1007 else code


def checks_utf8_only_at_the_end(raw: bytes) -> int | None:
    """Waits for FIN before validating UTF-8: misses a prefix that can never become valid."""
    if raw[0] & 0x0F == Opcode.TEXT and not raw[0] & 0x80:
        return None
    return close_code_for(raw)


def reads_the_payload_before_the_limit(raw: bytes) -> int | None:
    """Reads the announced payload first: the 2^63 − 1 frame ends early, as a truncated frame."""
    if raw[1] & 0x7F == 127 and int.from_bytes(raw[2:10], "big") < 2**63:
        if len(raw) < 14 + int.from_bytes(raw[2:10], "big"):
            return 1002
    return close_code_for(raw)


SOLUTIONS: dict[str, Any] = {
    "02.length-field": encode_length,
    "02.unmask": unmask,
    "02.spot-error": close_code_for,
}

WRONG_ANSWERS: dict[str, list[Callable[..., Any]]] = {
    "02.length-field": [
        encode_length_off_by_one,
        encode_length_little_endian,
        encode_length_without_mask_bit,
        encode_length_always_64_bits,
    ],
    "02.unmask": [unmask_first_key_byte_only, unmask_key_shifted, unmask_drops_the_tail],
    "02.spot-error": [
        only_checks_the_mask_bit,
        bad_utf8_is_a_protocol_error,
        checks_utf8_only_at_the_end,
        reads_the_payload_before_the_limit,
    ],
}
