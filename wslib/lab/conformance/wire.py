"""The suite's own frames on the wire: a builder that may break rules, a parser that forgives.

A conformance suite must send what a correct library refuses to build (reserved opcodes, RSV bits,
a ping of 126 bytes, a lying length), so :func:`build_frame` writes any header RFC 6455 §5.2 can
draw, valid or not. And it must read what a broken peer sends (a masked frame from a server, a
reserved opcode) without giving up, so :func:`read_any_frame` parses every header it can decode
and leaves the judging to the verdicts. Both are sans-I/O, like the rest of ``wslib``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator
from dataclasses import dataclass

from ...frames import FIN, MASK, OPCODE_BITS, PAYLOAD_LEN_BITS, RSV_BITS, Opcode
from ...masking import apply_mask

__all__ = ["WireFrame", "build_frame", "opcode_name", "preview", "read_any_frame"]

#: A mask key that makes traces reproducible; masking only needs to be unpredictable to
#: scripts in a browser (RFC 6455 §10.3), and the suite is not one.
SUITE_MASK_KEY = b"\x37\xfa\x21\x3d"


def opcode_name(opcode: int) -> str:
    """``TEXT`` for 0x1, ``0x3`` for a reserved opcode (RFC 6455 §5.2, §11.8)."""
    try:
        return Opcode(opcode).name
    except ValueError:
        return f"0x{opcode:X}"


def preview(payload: bytes, limit: int = 48) -> str:
    """A few characters of a payload for a trace: text if it is printable UTF-8, else hex."""
    if not payload:
        return ""
    head = payload[:limit]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        shown = head[: limit // 3].hex(" ")
        return shown + (" …" if len(payload) > limit // 3 else "")
    if not text.isprintable():
        shown = head[: limit // 3].hex(" ")
        return shown + (" …" if len(payload) > limit // 3 else "")
    return repr(text) + ("…" if len(payload) > limit else "")


@dataclass(frozen=True)
class WireFrame:
    """A frame as it was on the wire, whatever rules it broke (RFC 6455 §5.2)."""

    opcode: int  #: the 4 opcode bits, reserved values included
    payload: bytes  #: unmasked
    fin: bool = True
    rsv: int = 0  #: the RSV bits where they sit in the first byte (``head1 & RSV_BITS``)
    masked: bool = False

    def describe(self) -> str:
        """``TEXT fin=1 rsv=000 masked len=5 'Hello'``: one trace line."""
        rsv = f"{(self.rsv >> 4) & 0b111:03b}"
        parts = [opcode_name(self.opcode), f"fin={int(self.fin)}"]
        if self.rsv:
            parts.append(f"rsv={rsv}")
        if self.masked:
            parts.append("masked")
        parts.append(f"len={len(self.payload)}")
        shown = preview(self.payload)
        if shown:
            parts.append(shown)
        return " ".join(parts)


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool,
    mask_key: bytes = SUITE_MASK_KEY,
    length_form: int | None = None,
    length: int | None = None,
) -> bytes:
    """The bytes of any frame RFC 6455 §5.2 can draw, including the ones it forbids.

    ``rsv`` is the bits as in the first byte (``RSV1 | RSV3``), ``mask`` sets the MASK bit and
    masks the payload with ``mask_key``. ``length_form`` forces the encoding of the length: 7
    (the byte itself), 16 or 64 bits, even when a shorter one fits (§5.2: "the minimal number of
    bytes MUST be used": a suite may break that on purpose). ``length`` writes a different length
    than the payload's (a lie), for the case of a 64-bit length with its top bit set.
    """
    head1 = (FIN if fin else 0) | (rsv & RSV_BITS) | (opcode & OPCODE_BITS)
    head2 = MASK if mask else 0
    n = len(payload) if length is None else length
    form = length_form or (7 if n <= 125 else 16 if n <= 0xFFFF else 64)
    if form == 7:
        header = struct.pack("!BB", head1, head2 | n)
    elif form == 16:
        header = struct.pack("!BBH", head1, head2 | 126, n)
    else:
        header = struct.pack("!BBQ", head1, head2 | 127, n)
    if not mask:
        return header + payload
    return header + mask_key + apply_mask(payload, mask_key)


def header_length(frame_bytes: bytes) -> int:
    """How many bytes of ``frame_bytes`` come before the payload (header and masking key)."""
    n = frame_bytes[1] & PAYLOAD_LEN_BITS
    size = 2 + (2 if n == 126 else 8 if n == 127 else 0)
    return size + (4 if frame_bytes[1] & MASK else 0)


def read_any_frame(
    read_exact: Callable[[int], Generator[None, None, bytes]], *, max_payload: int = 64 << 20
) -> Generator[None, None, WireFrame]:
    """Read one frame like :meth:`wslib.frames.Frame.parse`, but check nothing (a generator).

    A reserved opcode, an RSV bit, either masking and an oversized control frame all come back
    as a :class:`WireFrame` for the verdict to judge. Only a length over ``max_payload`` raises
    :class:`ValueError`: the suite will not buffer gigabytes for a peer that lies.
    """
    head1, head2 = yield from read_exact(2)
    n = head2 & PAYLOAD_LEN_BITS
    if n == 126:
        (n,) = struct.unpack("!H", (yield from read_exact(2)))
    elif n == 127:
        (n,) = struct.unpack("!Q", (yield from read_exact(8)))
    if n > max_payload:
        raise ValueError(f"the peer announced a frame of {n} bytes")
    masked = bool(head2 & MASK)
    key = (yield from read_exact(4)) if masked else b""
    payload = yield from read_exact(n)
    if masked:
        payload = apply_mask(payload, key)
    return WireFrame(head1 & OPCODE_BITS, payload, bool(head1 & FIN), head1 & RSV_BITS, masked)
