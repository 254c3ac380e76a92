"""TCP reassembly: one direction of a connection put back in sequence-number order.

RFC 9293 §3.4 (sequence numbers, which wrap around 2**32) and §3.10.7.4 (segment arrival):
a segment whose bytes were all delivered already is a retransmission and is dropped (counted);
a segment that overlaps delivered bytes contributes only its new bytes; a segment from the
future waits until the gap before it is filled, at most :data:`MAX_OUT_OF_ORDER` bytes of them
(after that the capture has lost packets: ``_LostBytes``).
"""

from __future__ import annotations

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
    """Put one direction of a TCP connection back in order (RFC 9293 §3.4, §3.10.7.4)."""

    def __init__(self) -> None:
        self.next_seq: int | None = None  # the next byte expected
        self.pending: dict[int, bytes] = {}  # segments that arrived before a gap was filled
        self.pending_bytes = 0
        self.retransmissions = 0
        self.out_of_order = 0
        self.fin_seq: int | None = None

    def push(self, seq: int, flags: int, data: bytes) -> list[bytes]:
        """Add a segment; return the bytes that are now in order (maybe none)."""
        if flags & _SYN:
            seq = (seq + 1) & 0xFFFFFFFF  # the SYN takes one sequence number; data follows
            if self.next_seq is None:
                self.next_seq = seq
        if self.next_seq is None:  # a capture that started after the SYN
            self.next_seq = seq
        if flags & _FIN:
            self.fin_seq = (seq + len(data)) & 0xFFFFFFFF
        if not data:
            return []
        offset = _seq_diff(seq, self.next_seq)
        if offset + len(data) <= 0:  # every byte delivered already: a retransmission
            self.retransmissions += 1
            return []
        if offset > 0:  # from the future: wait for the gap to be filled
            if seq in self.pending and len(self.pending[seq]) >= len(data):
                self.retransmissions += 1
                return []
            self.out_of_order += 1
            self.pending_bytes += len(data) - len(self.pending.get(seq, b""))
            self.pending[seq] = data
            if self.pending_bytes > MAX_OUT_OF_ORDER:
                raise _LostBytes(
                    f"{self.pending_bytes} bytes wait for a gap at sequence number "
                    f"{self.next_seq} that never fills: the capture lost packets"
                )
            return []
        out = [data[-offset:] if offset else data]
        self.next_seq = (self.next_seq + len(out[0])) & 0xFFFFFFFF
        while self.pending:
            progress = False
            for start in list(self.pending):
                offset = _seq_diff(start, self.next_seq)
                if offset > 0:
                    continue
                chunk = self.pending.pop(start)
                self.pending_bytes -= len(chunk)
                progress = True
                if offset + len(chunk) > 0:
                    out.append(chunk[-offset:] if offset else chunk)
                    self.next_seq = (self.next_seq + len(out[-1])) & 0xFFFFFFFF
            if not progress:
                break
        return out

    @property
    def finished(self) -> bool:
        """Has every byte up to the FIN arrived?"""
        return self.fin_seq is not None and self.next_seq == self.fin_seq
