"""A byte buffer that parsers read from: fed with whatever chunks arrive.

TCP delivers a *stream* of bytes, not messages: one ``recv()`` may return half a frame, or three
frames and the start of a fourth. The article's server assumed one ``recv(1024)`` is one frame;
this module is the fix. Bytes go in with :meth:`StreamReader.feed_data`, and parsers written as
generators ask for exact amounts with :meth:`StreamReader.read_exact` and
:meth:`StreamReader.read_line`. While not enough bytes have arrived, the generator pauses
(``yield``) and the caller feeds more data later. The same parser therefore decodes a live socket
and a TCP stream reassembled from a capture file.

The pattern is the one python-websockets uses (``websockets/streams.py``)::

    reader = StreamReader()
    parser = Frame.parse(reader.read_exact, mask=True)   # a generator
    next(parser)                                         # runs until it needs data
    reader.feed_data(chunk)                              # later: more bytes arrived
    parser.send(None)  -> StopIteration(value=frame)     # finished: .value is the result
"""

from __future__ import annotations

from collections.abc import Callable, Generator

__all__ = ["StreamReader"]


class StreamReader:
    """Buffer incoming bytes; let generator-based parsers read lines and exact byte counts."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False

    def feed_data(self, data: bytes) -> None:
        """Append ``data`` to the buffer (the bytes one ``recv()`` returned)."""
        if self.eof:
            raise EOFError("stream ended")
        self.buffer += data

    def feed_eof(self) -> None:
        """Record that no more bytes will come (the peer closed its side of TCP)."""
        self.eof = True

    def read_line(self, max_length: int) -> Generator[None, None, bytes]:
        """Read one line, up to and including the next ``\\n`` (HTTP lines end with ``\\r\\n``).

        Returns the line including its terminator. Raises :class:`EOFError` if the stream ends
        first and :class:`RuntimeError` if no line ending shows up in ``max_length`` bytes: a
        security limit, so that a peer cannot make us buffer an endless line.
        """
        start = 0
        while True:
            end = self.buffer.find(b"\n", start) + 1
            if end > 0:
                break
            if len(self.buffer) > max_length:
                raise RuntimeError(f"line longer than {max_length} bytes")
            if self.eof:
                raise EOFError(f"stream ends after {len(self.buffer)} bytes, before end of line")
            start = len(self.buffer)
            yield
        if end > max_length:
            raise RuntimeError(f"line longer than {max_length} bytes")
        with memoryview(self.buffer) as view:
            line = bytes(view[:end])
        del self.buffer[:end]
        return line

    def read_exact(
        self, n: int, progress: Callable[[bytes], None] | None = None
    ) -> Generator[None, None, bytes]:
        """Read exactly ``n`` bytes; raise :class:`EOFError` if the stream ends first.

        ``progress``, if given, is called with each piece of the ``n`` bytes that arrives while
        the read still waits for the rest (not with the piece that completes it), so that a
        caller can look at a long payload before all of it is there: the connection checks the
        UTF-8 of a text frame that way. An exception it raises stops the read.
        """
        if n < 0:
            raise ValueError("n must be zero or positive")
        if len(self.buffer) < n:
            yield from self._wait_for(n, progress)
        with memoryview(self.buffer) as view:  # one copy, straight into the bytes returned
            data = bytes(view[:n])
        del self.buffer[:n]
        return data

    def read_exact_owned(
        self, n: int, progress: Callable[[bytes], None] | None = None
    ) -> Generator[None, None, bytearray]:
        """Read exactly ``n`` bytes, like :meth:`read_exact`, into a ``bytearray`` of the caller's.

        The caller may change it: a server unmasks a payload there, in place
        (:func:`wslib.masking.apply_mask_in_place`). When the buffer holds exactly ``n`` bytes,
        which is what a large payload at the end of what arrived looks like, the buffer itself
        is handed over and a new one started: no copy at all.
        """
        if n < 0:
            raise ValueError("n must be zero or positive")
        if len(self.buffer) < n:
            yield from self._wait_for(n, progress)
        if len(self.buffer) == n:
            data, self.buffer = self.buffer, bytearray()
            return data
        data = self.buffer[:n]
        del self.buffer[:n]
        return data

    def _wait_for(
        self, n: int, progress: Callable[[bytes], None] | None
    ) -> Generator[None, None, None]:
        """Pause until ``n`` bytes are buffered (see :meth:`read_exact` for ``progress``)."""
        seen = 0  # how many of the buffered bytes progress() has seen
        while len(self.buffer) < n:
            if progress is not None and len(self.buffer) > seen:
                with memoryview(self.buffer) as view:
                    piece = bytes(view[seen:])
                seen = len(self.buffer)
                progress(piece)
            if self.eof:
                missing = n - len(self.buffer)
                raise EOFError(f"stream ends {missing} bytes before the end of what was expected")
            yield

    def at_eof(self) -> Generator[None, None, bool]:
        """Wait until data arrives or the stream ends; return True only if it ended with no data."""
        while True:
            if self.buffer:
                return False
            if self.eof:
                return True
            yield

    def discard(self) -> None:
        """Drop everything buffered (after a fatal error, nothing more will be parsed)."""
        del self.buffer[:]
