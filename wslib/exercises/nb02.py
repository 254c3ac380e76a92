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


def _length_hint(n: int, masked: bool, got: bytes, expected: bytes) -> str:
    """What went wrong in ``got``, without saying what ``expected`` is."""
    if got and got[0] & 0x80 != expected[0] & 0x80:
        has = "sets" if got[0] & 0x80 else "leaves out"
        return (
            f"yours {has} the MASK bit, the highest bit of the second byte (0x80): it is set "
            "exactly when the frame is masked."
        )
    if len(got) == len(expected) > 1 and got[1:] == expected[:0:-1]:
        return "the extended length is in the wrong byte order: the network's is big-endian."
    if len(got) > len(expected):
        if n in (125, 0xFFFF):
            return (
                f"yours uses a longer form than needed for {n}: check your comparison at the "
                f"boundary (is {n} itself still inside the smaller form?). The RFC says the "
                "shortest form MUST be used."
            )
        if len(got) == 9 and len(expected) == 3:
            return (
                f"yours jumps to the 64-bit form for {n:_}, skipping the 16-bit form (126 and "
                "2 more bytes). The RFC says the shortest form MUST be used."
            )
        return f"yours is {len(got)} bytes long, longer than the shortest form for {n:_}."
    if len(got) < len(expected):
        return f"yours is {len(got)} byte(s) long: too short to hold {n:_} in the form you chose."
    return (
        f"yours has the right size and MASK bit, but the bits do not say {n:_}: check what goes "
        "in the 7 bits (the length itself, or 126, or 127) and the extended length after them."
    )


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
            if got != expected:
                call = f"encode_length({n:_}, masked={masked})"
                raise Wrong(f"{call}: {_length_hint(n, masked, got, expected)}")


# --- 02.unmask ------------------------------------------------------------------------------------


def _unmask(payload: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def _unmask_hint(payload: bytes, key: bytes, got: bytes) -> str:
    """Which mistake turns ``payload`` into ``got``, without giving the unmasked bytes."""
    n = len(payload)
    if len(got) != n:
        if len(got) == n - n % 4:
            return (
                f"yours gives {len(got)} bytes for a {n}-byte payload: it stops at the last whole "
                f"group of 4, but the last {n % 4} byte(s) are masked too."
            )
        return f"yours gives {len(got)} bytes for a {n}-byte payload: one byte out per byte in."
    if got == payload:
        return "yours returns the payload unchanged: each byte must be XORed with a key byte."
    if n > 1 and got == bytes(b ^ key[0] for b in payload):
        return "yours XORs every byte with the first key byte: the key has 4 bytes, used in turn."
    for shift in (1, 2, 3):
        if got == bytes(b ^ key[(i + shift) % 4] for i, b in enumerate(payload)):
            return (
                "yours uses the right key bytes, each in the wrong place: payload byte i goes "
                "with key byte i % 4, so check where your count starts."
            )
    where = next(i for i in range(n) if got[i] != payload[i] ^ key[i % 4])
    return f"byte {where} of yours is wrong: work it out by hand, as in the XOR table of section 3."


@exercise(
    "02.unmask",
    "Write unmask(payload, key) -> bytes: XOR byte i of the payload with byte i % 4 of the "
    "4-byte masking key (RFC 6455 §5.3).",
)
def check_unmask(answer: Any) -> None:
    rfc_key, rfc_masked = bytes.fromhex("37fa213d"), bytes.fromhex("7f9f4d5158")
    got = _as_bytes(answer(rfc_masked, rfc_key), "unmask")
    if got != _unmask(rfc_masked, rfc_key):
        raise Wrong(
            f"on RFC 6455 §5.7's example (key 37 fa 21 3d, payload 7f 9f 4d 51 58) yours gives "
            f"{got!r}: {_unmask_hint(rfc_masked, rfc_key, got)}"
        )
    rng = random.Random(5_3)
    for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 126, 1000]:
        key, payload = rng.randbytes(4), rng.randbytes(n)
        got = _as_bytes(answer(payload, key), "unmask")
        if got != _unmask(payload, key):
            raise Wrong(f"with key {key.hex(' ')}: {_unmask_hint(payload, key, got)}")


# --- 02.spot-error --------------------------------------------------------------------------------

_KEY = bytes.fromhex("37fa213d")


def _client_frame(first: int, payload: bytes, *, length: bytes | None = None) -> bytes:
    """A masked client frame: first byte as given, then MASK + length, the key, the payload."""
    field = length if length is not None else _length_field(len(payload), masked=True)
    return bytes([first]) + field + _KEY + _unmask(payload, _KEY)


#: The largest message the server in exercise 02.spot-error accepts.
SPOT_THE_ERROR_MAX_SIZE = 2**20

# (raw frame, close code a server must answer or None, for the hint: where to look when the frame
# breaks a rule, or why it is fine when it breaks none). The hints never name the code.
_CASES: list[tuple[bytes, int | None, str]] = [
    (_client_frame(0x81, b"Hello"), None, "a masked text frame, FIN set: nothing wrong with it"),
    (
        bytes.fromhex("810548656c6c6f"),
        1002,
        "look at the MASK bit of a frame that a client sent (§5.1)",
    ),
    (
        _client_frame(0xC1, b"Hello"),
        1002,
        "look at the three bits after FIN: RSV1 is set, and no extension was negotiated (§5.2)",
    ),
    (
        _client_frame(0x83, b"Hello"),
        1002,
        "look at the opcode, and at the list of defined ones (§5.2)",
    ),
    (
        _client_frame(0x09, b""),
        1002,
        "look at FIN on a ping: may a control frame be fragmented? (§5.5)",
    ),
    (
        _client_frame(0x89, bytes(126)),
        1002,
        "look at the length of a ping: how much may a control frame carry? (§5.5)",
    ),
    (
        _client_frame(0x81, b"\xc3\x28"),
        1007,
        "unmask the payload of this text frame and read it as UTF-8 (§8.1)",
    ),
    (
        _client_frame(0x82, b"\xc3\x28"),
        None,
        "it is a binary frame: its payload may be any bytes, only text must be UTF-8",
    ),
    (
        _client_frame(0x01, b"\xc3\x28"),
        1007,
        "unmask this first fragment of a text message: can any continuation make these bytes "
        "UTF-8? (§8.1 says to fail as soon as it cannot)",
    ),
    (
        _client_frame(0x01, b"Hel"),
        None,
        "it is the first fragment of a text message (FIN clear), valid so far: the rest may come",
    ),
    (
        _client_frame(0x80, b"lo!"),
        1002,
        "look at the opcode: a continuation of what, on a fresh connection? (§5.4)",
    ),
    (
        _client_frame(0x8A, b"hi"),
        None,
        "it is a pong nobody asked for, which the RFC allows (§5.5.3)",
    ),
    (_client_frame(0x88, b"\x03"), 1002, "count the bytes of this close payload (§5.5.1)"),
    (
        _client_frame(0x88, (1005).to_bytes(2, "big")),
        1002,
        "read the close code in the payload: may it be sent on the wire? (§7.4.1)",
    ),
    (
        _client_frame(0x88, (1000).to_bytes(2, "big") + b"\xff"),
        1007,
        "read the close reason after the code: what must it be? (§5.5.1)",
    ),
    (
        _client_frame(0x88, (1000).to_bytes(2, "big") + b"bye"),
        None,
        "it is a normal close with a reason: nothing wrong with it",
    ),
    (
        bytes([0x82, 0x80 | 127]) + (2**63 - 1).to_bytes(8, "big") + _KEY,
        1009,
        "look at the length the header announces, and at the server's limit: the server can "
        "decide before a single payload byte arrives (§10.4)",
    ),
    (
        _client_frame(0x82, b"hello", length=bytes([0x80 | 127]) + (2**63 + 5).to_bytes(8, "big")),
        1002,
        "look at the most significant bit of the 64-bit length (§5.2)",
    ),
]

#: What each close code of this exercise says about a frame, for the hints.
_MEANING = {
    1002: "a broken framing rule",
    1007: "data that is not what its type promises (text that is not UTF-8)",
    1009: "a message too big to accept",
}

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
    for index, (raw, expected, about) in enumerate(_CASES):
        got = answer(raw)
        if got is not None and (not isinstance(got, int) or isinstance(got, bool)):
            raise Wrong(
                f"close_code_for(SPOT_THE_ERROR[{index}]) returned {got!r}: return a close code "
                "(an int) or None."
            )
        if got != expected:
            wrong.append((index, raw, expected, got, about))
    if not wrong:
        return
    index, raw, expected, got, about = wrong[0]
    if expected is None:
        mistake = f"yours says {got!r}, but {about}."
    elif got is None:
        mistake = f"yours says None: it lets it through, but this frame breaks a rule: {about}."
    else:
        meaning = _MEANING.get(got, "not one of the three codes of this exercise")
        mistake = (
            f"yours answers {got!r}, which means {meaning}; the trouble here is another: {about}."
        )
    raise Wrong(
        f"{len(wrong)} of {len(_CASES)} frames get a wrong answer. The first is "
        f"SPOT_THE_ERROR[{index}] ({_hex(raw)}): {mistake}"
    )
