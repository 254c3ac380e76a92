"""Reference solutions to notebook 11's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

import zlib
from typing import Any

# --- 11.compress ----------------------------------------------------------------------------------
# Raw DEFLATE (wbits=-15), flushed so that it ends on a byte boundary, the empty block removed.


def compress_message(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    compressed = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return compressed[:-4]


def compress_with_zlib_header(data: bytes) -> bytes:
    """zlib.compress: a zlib stream (header 78 9c, Adler-32 at the end), not raw DEFLATE."""
    return zlib.compress(data)


def compress_keeping_the_tail(data: bytes) -> bytes:
    """Raw DEFLATE, flushed, but 00 00 ff ff left at the end."""
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def compress_without_flush(data: bytes) -> bytes:
    """compress() alone: zlib keeps the data in its buffers until a flush."""
    return zlib.compressobj(wbits=-15).compress(data)


# --- 11.bounded-inflate ---------------------------------------------------------------------------
# Ask zlib for at most limit + 1 bytes: more than limit means over it, and the rest of the input
# (decompressor.unconsumed_tail) is never inflated.


def inflate_at_most(payload: bytes, limit: int) -> bytes | None:
    decompressor = zlib.decompressobj(wbits=-15)
    data = decompressor.decompress(payload, limit + 1)
    if len(data) > limit:
        return None
    return data + decompressor.decompress(b"\x00\x00\xff\xff", limit + 1 - len(data))


def inflate_then_check(payload: bytes, limit: int) -> bytes | None:
    """Right answers, but the bomb is inflated whole before its size is looked at."""
    data = zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff")
    return None if len(data) > limit else data


def inflate_at_most_limit(payload: bytes, limit: int) -> bytes | None:
    """max_length=limit: the bomb comes back as its first limit bytes, not None."""
    return zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff", limit)


def inflate_refusing_the_limit(payload: bytes, limit: int) -> bytes | None:
    """limit + 1 asked, but a message of exactly limit bytes is refused too."""
    data = zlib.decompressobj(wbits=-15).decompress(payload, limit + 1)
    return None if len(data) >= limit else data


SOLUTIONS: dict[str, Any] = {
    "11.compress": compress_message,
    "11.bounded-inflate": inflate_at_most,
}
WRONG_ANSWERS: dict[str, list[Any]] = {
    "11.compress": [compress_with_zlib_header, compress_keeping_the_tail, compress_without_flush],
    "11.bounded-inflate": [inflate_then_check, inflate_at_most_limit, inflate_refusing_the_limit],
}
