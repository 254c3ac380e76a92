"""Checks for the exercises of notebook 02 (frames, RFC 6455 §5).

- ``02.length-field``: encode the payload length field of a frame header (§5.2).
- ``02.unmask``: unmask a client's payload with its 4-byte key (§5.3).
- ``02.spot-error``: say which close code a server must answer to a list of raw frames (§5, §7.4).
"""

from __future__ import annotations

import random
from typing import Any

from . import Wrong, exercise

__all__ = ["SPOT_THE_ERROR", "SPOT_THE_ERROR_MAX_SIZE"]


def _hex(data: bytes) -> str:
    shown = data[:16].hex(" ")
    return shown + (f" … ({len(data)} bytes)" if len(data) > 16 else "")


def _as_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise Wrong(f"{what} should return bytes, not {type(value).__name__}.")
    return bytes(value)


# --- 02.length-field -----------------------------------------------------------------------------


def _length_field(n: int, masked: bool) -> bytes:
    """RFC 6455 §5.2: 7 bits, or 126 + 16 bits, or 127 + 64 bits, always the shortest form."""
    mask_bit = 0x80 if masked else 0x00
    if n <= 125:
        return bytes([mask_bit | n])
    if n <= 0xFFFF:
        return bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    return bytes([mask_bit | 127]) + n.to_bytes(8, "big")


LENGTHS = [0, 1, 5, 100, 125, 126, 127, 200, 1000, 65_535, 65_536, 70_000, 2**32, 2**63 - 1]


@exercise(
    "02.length-field",
    "Write encode_length(n, masked) -> bytes: the header's second byte (the MASK bit and the "
    "7-bit payload length) followed by the extended payload length, if any (RFC 6455 §5.2).",
)
def check_length_field(answer: Any) -> None:
    for n in LENGTHS:
        for masked in (False, True):
            expected = _length_field(n, masked)
            got = _as_bytes(answer(n, masked), "encode_length")
            if got == expected:
                continue
            call = f"encode_length({n:_}, masked={masked})"
            if got[:1] == bytes([expected[0] ^ 0x80]):
                raise Wrong(f"{call}: the MASK bit is the highest bit of the second byte (0x80).")
            if len(expected) > 1 and got[1:] == expected[:0:-1]:
                raise Wrong(f"{call}: lengths go on the wire in network byte order (big-endian).")
            if len(got) != len(expected):
                raise Wrong(
                    f"{call} should be {len(expected)} byte(s) long, yours is {len(got)}: "
                    "0–125 fit in 7 bits, 126–65,535 use 126 and 2 more bytes, larger ones use "
                    "127 and 8 more bytes. The RFC says the shortest form MUST be used."
                )
            raise Wrong(f"{call} should be {_hex(expected)}, yours is {_hex(got)}.")


# --- 02.unmask ------------------------------------------------------------------------------------


def _unmask(payload: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@exercise(
    "02.unmask",
    "Write unmask(payload, key) -> bytes: XOR byte i of the payload with byte i % 4 of the "
    "4-byte masking key (RFC 6455 §5.3).",
)
def check_unmask(answer: Any) -> None:
    rfc_key, rfc_masked = bytes.fromhex("37fa213d"), bytes.fromhex("7f9f4d5158")
    got = _as_bytes(answer(rfc_masked, rfc_key), "unmask")
    if got != b"Hello":
        raise Wrong(
            f"RFC 6455 §5.7's example: key 37 fa 21 3d and payload 7f 9f 4d 51 58 give b'Hello'; "
            f"yours gives {got!r}."
        )
    rng = random.Random(5_3)
    for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 126, 1000]:
        key, payload = rng.randbytes(4), rng.randbytes(n)
        expected = _unmask(payload, key)
        got = _as_bytes(answer(payload, key), "unmask")
        if len(got) != n:
            raise Wrong(f"a {n}-byte payload should give {n} bytes, yours gives {len(got)}.")
        if got != expected:
            where = next(i for i in range(n) if got[i] != expected[i])
            raise Wrong(
                f"with key {key.hex(' ')} and a {n}-byte payload, byte {where} should be "
                f"{payload[where]:#04x} ^ {key[where % 4]:#04x} = {expected[where]:#04x}, "
                f"yours is {got[where]:#04x}."
            )


# --- 02.spot-error --------------------------------------------------------------------------------

_KEY = bytes.fromhex("37fa213d")


def _client_frame(first: int, payload: bytes, *, length: bytes | None = None) -> bytes:
    """A masked client frame: first byte as given, then MASK + length, the key, the payload."""
    field = length if length is not None else _length_field(len(payload), masked=True)
    return bytes([first]) + field + _KEY + _unmask(payload, _KEY)


#: The largest message the server in exercise 02.spot-error accepts.
SPOT_THE_ERROR_MAX_SIZE = 2**20

# (raw frame, close code a server must answer or None, the rule, for the hint)
_CASES: list[tuple[bytes, int | None, str]] = [
    (_client_frame(0x81, b"Hello"), None, "a masked text frame, FIN set: nothing wrong"),
    (
        bytes.fromhex("810548656c6c6f"),
        1002,
        "look at the MASK bit: a server MUST close when a client's frame is not masked (§5.1)",
    ),
    (
        _client_frame(0xC1, b"Hello"),
        1002,
        "look at the three bits after FIN: RSV1 is set without a negotiated extension (§5.2)",
    ),
    (_client_frame(0x83, b"Hello"), 1002, "look at the opcode: 3–7 are reserved (§5.2)"),
    (
        _client_frame(0x09, b""),
        1002,
        "a ping with FIN clear: control frames MUST NOT be fragmented (§5.5)",
    ),
    (
        _client_frame(0x89, bytes(126)),
        1002,
        "a ping with 126 bytes of payload: control frames carry at most 125 (§5.5)",
    ),
    (
        _client_frame(0x81, b"\xc3\x28"),
        1007,
        "a text frame whose payload is not UTF-8: close code 1007 (§8.1, §7.4.1)",
    ),
    (
        _client_frame(0x82, b"\xc3\x28"),
        None,
        "a binary frame: any bytes are fine, only text must be UTF-8",
    ),
    (
        _client_frame(0x01, b"\xc3\x28"),
        1007,
        "the first fragment of a text message (FIN clear) whose bytes can never become UTF-8, "
        "whatever comes next: fail at once (§8.1), not at the end of the message",
    ),
    (
        _client_frame(0x01, b"Hel"),
        None,
        "the first fragment of a text message (FIN clear): nothing wrong yet",
    ),
    (
        _client_frame(0x80, b"lo!"),
        1002,
        "a continuation frame, but no message was started on this connection (§5.4)",
    ),
    (_client_frame(0x8A, b"hi"), None, "an unsolicited pong is allowed (§5.5.3)"),
    (_client_frame(0x88, b"\x03"), 1002, "a close payload of 1 byte: a code takes 2 (§5.5.1)"),
    (
        _client_frame(0x88, (1005).to_bytes(2, "big")),
        1002,
        "close code 1005 MUST NOT be sent in a close frame (§7.4.1)",
    ),
    (
        _client_frame(0x88, (1000).to_bytes(2, "big") + b"\xff"),
        1007,
        "the close reason must be UTF-8, like text (§5.5.1)",
    ),
    (_client_frame(0x88, (1000).to_bytes(2, "big") + b"bye"), None, "a normal close: fine"),
    (
        bytes([0x82, 0x80 | 127]) + (2**63 - 1).to_bytes(8, "big") + _KEY,
        1009,
        "the header announces 2^63 − 1 bytes, far above the limit: 1009 at once (§7.4.1)",
    ),
    (
        _client_frame(0x82, b"hello", length=bytes([0x80 | 127]) + (2**63 + 5).to_bytes(8, "big")),
        1002,
        "a 64-bit length whose most significant bit is set (§5.2)",
    ),
]

#: The raw frames of exercise 02.spot-error, each the first frame a server receives on a
#: fresh connection (no extension negotiated, messages up to SPOT_THE_ERROR_MAX_SIZE bytes).
SPOT_THE_ERROR: list[bytes] = [raw for raw, _, _ in _CASES]


@exercise(
    "02.spot-error",
    "Write close_code_for(raw) -> int | None: the close code a server must fail the connection "
    "with when it receives this frame first, or None when the frame breaks no rule.",
)
def check_spot_error(answer: Any) -> None:
    wrong = []
    for index, (raw, expected, rule) in enumerate(_CASES):
        got = answer(raw)
        if got != expected:
            wrong.append((index, raw, expected, got, rule))
    if wrong:
        index, raw, expected, got, rule = wrong[0]
        raise Wrong(
            f"{len(wrong)} of {len(_CASES)} frames get the wrong answer. The first is "
            f"SPOT_THE_ERROR[{index}] ({_hex(raw)}): yours says {got!r}, but {rule}, so the "
            f"answer is {expected!r}."
        )
