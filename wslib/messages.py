"""Messages out of frames: fragmentation and reassembly (RFC 6455 §5.4, §5.6).

A message is one frame, or a TEXT/BINARY frame with FIN clear followed by CONT frames, the last
with FIN set. Control frames (ping, pong, close) may arrive between the fragments (§5.4: "Control
frames MAY be injected in the middle of a fragmented message"); the connection answers them
itself and feeds only data frames to :class:`MessageAssembler`.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from .exceptions import InvalidPayloadData, InvalidState, PayloadTooBig, ProtocolError
from .frames import Frame, Opcode

__all__ = ["MAX_FRAGMENTS", "MessageAssembler", "fragment"]

#: The most frames one message may have, by default. A frame costs its sender 2 bytes (6 from a
#: client) and may be empty, so ``max_size`` alone does not bound a message in progress: a peer
#: could send ``BINARY fin=0`` and then empty continuations forever. 4096 frames carry the
#: default ``max_size`` (1 MiB) in fragments of 256 bytes; real senders fragment in kilobytes,
#: or not at all (browsers send one frame per message). Raise it with ``max_size``.
MAX_FRAGMENTS = 4096


def _check_utf8(decoder: codecs.IncrementalDecoder, data: bytes, *, final: bool) -> None:
    """Feed ``data`` to an incremental UTF-8 ``decoder``; InvalidPayloadData (1007) at the first
    byte that can never be part of UTF-8 (RFC 6455 §8.1: "_Fail the WebSocket Connection_")."""
    try:
        # The decoder keeps an unfinished code point for the next piece, but fails at once on
        # bytes that can never become UTF-8. Only the verdict counts: the text is dropped.
        decoder.decode(data, final=final)
    except UnicodeDecodeError as exc:
        raise InvalidPayloadData(
            f"text message is not valid UTF-8 ({exc.reason}): text frames MUST carry UTF-8 "
            "(RFC 6455 §5.6, §8.1)"
        ) from exc
    # One gap in CPython's decoder: it keeps ED A0-ED BF waiting for a third byte, although no
    # third byte can help (they start a UTF-16 surrogate, U+D800-U+DFFF, which UTF-8 forbids).
    # Fail now, like for every other impossible prefix.
    pending = decoder.getstate()[0]
    if pending[:1] == b"\xed" and pending[1:2] >= b"\xa0":
        raise InvalidPayloadData(
            "text message is not valid UTF-8 (ED A0-BF starts a UTF-16 surrogate, "
            "U+D800-U+DFFF, which UTF-8 never encodes): text frames MUST carry UTF-8 "
            "(RFC 6455 §5.6, §8.1)"
        )


class MessageAssembler:
    """Put fragmented messages back together, checking the order of frames and the UTF-8 of text.

    Feed every data frame (TEXT, BINARY, CONT) in the order received; :meth:`feed` returns the
    message (``str`` for text, ``bytes`` for binary) when a frame with FIN completes it, and
    ``None`` before. ``max_size`` bounds the whole message in bytes and ``max_fragments`` in
    frames (default :data:`MAX_FRAGMENTS`; ``None``: no limit for either).

    What a message in progress costs is its payload bytes and nothing per frame: the fragments
    are appended to one ``bytearray``, so empty ones take no memory at all.

    After an error the connection is failed; the assembler forgets the broken message.
    """

    def __init__(
        self, max_size: int | None = 2**20, max_fragments: int | None = MAX_FRAGMENTS
    ) -> None:
        self.max_size = max_size
        self.max_fragments = max_fragments
        self._opcode: Opcode | None = None  # TEXT or BINARY while a message is in progress
        self._payload = bytearray()  # the fragments so far, joined
        self._fragments = 0  # how many frames the message in progress has had
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    @property
    def in_progress(self) -> bool:
        """True between the first fragment of a message and its last one."""
        return self._opcode is not None

    def _reset(self) -> None:
        self._opcode = None
        self._payload = bytearray()
        self._fragments = 0
        self._decoder.reset()

    def feed(self, frame: Frame) -> str | bytes | None:
        """Add one data frame (RFC 6455 §5.4); return the message it completes, or ``None``.

        Raises :class:`~wslib.exceptions.ProtocolError` (1002) for a CONT frame with no message
        to continue, or a TEXT/BINARY frame while a message is unfinished;
        :class:`~wslib.exceptions.InvalidPayloadData` (1007) as soon as text stops being UTF-8;
        :class:`~wslib.exceptions.PayloadTooBig` (1009) as soon as the message grows over
        ``max_size`` bytes or ``max_fragments`` frames. Feeding a control frame is the caller's
        mistake: :class:`~wslib.exceptions.InvalidState`.
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

        # RFC 6455 §10.4: implementations "MUST protect themselves against exceeding those
        # limits": in bytes, and in frames, which cost the peer almost nothing. 1009 rather than
        # 1008: the message is too big to process, counted in frames instead of bytes, and 1009
        # tells an honest sender what to change (fewer, larger fragments).
        self._fragments += 1
        if self.max_fragments is not None and self._fragments > self.max_fragments:
            count = self._fragments
            self._reset()
            raise PayloadTooBig(
                f"message of {count} frames so far, over this endpoint's limit of "
                f"{self.max_fragments} frames per message (close code 1009: message too big)"
            )
        size = len(self._payload) + len(frame.payload)
        if self.max_size is not None and size > self.max_size:
            self._reset()
            raise PayloadTooBig(
                f"message of {size} bytes so far, over this endpoint's limit of "
                f"{self.max_size} bytes (close code 1009: message too big)"
            )

        message: str | bytes
        if frame.fin and self._fragments == 1:
            # A message of one frame, the usual case: decode it once, no copy.
            self._reset()
            if frame.opcode is Opcode.BINARY:
                return frame.payload
            try:
                return frame.payload.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidPayloadData(
                    f"text message is not valid UTF-8 ({exc.reason}): text frames MUST carry "
                    "UTF-8 (RFC 6455 §5.6, §8.1)"
                ) from exc

        if self._opcode is Opcode.TEXT:
            try:
                _check_utf8(self._decoder, frame.payload, final=frame.fin)
            except InvalidPayloadData:
                self._reset()
                raise
        self._payload += frame.payload
        if not frame.fin:
            return None
        if self._opcode is Opcode.TEXT:
            message = self._payload.decode("utf-8")  # checked piece by piece already
        else:
            message = bytes(self._payload)
        self._reset()
        return message

    def payload_checker(self, opcode: Opcode) -> Callable[[bytes], None] | None:
        """For a frame whose header was just read: a check of its payload's pieces, or None.

        For a TEXT frame, or a CONT frame of a text message, a function that checks the UTF-8
        of each piece of the payload as it arrives, carrying on from the last fragment (a code
        point may be split between frames), and raises
        :class:`~wslib.exceptions.InvalidPayloadData` (1007) at the first impossible byte. It
        only looks: :meth:`feed` still checks the whole frame. :meth:`Frame.parse
        <wslib.frames.Frame.parse>` takes this method as its ``payload_checker``.
        """
        if opcode is Opcode.TEXT and self._opcode is None:
            state = (b"", 0)
        elif opcode is Opcode.CONT and self._opcode is Opcode.TEXT:
            state = self._decoder.getstate()  # a character may be left open by the last frame
        else:
            return None
        # Made on the first piece only: a frame that arrives whole never calls check().
        decoder: codecs.IncrementalDecoder | None = None

        def check(piece: bytes) -> None:
            nonlocal decoder
            if decoder is None:
                decoder = codecs.getincrementaldecoder("utf-8")()
                decoder.setstate(state)
            _check_utf8(decoder, piece, final=False)

        return check


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
