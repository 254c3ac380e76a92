"""Masking (RFC 6455 §5.3): XOR every payload byte with one byte of a 4-byte key.

RFC 6455 §5.3: "Octet i of the transformed data ("transformed-octet-i") is the XOR of octet i of
the original data ("original-octet-i") with octet at index i modulo 4 of the masking key
("masking-key-octet-j")". The plain version is one line, and it is what this function computes::

    bytes(octet ^ key[i % 4] for i, octet in enumerate(data))

That loop runs one Python step per byte (50-70 ns each: 3-5 ms for 64 KiB). Three faster ways
to the same bytes, each checked against that loop by ``tests/test_masking.py`` for every length
and alignment, and shown step by step in notebook 02:

- :func:`apply_mask` without numpy: two pure-Python tricks that hand the loop over to C (big
  integers for small payloads, ``bytes.translate`` for large ones), 2-50 times faster than the
  loop. Readable, and the reference that the notebook builds.
- :func:`apply_mask_in_place` with numpy (a dependency of wslib, matplotlib needs it anyway):
  XOR the payload where it lies, 8 bytes per step, at memory speed. On a 1 MiB payload it keeps
  up with python-websockets' C extension, which XORs 16 bytes per instruction (SIMD); the idea
  is the same, numpy's loop is compiled C too. wslib stays pure Python to read.
- :func:`apply_mask` with numpy, for payloads of :data:`NUMPY_FROM` bytes and more: a copy,
  the in-place XOR on it, and ``bytes`` of the result.

Below :data:`NUMPY_FROM` bytes the pure-Python tricks stay: in a tight loop numpy wins from
about 1 KiB, but in a server each call finds numpy's machinery cold, which costs more than the
tricks take on a few KiB (measured in the echo of ``benchmarks/bench_server.py``). XOR is its
own inverse, so the same functions mask (client) and unmask (server).
"""

from __future__ import annotations

from typing import Any

try:
    import numpy
except ImportError:  # pragma: no cover - numpy comes with wslib; without it, the tricks only
    numpy = None  # type: ignore[assignment]

__all__ = ["NUMPY_FROM", "SMALL", "apply_mask", "apply_mask_in_place"]

#: From this many bytes on, numpy does the XOR. benchmarks/bench_masking.py puts the crossover near
#: 1 KiB in a tight loop; in the echo server (benchmarks/bench_server.py, a quiet machine), where
#: numpy's code is cold at each message, the tricks were faster at 1.5 KiB, as fast at 2 and 4 KiB,
#: and numpy far faster at 16 KiB.
NUMPY_FROM = 4 * 1024

#: Below this many bytes the big-integer trick is faster; from here on, the translate trick.
SMALL = 2560

# _XOR_TABLES[k][b] == b ^ k: for each key byte k, a 256-byte table that bytes.translate() uses
# to XOR every byte with k (64 KiB, built once at import).
_XOR_TABLES = tuple(bytes(b ^ k for b in range(256)) for k in range(256))


def apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray | memoryview) -> bytes:
    """Mask or unmask ``data`` with the 4-byte masking key ``mask`` (RFC 6455 §5.3).

    Works for any length and any bytes-like input (a ``memoryview`` slice at any offset
    included); returns ``bytes``. Raises :class:`ValueError` if the key is not 4 bytes.
    """
    if not isinstance(mask, bytes):
        mask = bytes(mask)
    if len(mask) != 4:
        raise ValueError("a masking key is 4 bytes (RFC 6455 §5.2: Masking-key: 0 or 4 bytes)")
    if numpy is not None and (data.nbytes if isinstance(data, memoryview) else len(data)) >= (
        NUMPY_FROM
    ):
        # A copy that this function owns (bytearray takes the raw bytes of any buffer), unmasked
        # in place by numpy, then bytes of it: two copies at memory speed, one fast XOR.
        out = bytearray(data)
        apply_mask_in_place(out, mask)
        return bytes(out)
    if not isinstance(data, bytes):
        data = bytes(data)  # bytearray, or a memoryview of any shape: its raw bytes
    n = len(data)
    if n < SMALL:
        # Trick 1, big integers: read the payload as one huge integer, and the key repeated to the
        # payload's length as another; a single ^ on the two integers XORs every byte at once,
        # and to_bytes() turns the result back into bytes. Three C loops, no Python loop.
        key = (mask * (n // 4 + 1))[:n]
        return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
            n, "little"
        )
    # Trick 2, four strided slices: bytes 0, 4, 8, ... all use key byte 0, bytes 1, 5, 9, ...
    # key byte 1, and so on. data[j::4] picks one such group, translate() XORs the whole group
    # with a 256-entry lookup table, and a slice assignment puts it back in place. Twelve C
    # loops over a quarter of the data each: about twice as fast as trick 1 on large payloads.
    out = bytearray(n)
    out[0::4] = data[0::4].translate(_XOR_TABLES[mask[0]])
    out[1::4] = data[1::4].translate(_XOR_TABLES[mask[1]])
    out[2::4] = data[2::4].translate(_XOR_TABLES[mask[2]])
    out[3::4] = data[3::4].translate(_XOR_TABLES[mask[3]])
    return bytes(out)


def _turned(mask: bytes, offset: int) -> bytes:
    """The key as seen from byte ``offset`` of the payload: byte ``i`` uses ``mask[i % 4]``."""
    turn = offset % 4
    return mask[turn:] + mask[:turn]


def apply_mask_in_place(
    buffer: bytearray | memoryview, mask: bytes | bytearray | memoryview
) -> None:
    """Mask or unmask a writable buffer where it lies (RFC 6455 §5.3): no copy of the payload.

    ``buffer`` is a ``bytearray`` or a writable, contiguous ``memoryview`` (a slice of a frame
    being built, at any offset). Same bytes as :func:`apply_mask`; raises :class:`ValueError` if
    the key is not 4 bytes and :class:`TypeError` if the buffer is read-only (``bytes``).
    """
    view = memoryview(buffer).cast("B")
    if view.readonly:
        raise TypeError("apply_mask_in_place needs a writable buffer (a bytearray), not bytes")
    mask = bytes(mask)
    if len(mask) != 4:
        raise ValueError("a masking key is 4 bytes (RFC 6455 §5.2: Masking-key: 0 or 4 bytes)")
    n = len(view)
    if numpy is None or n < NUMPY_FROM:
        view[:] = apply_mask(view, mask)
        return
    # The payload seen as 8-byte words, without a copy. numpy XORs words fastest at addresses that
    # are multiples of 8 (three times faster than unaligned on 1 MiB): when the buffer does not
    # start at one, the words start at the first such address, and the bytes before it, like the
    # few after the last whole word, go through apply_mask.
    words: Any = numpy.frombuffer(view, dtype=numpy.uint64, count=n // 8)
    head = 0
    if not words.flags.aligned:
        head = -numpy.frombuffer(view, dtype=numpy.uint8).ctypes.data % 8
        words = numpy.frombuffer(view, dtype=numpy.uint64, count=(n - head) // 8, offset=head)
        view[:head] = apply_mask(view[:head], mask)
    end = head + 8 * len(words)
    if end < n:
        view[end:] = apply_mask(view[end:], _turned(mask, end))
    # The key repeated to 8 bytes, read as one 64-bit word in the machine's own byte order, the
    # same order in which numpy reads the payload's words: no byte-order question arises.
    key = numpy.frombuffer(_turned(mask, head) * 2, dtype=numpy.uint64)
    numpy.bitwise_xor(words, key, out=words)
