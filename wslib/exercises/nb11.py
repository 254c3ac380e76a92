"""Checks for the exercises of notebook 11 (compression: permessage-deflate, RFC 7692).

- ``11.compress``: the payload of one compressed message, as a sender without context takeover
  writes it (RFC 7692 §7.2.1): raw DEFLATE, flushed, without the 4-byte tail ``00 00 ff ff``.
  Checked by inflating it with wslib's receiver.
- ``11.bounded-inflate``: inflate a compressed message's payload, but never more than ``limit``
  bytes: the message, or None when it would be bigger. Checked on messages (one of exactly
  ``limit`` bytes among them) and on a 64 MiB bomb, with the peak of memory measured.
"""

from __future__ import annotations

import os
import tracemalloc
import zlib
from typing import Any

from ..deflate import EMPTY_BLOCK, PerMessageDeflate
from ..frames import Frame, Opcode
from . import Wrong, exercise

__all__ = ["BOMB_MIB", "LIMIT", "MESSAGES"]

#: What 11.compress and 11.bounded-inflate are checked on.
MESSAGES: list[bytes] = [
    b'{"user": "ada", "text": "hello hello hello"}',
    b"Hello",
    "Grüße aus Köln, ".encode() * 50,
    bytes(10_000),
    os.urandom(300),
]
#: 11.bounded-inflate's limit, and the size of its bomb.
LIMIT = 64 * 1024
BOMB_MIB = 64


def _inflate(payload: bytes) -> bytes:
    return PerMessageDeflate().decode(Frame(Opcode.BINARY, payload, rsv1=True), None).payload


@exercise(
    "11.compress",
    "Write compress_message(data: bytes) -> bytes: the payload of one permessage-deflate "
    "message for data, compressed afresh (no context takeover): raw DEFLATE (zlib.compressobj "
    "with wbits=-15), flushed with Z_SYNC_FLUSH, without the last 4 bytes 00 00 ff ff.",
)
def check_compress(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function compress_message(data).")
    for data in MESSAGES:
        got = answer(data)
        if not isinstance(got, bytes | bytearray):
            raise Wrong(f"compress_message should return bytes, not {type(got).__name__}.")
        got = bytes(got)
        if got[:1] == b"\x78":
            raise Wrong(
                "your payload starts with 0x78: a zlib header (RFC 1950), as zlib.compress() "
                "writes it, with an Adler-32 checksum at the end. permessage-deflate carries raw "
                "DEFLATE (RFC 1951): zlib.compressobj(wbits=-15) writes neither."
            )
        if got.endswith(EMPTY_BLOCK):
            raise Wrong(
                "your payload ends with 00 00 ff ff, the empty block that Z_SYNC_FLUSH writes: "
                "RFC 7692 §7.2.1 removes these 4 bytes (the receiver adds them back)."
            )
        try:
            inflated = _inflate(got)
        except Exception as exc:
            raise Wrong(
                f"wslib's receiver cannot inflate your payload for {data[:20]!r}...: {exc}"
            ) from None
        if inflated != data:
            raise Wrong(
                f"your payload for {data[:20]!r}... inflates to {inflated[:20]!r}...: compress "
                "all of data, then flush (compress() keeps bytes back until flush())."
            )


def _deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


@exercise(
    "11.bounded-inflate",
    "Write inflate_at_most(payload: bytes, limit: int) -> bytes | None: the message that a "
    "permessage-deflate payload (without its 00 00 ff ff) inflates to, or None if it is over "
    "limit bytes, without ever holding more than about limit bytes of output.",
)
def check_bounded_inflate(answer: Any) -> None:
    from ..lab.compression import deflate_bomb

    if not callable(answer):
        raise Wrong("the answer should be a function inflate_at_most(payload, limit).")
    exact = os.urandom(LIMIT // 2) * 2  # exactly at the limit: still a valid message
    for data in [*MESSAGES, exact]:
        got = answer(_deflated(data), LIMIT)
        if got is None:
            raise Wrong(
                f"a message of {len(data):,} bytes, limit {LIMIT:,}: you answered None, but it "
                "fits" + (" exactly: at the limit is not over it" if data is exact else "") + "."
            )
        if bytes(got) != data:
            raise Wrong(
                f"a message of {len(data):,} bytes came back as {len(got):,} bytes: "
                "append 00 00 ff ff, inflate raw DEFLATE (zlib.decompressobj(wbits=-15))."
            )
    bomb = deflate_bomb(BOMB_MIB)
    tracemalloc.start()
    try:
        got = answer(bomb, LIMIT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if got is not None:
        raise Wrong(
            f"the bomb ({len(bomb):,} bytes, {BOMB_MIB} MiB inflated) came back as "
            f"{len(got):,} bytes instead of None: the first bytes of a message that goes on "
            "are not the message. Ask zlib for limit + 1 bytes: one more than allowed means "
            "over the limit."
        )
    if peak > 8 * LIMIT + 4 * len(bomb):
        raise Wrong(
            f"None for the bomb, right, but memory peaked at {peak / 2**20:.1f} MiB: you "
            f"inflated all {BOMB_MIB} MiB before looking at the size. Pass a maximum to "
            "decompressobj(...).decompress(data, max_length): zlib then stops there."
        )
