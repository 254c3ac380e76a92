"""TCP reassembly: one direction of a connection put back in sequence-number order.

RFC 9293 §3.4 (sequence numbers, which wrap around 2**32) and §3.10.7.4 (segment arrival):
a segment whose bytes were all delivered already is a retransmission and is dropped (counted);
a segment that overlaps delivered bytes contributes only its new bytes; a segment from the
future waits until the gap before it is filled, at most :data:`MAX_OUT_OF_ORDER` bytes of them
(after that the capture has lost packets: ``_LostBytes``).
"""

from __future__ import annotations

import heapq

from .pcap import _FIN, _SYN

__all__ = ["MAX_OUT_OF_ORDER"]

#: Bytes that may wait for a gap in a TCP stream to be filled before we call them lost.
MAX_OUT_OF_ORDER = 8 * 1024 * 1024


# --- TCP reassembly -------------------------------------------------------------------------------


def _seq_diff(a: int, b: int) -> int:
    """a - b in 32-bit sequence space (RFC 9293 §3.4: sequence numbers wrap around)."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d


class _LostBytes(Exception):
    pass


class _Reassembler:
    """Put one direction of a TCP connection back in order (RFC 9293 §3.4, §3.10.7.4).

    Segments are placed by their *stream offset* (bytes from the start of the stream), which,
    unlike a sequence number, never wraps: ``delivered`` is the offset of ``next_seq``, and a
    segment ``d`` sequence numbers ahead of ``next_seq`` starts at ``delivered + d``. Segments
    from the future wait in :attr:`pending`, their offsets in a heap (:mod:`heapq`), so the
    one that may fill the gap is always at hand: O(log n) per segment, however they arrive.
    """

    def __init__(self) -> None:
        self.next_seq: int | None = None  # the next byte expected
        self.delivered = 0  # bytes delivered in order so far: the stream offset of next_seq
        self.pending: dict[int, bytes] = {}  # stream offset -> a segment waiting for a gap
        self.starts: list[int] = []  # the keys of pending, as a heap (smallest first)
        self.pending_bytes = 0
        self.retransmissions = 0
        self.out_of_order = 0
        self.fin_seq: int | None = None

    def push(self, seq: int, flags: int, data: bytes) -> list[bytes]:
        """Add a segment; return the bytes that are now in order (maybe none)."""
        next_seq = self.next_seq
        if flags & _SYN:
            seq = (seq + 1) & 0xFFFFFFFF  # the SYN takes one sequence number; data follows
            if next_seq is None:
                self.next_seq = next_seq = seq
        if next_seq is None:  # a capture that started after the SYN
            self.next_seq = next_seq = seq
        if flags & _FIN:
            self.fin_seq = (seq + len(data)) & 0xFFFFFFFF
        if not data:
            return []
        if seq == next_seq and not self.starts:  # the common case: in order, nothing waits
            self.next_seq = (seq + len(data)) & 0xFFFFFFFF
            self.delivered += len(data)
            return [data]
        offset = _seq_diff(seq, next_seq)
        if offset + len(data) <= 0:  # every byte delivered already: a retransmission
            self.retransmissions += 1
            return []
        if offset > 0:  # from the future: wait for the gap to be filled
            self.wait(self.delivered + offset, data)
            return []
        out = [data[-offset:] if offset else data]
        self.advance(len(out[0]))
        starts, pending = self.starts, self.pending
        while starts and starts[0] <= self.delivered:  # the gap before it is filled now
            start = heapq.heappop(starts)
            chunk = pending.pop(start)
            self.pending_bytes -= len(chunk)
            skip = self.delivered - start  # bytes of it delivered already (overlap)
            if skip < len(chunk):
                out.append(chunk[skip:] if skip else chunk)
                self.advance(len(out[-1]))
        return out

    def wait(self, start: int, data: bytes) -> None:
        """Keep a segment from the future until the bytes before it arrive."""
        known = self.pending.get(start)
        if known is not None and len(known) >= len(data):  # a repeat of a waiting segment
            self.retransmissions += 1
            return
        self.out_of_order += 1
        if known is None:
            heapq.heappush(self.starts, start)
        self.pending_bytes += len(data) - (len(known) if known is not None else 0)
        self.pending[start] = data
        if self.pending_bytes > MAX_OUT_OF_ORDER:
            raise _LostBytes(
                f"{self.pending_bytes} bytes wait for a gap at sequence number "
                f"{self.next_seq} that never fills: the capture lost packets"
            )

    def advance(self, n: int) -> None:
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + n) & 0xFFFFFFFF
        self.delivered += n

    @property
    def gap(self) -> int:
        """Bytes missing before the first waiting segment (0 when none waits)."""
        return self.starts[0] - self.delivered if self.starts else 0

    def clear(self) -> None:
        """Forget the waiting segments (decoding this direction stopped)."""
        self.pending.clear()
        self.starts.clear()
        self.pending_bytes = 0

    @property
    def finished(self) -> bool:
        """Has every byte up to the FIN arrived?"""
        return self.fin_seq is not None and self.next_seq == self.fin_seq
