"""Messages out of frames: fragmentation and reassembly (RFC 6455 §5.4, §5.6).

A message is one frame, or a TEXT/BINARY frame with FIN clear followed by CONT frames, the last
with FIN set. Control frames (ping, pong, close) may arrive between the fragments (§5.4: "Control
frames MAY be injected in the middle of a fragmented message"); the connection answers them
itself and feeds only data frames to :class:`MessageAssembler`.
"""

from __future__ import annotations

import codecs

from .exceptions import InvalidPayloadData, InvalidState, PayloadTooBig, ProtocolError
from .frames import Frame, Opcode

__all__ = ["MessageAssembler", "fragment"]


class MessageAssembler:
    """Put fragmented messages back together, checking the order of frames and the UTF-8 of text.

    Feed every data frame (TEXT, BINARY, CONT) in the order received; :meth:`feed` returns the
    message (``str`` for text, ``bytes`` for binary) when a frame with FIN completes it, and
    ``None`` before. ``max_size`` bounds the whole message in bytes (``None``: no limit).

    After an error the connection is failed; the assembler forgets the broken message.
    """

    def __init__(self, max_size: int | None = 2**20) -> None:
        self.max_size = max_size
        self._opcode: Opcode | None = None  # TEXT or BINARY while a message is in progress
        self._parts: list[bytes] = []
        self._text: list[str] = []
        self._size = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    @property
    def in_progress(self) -> bool:
        """True between the first fragment of a message and its last one."""
        return self._opcode is not None

    def _reset(self) -> None:
        self._opcode = None
        self._parts = []
        self._text = []
        self._size = 0
        self._decoder.reset()

    def feed(self, frame: Frame) -> str | bytes | None:
        """Add one data frame (RFC 6455 §5.4); return the message it completes, or ``None``.

        Raises :class:`~wslib.exceptions.ProtocolError` (1002) for a CONT frame with no message
        to continue, or a TEXT/BINARY frame while a message is unfinished;
        :class:`~wslib.exceptions.InvalidPayloadData` (1007) as soon as text stops being UTF-8;
        :class:`~wslib.exceptions.PayloadTooBig` (1009) as soon as the message grows over
        ``max_size``. Feeding a control frame is the caller's mistake:
        :class:`~wslib.exceptions.InvalidState`.
        """
        if frame.opcode.is_control:
            raise InvalidState(
                f"{frame.opcode.name} is a control frame: answer it in the connection, feed only "
                "TEXT, BINARY and CONT frames to the assembler"
            )
        if frame.opcode is Opcode.CONT:
            if self._opcode is None:
                # RFC 6455 §5.4: a fragmented message starts with FIN clear and a non-zero opcode
                raise ProtocolError(
                    "continuation frame with no message to continue: a fragmented message "
                    "starts with a TEXT or BINARY frame (RFC 6455 §5.4)"
                )
        else:
            if self._opcode is not None:
                # RFC 6455 §5.4: "the fragments of one message MUST NOT be interleaved between
                # the fragments of another message"
                self._reset()
                raise ProtocolError(
                    f"{frame.opcode.name} frame while a message is unfinished: the next data "
                    "frame must be a continuation (CONT); messages MUST NOT be interleaved "
                    "(RFC 6455 §5.4)"
                )
            self._opcode = frame.opcode

        self._size += len(frame.payload)
        if self.max_size is not None and self._size > self.max_size:
            size = self._size
            self._reset()
            raise PayloadTooBig(
                f"message of {size} bytes so far, over this endpoint's limit of "
                f"{self.max_size} bytes (close code 1009: message too big)"
            )

        if self._opcode is Opcode.TEXT:
            # An incremental decoder keeps an unfinished code point for the next fragment, but
            # fails at once on bytes that can never become UTF-8 (RFC 6455 §8.1: "_Fail the
            # WebSocket Connection_" when the text "is not valid UTF-8").
            try:
                self._text.append(self._decoder.decode(frame.payload, final=frame.fin))
            except UnicodeDecodeError as exc:
                self._reset()
                raise InvalidPayloadData(
                    f"text message is not valid UTF-8 ({exc.reason}): text frames MUST carry "
                    "UTF-8 (RFC 6455 §5.6, §8.1)"
                ) from exc
            # One gap in CPython's decoder: it keeps ED A0-ED BF waiting for a third byte,
            # although no third byte can help (they start a UTF-16 surrogate, U+D800-U+DFFF,
            # which UTF-8 forbids). Fail now, like for every other impossible prefix.
            pending = self._decoder.getstate()[0]
            if pending[:1] == b"\xed" and pending[1:2] >= b"\xa0":
                self._reset()
                raise InvalidPayloadData(
                    "text message is not valid UTF-8 (ED A0-BF starts a UTF-16 surrogate, "
                    "U+D800-U+DFFF, which UTF-8 never encodes): text frames MUST carry UTF-8 "
                    "(RFC 6455 §5.6, §8.1)"
                )
        else:
            self._parts.append(frame.payload)

        if not frame.fin:
            return None
        message: str | bytes
        message = "".join(self._text) if self._opcode is Opcode.TEXT else b"".join(self._parts)
        self._reset()
        return message


def fragment(message: str | bytes, size: int) -> list[Frame]:
    """Split a message into frames of at most ``size`` payload bytes (RFC 6455 §5.4).

    The first frame is TEXT (for ``str``) or BINARY (for ``bytes``), the others CONT; only the
    last has FIN set. Text is cut on byte boundaries, which may fall inside a code point: that is
    allowed, and the receiver's incremental UTF-8 check copes with it. An empty message is one
    empty frame.
    """
    if size < 1:
        raise ValueError("size must be at least 1 byte")
    if isinstance(message, str):
        opcode, data = Opcode.TEXT, message.encode("utf-8")
    else:
        opcode, data = Opcode.BINARY, bytes(message)
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    last = len(chunks) - 1
    return [
        Frame(opcode if i == 0 else Opcode.CONT, chunk, fin=i == last)
        for i, chunk in enumerate(chunks)
    ]
