"""Frames, the unit of data on the wire (RFC 6455 §5), and close frame payloads (§5.5.1, §7.4).

Every WebSocket message travels as one or more frames. RFC 6455 §5.2 draws a frame like this::

      0                   1                   2                   3
      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
     +-+-+-+-+-------+-+-------------+-------------------------------+
     |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
     |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
     |N|V|V|V|       |S|             |   (if payload len==126/127)   |
     | |1|2|3|       |K|             |                               |
     +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
     |     Extended payload length continued, if payload len == 127  |
     + - - - - - - - - - - - - - - - +-------------------------------+
     |                               |Masking-key, if MASK set to 1  |
     +-------------------------------+-------------------------------+
     | Masking-key (continued)       |          Payload Data         |
     +-------------------------------- - - - - - - - - - - - - - - - +
     :                     Payload Data continued ...                :
     + - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - +

:meth:`Frame.parse` reads exactly that, top to bottom, and :meth:`Frame.serialize` writes it.
The rules a frame must follow are checked in one place, :func:`check_frame`; each broken rule
raises :class:`~wslib.exceptions.ProtocolError` (close code 1002) with a message that names the
rule, or :class:`~wslib.exceptions.PayloadTooBig` (1009) for a frame over the size limit.
"""

from __future__ import annotations

import enum
import secrets
import struct
from collections.abc import Callable, Generator
from dataclasses import dataclass

from .exceptions import InvalidPayloadData, InvalidState, PayloadTooBig, ProtocolError
from .masking import NUMPY_FROM, apply_mask, apply_mask_in_place

__all__ = [
    "CLOSE_CODE_EXPLANATIONS",
    "CTRL_OPCODES",
    "DATA_OPCODES",
    "FIN",
    "MASK",
    "MAX_CONTROL_PAYLOAD",
    "OPCODE_BITS",
    "PAYLOAD_LEN_BITS",
    "RSV1",
    "RSV2",
    "RSV3",
    "RSV_BITS",
    "Close",
    "CloseCode",
    "Frame",
    "Opcode",
    "apply_mask",
    "check_frame",
    "is_sendable_close_code",
]

# --- the bits of the first two bytes (RFC 6455 §5.2) -------------------------------------------

# first byte
FIN = 0b1000_0000  #: FIN: this frame is the last one of its message
RSV1 = 0b0100_0000  #: RSV1: reserved for an extension (permessage-deflate uses it)
RSV2 = 0b0010_0000  #: RSV2: reserved for an extension
RSV3 = 0b0001_0000  #: RSV3: reserved for an extension
OPCODE_BITS = 0b0000_1111  #: the opcode: what the payload is
RSV_BITS = RSV1 | RSV2 | RSV3  #: the three reserved bits together
# second byte
MASK = 0b1000_0000  #: MASK: a 4-byte masking key follows the length (client-to-server frames)
PAYLOAD_LEN_BITS = 0b0111_1111  #: 0-125: the length; 126: a 16-bit length follows; 127: 64-bit

#: RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less"
MAX_CONTROL_PAYLOAD = 125


class Opcode(enum.IntEnum):
    """What a frame carries (RFC 6455 §5.2, §11.8). 0x3-0x7 and 0xB-0xF are reserved."""

    CONT = 0x0  #: continuation: the next piece of a fragmented message (§5.4)
    TEXT = 0x1  #: the first (or only) frame of a text message: UTF-8 (§5.6)
    BINARY = 0x2  #: the first (or only) frame of a binary message (§5.6)
    CLOSE = 0x8  #: close the connection; payload: optional code and reason (§5.5.1)
    PING = 0x9  #: are you there? The peer answers with a pong of the same payload (§5.5.2)
    PONG = 0xA  #: the answer to a ping, or an unsolicited heartbeat (§5.5.3)

    @property
    def is_control(self) -> bool:
        """Control frames (close, ping, pong) have the high bit of the opcode set (§5.5)."""
        return self >= 0x8


#: Opcodes of the frames that carry messages (RFC 6455 §5.6).
DATA_OPCODES = (Opcode.CONT, Opcode.TEXT, Opcode.BINARY)
#: Opcodes of the frames that manage the connection (RFC 6455 §5.5); they may arrive between
#: the fragments of a message.
CTRL_OPCODES = (Opcode.CLOSE, Opcode.PING, Opcode.PONG)

_OPCODES = {op.value: op for op in Opcode}
_RSV_NAMES = ((RSV1, "RSV1"), (RSV2, "RSV2"), (RSV3, "RSV3"))


class CloseCode(enum.IntEnum):
    """Why a connection is closed (RFC 6455 §7.4.1, and the IANA registry of §11.7).

    1000-1011 and 1015 come from RFC 6455 §7.4.1. 1012-1014 were registered at IANA after the
    RFC, in the range §7.4.2 keeps for "this protocol, its future revisions, and extensions";
    they are sent and received like the others. Outside this enum: 3000-3999 are registered at
    IANA for libraries, frameworks and applications, 4000-4999 are for private use (§7.4.2).
    """

    NORMAL_CLOSURE = 1000  #: the purpose of the connection is fulfilled
    GOING_AWAY = 1001  #: a server going down, or a browser leaving the page
    PROTOCOL_ERROR = 1002  #: the peer broke the framing rules
    UNSUPPORTED_DATA = 1003  #: a kind of data this endpoint cannot accept (say binary)
    # 1004 is reserved: its meaning "might be defined in the future"
    NO_STATUS_RCVD = 1005  #: [never sent] the close frame had no code
    ABNORMAL_CLOSURE = 1006  #: [never sent] the connection dropped without a close frame
    INVALID_DATA = 1007  #: a message whose data does not match its type (text not UTF-8)
    POLICY_VIOLATION = 1008  #: a message that breaks this endpoint's policy (generic)
    MESSAGE_TOO_BIG = 1009  #: a message too big to process
    MANDATORY_EXTENSION = 1010  #: (client) the server did not negotiate an extension we need
    INTERNAL_ERROR = 1011  #: (server) an unexpected condition stopped the server
    #: (server) the server is restarting: reconnect in a moment (IANA, after RFC 6455)
    SERVICE_RESTART = 1012
    #: (server) overloaded for now: reconnect later, not at once (IANA, after RFC 6455)
    TRY_AGAIN_LATER = 1013
    #: (gateway, proxy) the server behind it gave a bad answer (IANA, after RFC 6455)
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  #: [never sent] the TLS handshake failed

    @property
    def explanation(self) -> str:
        """A few words for logs and notebooks."""
        return CLOSE_CODE_EXPLANATIONS[self]


CLOSE_CODE_EXPLANATIONS: dict[int, str] = {
    CloseCode.NORMAL_CLOSURE: "normal closure",
    CloseCode.GOING_AWAY: "going away",
    CloseCode.PROTOCOL_ERROR: "protocol error",
    CloseCode.UNSUPPORTED_DATA: "unsupported data",
    CloseCode.NO_STATUS_RCVD: "no status received [never sent]",
    CloseCode.ABNORMAL_CLOSURE: "abnormal closure [never sent]",
    CloseCode.INVALID_DATA: "invalid frame payload data",
    CloseCode.POLICY_VIOLATION: "policy violation",
    CloseCode.MESSAGE_TOO_BIG: "message too big",
    CloseCode.MANDATORY_EXTENSION: "mandatory extension",
    CloseCode.INTERNAL_ERROR: "internal error",
    CloseCode.SERVICE_RESTART: "service restart",
    CloseCode.TRY_AGAIN_LATER: "try again later",
    CloseCode.BAD_GATEWAY: "bad gateway",
    CloseCode.TLS_HANDSHAKE: "TLS handshake failure [never sent]",
}

_CLOSE_CODES = {code.value: code for code in CloseCode}


def is_sendable_close_code(code: int) -> bool:
    """May ``code`` appear in a close frame on the wire? (RFC 6455 §7.4, and the IANA registry)

    Yes for 1000-1003 and 1007-1011 (defined by RFC 6455 §7.4.1), 1012-1014 (registered at IANA
    after the RFC: service restart, try again later, bad gateway) and 3000-4999 (§7.4.2:
    3000-3999 registered at IANA for libraries and frameworks, 4000-4999 for private use). No for
    0-999 ("not used"), 1004 (reserved), 1005, 1006 and 1015 ("MUST NOT be set as a status code
    in a Close control frame by an endpoint"), 1016-2999 (reserved for the protocol and its
    extensions, unassigned) and 5000 and up.

    Our choices: 1012-1014 are accepted and may be sent (a server restarting or overloaded closes
    with them, and python-websockets does the same), since the IANA registry, not only the
    RFC's text, says which codes exist. A code of 5000 or more cannot be "sent" either: RFC
    6455 defines codes up to 4999 and leaves open what a receiver does with a larger one; wslib
    fails the connection with 1002 (a protocol error), as it does for every other code that may
    not be sent. ``tests/test_frames.py`` checks this choice for every code 0-5000.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _check_opcode(value: int) -> Opcode:
    """Turn the 4 opcode bits into an :class:`Opcode`, refusing the reserved values."""
    opcode = _OPCODES.get(value)
    if opcode is None:
        kind = "non-control" if value < 0x8 else "control"
        # RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
        # WebSocket Connection_."
        raise ProtocolError(
            f"reserved opcode 0x{value:X}: 0x3-0x7 are reserved for further non-control frames "
            f"and 0xB-0xF for further control frames (RFC 6455 §5.2); this is a {kind} one "
            "that no extension defined"
        )
    return opcode


def check_frame(opcode: int, fin: bool, rsv: int, length: int, extensions_rsv: int = 0) -> None:
    """Every rule of RFC 6455 §5.2 and §5.5 that a frame's header must follow, in one place.

    ``rsv`` holds the RSV bits where they sit in the first byte (``head1 & RSV_BITS``) and
    ``extensions_rsv`` the bits that negotiated extensions use (for example :data:`RSV1` with
    permessage-deflate; 0 without extensions). Raises :class:`~wslib.exceptions.ProtocolError`
    (close code 1002) for: a reserved opcode; an RSV bit that no extension uses; a control frame
    with more than 125 bytes of payload; a fragmented control frame. :meth:`Frame.parse` calls it
    as soon as the header is read, before the payload; :meth:`Frame.check` on a finished frame.
    """
    op = _check_opcode(opcode)
    # RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated that defines meanings for
    # non-zero values. If a nonzero value is received and none of the negotiated extensions
    # defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
    # WebSocket Connection_."
    unexpected = rsv & ~extensions_rsv
    if unexpected:
        names = [name for bit, name in _RSV_NAMES if unexpected & bit]
        raise ProtocolError(
            f"{' and '.join(names)} set, but no negotiated extension uses "
            f"{'it' if len(names) == 1 else 'them'}: the reserved bits MUST be 0 unless an "
            "extension defines them (RFC 6455 §5.2)"
        )
    if op >= Opcode.CLOSE:  # a control frame: the high bit of the opcode is set (§5.5)
        # RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less"
        if length > MAX_CONTROL_PAYLOAD:
            raise ProtocolError(
                f"{op.name} frame with {length} bytes of payload: control frames carry at most "
                f"{MAX_CONTROL_PAYLOAD} bytes, so that they fit one small frame (RFC 6455 §5.5)"
            )
        # RFC 6455 §5.5: "and MUST NOT be fragmented"
        if not fin:
            raise ProtocolError(
                f"{op.name} frame with FIN clear: control frames MUST NOT be fragmented, they "
                "are always a single frame (RFC 6455 §5.5)"
            )


def _unmasking(check: Callable[[bytes], None], mask_key: bytes) -> Callable[[bytes], None]:
    """Wrap ``check`` so that it sees the pieces of a masked payload unmasked.

    Byte ``i`` of the payload is masked with ``mask_key[i % 4]`` (RFC 6455 §5.3), so a piece
    that starts at offset ``i`` is unmasked with the key turned by ``i % 4``.
    """
    offset = 0

    def check_unmasked(piece: bytes) -> None:
        nonlocal offset
        turn = offset % 4
        offset += len(piece)
        check(apply_mask(piece, mask_key[turn:] + mask_key[:turn]))

    return check_unmasked


def _describe(opcode: Opcode, payload: bytes, limit: int = 40) -> str:
    """A short preview of a payload: text for text, hex for bytes, code and reason for close."""
    if not payload:
        return "''"
    if opcode is Opcode.CLOSE:
        try:
            return str(Close.parse(payload))
        except ProtocolError:
            pass
    elif opcode is not Opcode.BINARY:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if text.isprintable():
                return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."
    shown = payload[: limit // 2].hex(" ")
    return shown + (" ..." if len(payload) > limit // 2 else "")


@dataclass(frozen=True)
class Frame:
    """One WebSocket frame (RFC 6455 §5.2): the fields that matter once it is off the wire.

    The MASK bit, the length and the masking key are not stored: :meth:`parse` and
    :meth:`serialize` handle them, because they depend on which side sends the frame.
    """

    opcode: Opcode
    payload: bytes
    fin: bool = True
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False

    @classmethod
    def parse(
        cls,
        read_exact: Callable[..., Generator[None, None, bytes]],
        *,
        mask: bool,
        max_size: int | None = None,
        extensions_rsv: int = 0,
        payload_checker: Callable[[Opcode], Callable[[bytes], None] | None] | None = None,
        read_owned: Callable[..., Generator[None, None, bytearray]] | None = None,
    ) -> Generator[None, None, Frame]:
        """Read one frame, field by field, as drawn in RFC 6455 §5.2 (a generator).

        ``read_exact`` is :meth:`wslib.StreamReader.read_exact`. ``mask=True`` on the server: the
        frame MUST be masked; ``mask=False`` on the client: it MUST NOT be. ``max_size`` bounds
        the payload: a larger length raises :class:`~wslib.exceptions.PayloadTooBig` (1009)
        straight from the header, before a single payload byte is read or allocated (``None``
        means no limit: only for trusted peers). ``extensions_rsv`` is the set of RSV bits that
        negotiated extensions use (default none).

        ``payload_checker``, if given, is called with the opcode once the header is read; it
        returns ``None`` or a function that sees the payload, unmasked, piece by piece while it
        arrives (it may raise to stop there). The connection uses it to fail a text frame at its
        first byte of invalid UTF-8, before the rest of a long frame arrives (RFC 6455 §8.1).
        ``read_exact`` must then accept a second argument, as
        :meth:`wslib.StreamReader.read_exact` does.

        ``read_owned``, if given, reads a large masked payload into a ``bytearray`` that the
        parser may change (:meth:`wslib.StreamReader.read_exact_owned`), so that it is unmasked
        where it lies instead of copied to unmask it (:func:`wslib.masking.apply_mask_in_place`).

        Lengths must use the shortest form (RFC 6455 §5.2: "the minimal number of bytes MUST be
        used to encode the length"): wslib rejects a longer form with a ProtocolError (1002), as
        wsproto does. python-websockets accepts them; the differential test allows for that.

        Raises :class:`~wslib.exceptions.ProtocolError` (1002) for a broken rule,
        :class:`~wslib.exceptions.PayloadTooBig` (1009), or :class:`EOFError` if the stream ends
        in the middle of the frame.
        """
        # Byte 0: FIN, RSV1-3, opcode. Byte 1: MASK, payload length (7 bits).
        head1, head2 = yield from read_exact(2)
        # An unknown opcode is refused here, before it becomes an Opcode.
        opcode = _check_opcode(head1 & OPCODE_BITS)

        masked = (head2 & MASK) != 0
        if masked != mask:
            if mask:
                # RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame
                # that is not masked."
                raise ProtocolError(
                    "unmasked frame from a client: a client MUST mask every frame it sends "
                    "(RFC 6455 §5.1), so that its bytes cannot be chosen by a script"
                )
            # RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame."
            raise ProtocolError(
                "masked frame from a server: a server MUST NOT mask the frames it sends "
                "(RFC 6455 §5.1)"
            )

        length = head2 & PAYLOAD_LEN_BITS
        if length == 126:
            (length,) = struct.unpack("!H", (yield from read_exact(2)))
            if length <= 125:
                raise ProtocolError(
                    f"Payload length used 2 bytes when 1 would have sufficed ({length}): the "
                    "minimal number of bytes MUST be used to encode the length (RFC 6455 §5.2)"
                )
        elif length == 127:
            (length,) = struct.unpack("!Q", (yield from read_exact(8)))
            # RFC 6455 §5.2: "the most significant bit MUST be 0"
            if length >> 63:
                raise ProtocolError(
                    "64-bit payload length with its most significant bit set: lengths are at "
                    "most 2**63 - 1 (RFC 6455 §5.2)"
                )
            if length <= 0xFFFF:
                needed = 1 if length <= 125 else 2
                raise ProtocolError(
                    f"Payload length used 8 bytes when {needed} would have sufficed ({length}): "
                    "the minimal number of bytes MUST be used to encode the length "
                    "(RFC 6455 §5.2)"
                )
        # A security limit, checked before reading (or allocating) the payload: otherwise a peer
        # could announce 2**63 - 1 bytes and make us buffer until memory runs out.
        if max_size is not None and length > max_size:
            raise PayloadTooBig(
                f"frame of {length} bytes, over this endpoint's limit of {max_size} bytes "
                "(close code 1009: message too big)"
            )
        # The other rules can be judged from the header too: fail before reading the payload.
        fin = (head1 & FIN) != 0
        check_frame(opcode, fin, head1 & RSV_BITS, length, extensions_rsv)

        mask_key = (yield from read_exact(4)) if mask else b""
        # Whoever wants to see the payload while it arrives (the UTF-8 check of a text frame).
        check = None if payload_checker is None else payload_checker(opcode)
        if mask and read_owned is not None and length >= NUMPY_FROM:
            # A large payload: read into a buffer of its own, unmasked there, in place (no copy
            # to unmask), and then made bytes, the one copy left (a frame's payload is bytes).
            if check is None:
                owned = yield from read_owned(length)
            else:
                owned = yield from read_owned(length, _unmasking(check, mask_key))
            apply_mask_in_place(owned, mask_key)
            payload = bytes(owned)
        else:
            if check is None:
                payload = yield from read_exact(length)
            else:
                payload = yield from read_exact(
                    length, _unmasking(check, mask_key) if mask else check
                )
            if mask:
                payload = apply_mask(payload, mask_key)
        # The same as cls(opcode, payload, fin, rsv1, rsv2, rsv3), only faster: see _new.
        return cls._new(
            opcode, payload, fin, (head1 & RSV1) != 0, (head1 & RSV2) != 0, (head1 & RSV3) != 0
        )

    @classmethod
    def _new(
        cls, opcode: Opcode, payload: bytes, fin: bool, rsv1: bool, rsv2: bool, rsv3: bool
    ) -> Frame:
        # A frozen dataclass's __init__ sets each field through object.__setattr__ (to get past
        # the "frozen" guard): six calls, a fifth of the time it takes to parse a small frame.
        # The parser builds frames by the thousand, so it fills the instance's __dict__ in one
        # step instead. The result is the same frozen Frame (tests/test_frames.py checks it).
        frame = object.__new__(cls)
        vars(frame).update(opcode=opcode, payload=payload, fin=fin, rsv1=rsv1, rsv2=rsv2, rsv3=rsv3)
        return frame

    def serialize(
        self,
        *,
        mask: bool,
        mask_key: bytes | None = None,
        extensions_rsv: int = 0,
        check: bool = True,
    ) -> bytes:
        """The frame's bytes on the wire (RFC 6455 §5.2), length in the shortest form.

        ``mask=True`` on the client (every client frame MUST be masked, §5.3): the key comes
        from a CSPRNG (:func:`secrets.token_bytes`) unless ``mask_key`` injects one for a test.
        ``mask=False`` on the server. The frame is checked first (:meth:`check`); sending an
        invalid frame is this program's mistake, so it raises
        :class:`~wslib.exceptions.InvalidState`. ``check=False`` skips that, to build broken
        frames on purpose (to see how a peer reacts).
        """
        if check:
            try:
                self.check(extensions_rsv=extensions_rsv)
            except ProtocolError as exc:
                raise InvalidState(f"refusing to send an invalid frame: {exc}") from exc
        if mask_key is not None and not mask:
            raise ValueError("mask_key given with mask=False: a server does not mask frames")
        if mask_key is not None and len(mask_key) != 4:
            raise ValueError("a masking key is 4 bytes (RFC 6455 §5.2)")

        head1 = (
            (FIN if self.fin else 0)
            | (RSV1 if self.rsv1 else 0)
            | (RSV2 if self.rsv2 else 0)
            | (RSV3 if self.rsv3 else 0)
            | self.opcode
        )
        head2 = MASK if mask else 0
        length = len(self.payload)
        if length <= 125:
            header = struct.pack("!BB", head1, head2 | length)
        elif length <= 0xFFFF:
            header = struct.pack("!BBH", head1, head2 | 126, length)
        else:
            header = struct.pack("!BBQ", head1, head2 | 127, length)

        if not mask:
            return header + self.payload
        # RFC 6455 §5.3: "The masking key needs to be unpredictable; thus, the masking key MUST
        # be derived from a strong source of entropy"
        if mask_key is None:
            mask_key = secrets.token_bytes(4)
        if length < NUMPY_FROM:
            return header + mask_key + apply_mask(self.payload, mask_key)
        # A large payload: header, key and payload copied once into the frame's buffer, and the
        # payload masked there, in place (apply_mask would copy it once more).
        frame = bytearray().join((header, mask_key, self.payload))
        apply_mask_in_place(memoryview(frame)[len(header) + 4 :], mask_key)
        return bytes(frame)

    def check(self, *, extensions_rsv: int = 0) -> None:
        """Check the frame against RFC 6455 §5.2 and §5.5 (see :func:`check_frame`).

        Raises :class:`~wslib.exceptions.ProtocolError` for a reserved opcode, an RSV bit not in
        ``extensions_rsv``, a control frame over 125 bytes or a fragmented control frame.
        """
        rsv = (RSV1 if self.rsv1 else 0) | (RSV2 if self.rsv2 else 0) | (RSV3 if self.rsv3 else 0)
        check_frame(self.opcode, self.fin, rsv, len(self.payload), extensions_rsv)

    def __str__(self) -> str:
        """One line, like a packet analyzer: ``TEXT fin=1 len=5 'Hello'``."""
        name = self.opcode.name if isinstance(self.opcode, Opcode) else f"0x{self.opcode:X}"
        rsv = "".join("1" if bit else "0" for bit in (self.rsv1, self.rsv2, self.rsv3))
        parts = [name, f"fin={int(self.fin)}"]
        if rsv != "000":
            parts.append(f"rsv={rsv}")
        parts.append(f"len={len(self.payload)}")
        parts.append(_describe(self.opcode, self.payload))
        return " ".join(parts)

    def __repr__(self) -> str:
        """``Frame(Opcode.TEXT, b'Hello')``: long payloads shortened, flags only if not default."""
        opcode = f"Opcode.{self.opcode.name}" if isinstance(self.opcode, Opcode) else self.opcode
        if len(self.payload) <= 40:
            payload = repr(self.payload)
        else:
            payload = f"{self.payload[:16]!r}...<{len(self.payload)} bytes>"
        flags = "".join(
            f", {name}={value}"
            for name, value, default in (
                ("fin", self.fin, True),
                ("rsv1", self.rsv1, False),
                ("rsv2", self.rsv2, False),
                ("rsv3", self.rsv3, False),
            )
            if value != default
        )
        return f"Frame({opcode}, {payload}{flags})"


@dataclass(frozen=True)
class Close:
    """The payload of a close frame: a 2-byte code and a UTF-8 reason (RFC 6455 §5.5.1).

    ``Close(CloseCode.NO_STATUS_RCVD, "")`` stands for a close frame with an empty payload
    (§7.1.5: "If this Close control frame contains no status code, _The WebSocket Connection
    Close Code_ is considered to be 1005").
    """

    code: int
    reason: str

    #: 125 bytes of control frame payload, minus 2 for the code (RFC 6455 §5.5)
    MAX_REASON = 123

    @classmethod
    def parse(cls, data: bytes) -> Close:
        """Read a close frame's payload (RFC 6455 §5.5.1, §7.4).

        Empty -> ``Close(1005, "")``. Raises :class:`~wslib.exceptions.ProtocolError` (1002) for
        a 1-byte payload, a payload over 125 bytes or a code that may not be sent (see
        :func:`is_sendable_close_code`; codes of 5000 and up included: the RFC leaves open what
        to do with them, and 1002 is our choice), and
        :class:`~wslib.exceptions.InvalidPayloadData` (1007) for a reason that is not UTF-8.
        """
        if not data:
            return cls(CloseCode.NO_STATUS_RCVD, "")
        # RFC 6455 §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
        # unsigned integer (in network byte order) representing a status code"
        if len(data) == 1:
            raise ProtocolError(
                "close frame with a 1-byte payload: the body is empty, or a 2-byte code "
                "followed by an optional reason (RFC 6455 §5.5.1)"
            )
        if len(data) > MAX_CONTROL_PAYLOAD:
            raise ProtocolError(
                f"close frame with {len(data)} bytes of payload: control frames carry at most "
                f"{MAX_CONTROL_PAYLOAD} bytes (RFC 6455 §5.5)"
            )
        (code,) = struct.unpack("!H", data[:2])
        if not is_sendable_close_code(code):
            raise ProtocolError(
                f"close code {code} may not be sent in a close frame: valid codes are "
                "1000-1003, 1007-1014 and 3000-4999 (RFC 6455 §7.4, IANA)"
            )
        try:
            # RFC 6455 §5.5.1: the reason "is not guaranteed to be human readable", but it is
            # UTF-8, and §8.1: invalid UTF-8 means "_Fail the WebSocket Connection_"
            reason = data[2:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPayloadData(
                f"close reason is not valid UTF-8 ({exc.reason} at byte {exc.start}): the "
                "reason MUST be UTF-8 (RFC 6455 §5.5.1, §8.1)"
            ) from exc
        return cls(_CLOSE_CODES.get(code, code), reason)

    def serialize(self) -> bytes:
        """The close frame's payload: 2-byte code (big-endian) + UTF-8 reason (RFC 6455 §5.5.1).

        ``Close(1005, "")`` gives ``b""``, the way to close without a code. Raises
        :class:`~wslib.exceptions.InvalidState` for a code that may not be sent or a reason over
        123 bytes of UTF-8: both are this program's mistake, not the peer's.
        """
        if self.code == CloseCode.NO_STATUS_RCVD and not self.reason:
            return b""
        if not is_sendable_close_code(self.code):
            raise InvalidState(
                f"close code {self.code} may not be sent: use 1000-1003, 1007-1014 or "
                "3000-4999 (RFC 6455 §7.4, IANA)"
            )
        try:
            reason = self.reason.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidState(f"close reason cannot be encoded as UTF-8: {exc}") from exc
        if len(reason) > self.MAX_REASON:
            raise InvalidState(
                f"close reason of {len(reason)} bytes: at most {self.MAX_REASON} bytes of UTF-8 "
                "fit in a control frame (125 bytes, 2 of them for the code; RFC 6455 §5.5)"
            )
        return struct.pack("!H", self.code) + reason

    def __str__(self) -> str:
        """``1000 (normal closure) bye``."""
        if self.code in CLOSE_CODE_EXPLANATIONS:
            explanation = CLOSE_CODE_EXPLANATIONS[self.code]
        elif 3000 <= self.code <= 3999:
            explanation = "registered at IANA"
        elif 4000 <= self.code <= 4999:
            explanation = "private use"
        else:
            explanation = "unknown"
        text = f"{int(self.code)} ({explanation})"
        # The reason is the peer's text: control characters (CR LF, ANSI escapes) would forge
        # or repaint the lines a log or a terminal shows, so those are escaped.
        reason = self.reason if self.reason.isprintable() else repr(self.reason)
        return f"{text} {reason}" if self.reason else text
