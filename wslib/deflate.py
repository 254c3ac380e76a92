"""permessage-deflate: compressed messages (RFC 7692), negotiated in the handshake.

With this extension each message may be compressed with DEFLATE (RFC 1951). The sender sets
RSV1 on the *first* frame of a compressed message (RFC 7692 §6: the "Per-Message Compressed"
bit); the other frames, and control frames, keep RSV1 clear::

    sender                                               receiver
    "hello hello hello"                                  "hello hello hello"
       │ deflate, flush (Z_SYNC_FLUSH)                       ▲ inflate
       ▼                                                     │
    ca 48 cd c9 c9 57 c8 40 27 00 00 00 ff ff            ca 48 ... 00 + 00 00 ff ff
       │ remove the 4-byte tail 00 00 ff ff (§7.2.1)          ▲ add it back (§7.2.2)
       ▼                                                     │
    TEXT fin=1 rsv=100 len=10 ───────── the wire ──────────► │

Both sides keep their compressor's and decompressor's state from one message to the next
("context takeover"), so that the second JSON message with the same keys as the first costs a
few bytes. Either side may ask that a direction starts afresh for every message instead
(``server_no_context_takeover``, ``client_no_context_takeover``), and limit the LZ77 window of a
direction (``server_max_window_bits``, ``client_max_window_bits``, 8 to 15: a window of 2**N
bytes): both trade compression for memory, the cost of this extension per connection.

The module has three parts, all without I/O:

1. :class:`DeflateConfig`: what this endpoint offers (a client) or accepts (a server), with the
   memory parameters of zlib.
2. Negotiation (RFC 7692 §5, §7.1): :func:`server_extension` reads the client's offers and
   writes the answer into the 101; :func:`client_offer` writes the offer into the request and
   :func:`client_extension` checks the answer ("fails the handshake" with
   :class:`~wslib.exceptions.InvalidResponse` on anything the client did not allow). They all
   return a :class:`PerMessageDeflate` or ``None``, which a
   :class:`~wslib.protocol.Connection` takes as ``deflate=``.
3. :class:`PerMessageDeflate`: the codec of one connection. :meth:`~PerMessageDeflate.encode`
   builds the data frames to send; :meth:`~PerMessageDeflate.decode` turns a received frame
   into its inflated payload, **never producing more than the bytes left of** ``max_size``: a
   decompression bomb (a few KiB that inflate to gigabytes) fails with 1009 after at most
   ``max_size`` bytes of output, whatever it would inflate to.

Choices where the RFC leaves one:

- A whole message (``fin=True`` on its first frame) goes out *uncompressed* (RSV1 clear) when
  compressing does not make it smaller and the compressor starts afresh for each message
  anyway (no context takeover on our side). With context takeover, it goes out compressed
  all the same: the peer's decompressor must see every byte our compressor saw, and rolling the
  compressor back would cost a copy of its state (~100 KiB) for every message.
- A fragmented message (``fin=False`` on its first frame) is always compressed, each fragment
  flushed (``Z_SYNC_FLUSH``) so that it can go out at once.
- Data that does not inflate (a broken DEFLATE stream) fails with 1002, like python-websockets.
- ``server_max_window_bits=8`` is declined, and a server's answer ``client_max_window_bits=8``
  fails the handshake: zlib cannot *compress* with a 256-byte window (it refuses raw DEFLATE
  with 8 bits), and compressing with a larger window would break the peer's decompressor.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from .exceptions import (
    InvalidHeader,
    InvalidResponse,
    InvalidState,
    PayloadTooBig,
    ProtocolError,
)
from .extensions import Extension, Param, parse_extensions, serialize_extensions
from .frames import Frame, Opcode
from .handshake import Request, Response

__all__ = [
    "EMPTY_BLOCK",
    "EXTENSION_NAME",
    "DeflateConfig",
    "DeflateParameters",
    "PerMessageDeflate",
    "client_extension",
    "client_offer",
    "compression_config",
    "parse_parameters",
    "server_extension",
]

#: The extension's name in ``Sec-WebSocket-Extensions`` (RFC 7692 §6).
EXTENSION_NAME = "permessage-deflate"
#: What ``Z_SYNC_FLUSH`` writes at the end: an empty stored block. RFC 7692 §7.2.1: the sender
#: removes it, §7.2.2: the receiver appends it again before inflating.
EMPTY_BLOCK = b"\x00\x00\xff\xff"

#: A final frame's payload up to this size gets the tail appended before one call to zlib (a
#: copy, cheap when small); a larger one is inflated, then the tail, in two calls.
_JOIN_LIMIT = 64 * 1024

_PARAMETERS = (
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
)


@dataclass(frozen=True)
class DeflateParameters:
    """The four parameters of RFC 7692 §7.1, as an offer or an answer carries them.

    ``*_max_window_bits`` are ``None`` when absent. In an offer, ``client_max_window_bits``
    may come without a value (the client "supports the client_max_window_bits extension
    parameter in an extension negotiation response", §7.1.2.2); :func:`parse_parameters` reads
    it as 15, which leaves the server the same choice (any value up to 15).
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None

    def params(self, *, offer: bool = False) -> tuple[Param, ...]:
        """The parameters as ``(name, value)`` pairs, for :func:`serialize_extensions`.

        ``offer=True`` writes ``client_max_window_bits=15`` without its value, as browsers do.
        """
        params: list[Param] = []
        if self.server_no_context_takeover:
            params.append(("server_no_context_takeover", None))
        if self.client_no_context_takeover:
            params.append(("client_no_context_takeover", None))
        if self.server_max_window_bits is not None:
            params.append(("server_max_window_bits", str(self.server_max_window_bits)))
        if self.client_max_window_bits is not None:
            bits = self.client_max_window_bits
            params.append(("client_max_window_bits", None if offer and bits == 15 else str(bits)))
        return tuple(params)

    def __str__(self) -> str:
        """The header value: ``permessage-deflate; server_no_context_takeover; ...``."""
        return serialize_extensions([(EXTENSION_NAME, self.params())])


def parse_parameters(params: Sequence[Param], *, offer: bool) -> DeflateParameters:
    """Read the parameters of one permessage-deflate offer (``offer=True``) or answer.

    Raises :class:`ValueError` for what RFC 7692 §7 forbids: an unknown parameter ("an
    extension parameter not defined for use in an offer", or in a response), a parameter given
    twice ("multiple extension parameters with the same name"), a value where none is allowed, a
    window size that is not a decimal integer 8-15 without leading zeros (§7.1.2.1: ``1*DIGIT``,
    "between 8 to 15, inclusive"), and in an answer ``client_max_window_bits`` without a value.
    A server declines such an offer; a client fails the handshake on such an answer.
    """
    seen: set[str] = set()
    values: dict[str, int | bool] = {}
    where = "offer" if offer else "answer"
    for name, value in params:
        if name not in _PARAMETERS:
            # §7: "The negotiation offer contains an extension parameter not defined for use
            # in an offer." (and the same for a response)
            raise ValueError(f"unknown parameter {name!r} in a permessage-deflate {where}")
        if name in seen:
            # §7: "The negotiation offer contains multiple extension parameters with the
            # same name."
            raise ValueError(f"parameter {name!r} appears twice in a permessage-deflate {where}")
        seen.add(name)
        if name.endswith("_no_context_takeover"):
            # §7.1.1.1, §7.1.1.2: "This extension parameter has no value."
            if value is not None:
                raise ValueError(f"{name} takes no value, got {name}={value} (RFC 7692 §7.1.1)")
            values[name] = True
            continue
        if value is None:
            if name == "client_max_window_bits" and offer:
                values[name] = 15  # §7.1.2.2: "the client supports" any value the server picks
                continue
            raise ValueError(f"{name} needs a value 8-15 in a permessage-deflate {where}")
        # §7.1.2.1: the value "MUST conform to the ABNF below": 1*DIGIT from 8 to 15, no
        # leading zeros
        if value not in {str(bits) for bits in range(8, 16)}:
            raise ValueError(
                f"{name}={value}: the value is a window size in bits, a decimal 8-15 without "
                "leading zeros (RFC 7692 §7.1.2)"
            )
        values[name] = int(value)
    return DeflateParameters(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DeflateConfig:
    """What an endpoint offers or accepts for permessage-deflate, and zlib's memory settings.

    ``server_max_window_bits`` and ``client_max_window_bits`` (9-15): the largest LZ77 window
    each direction may use. A server compresses with at most its value (less if the client
    asks, §7.1.2.1) and answers ``client_max_window_bits`` with at most its value when the
    client's offer allows it (§7.1.2.2: "If a received extension negotiation offer doesn't have
    the client_max_window_bits extension parameter, the corresponding extension negotiation
    response to the offer MUST NOT include" it). A client offers both. 15 is
    DEFLATE's largest window (32 KiB); each bit less halves the window and the memory it
    costs, and compresses repetitive text a little less well.

    ``server_no_context_takeover``, ``client_no_context_takeover``: ask (client) or require
    (server) that the direction start afresh for every message (§7.1.1): less compression of
    similar messages, and an idle connection holds no compressor at all.

    ``compress_level`` (0-9, zlib's ``level``; 6 is zlib's default): CPU against size.
    ``mem_level`` (1-9, zlib's ``memLevel``): the size of the compressor's hash table and
    buffers, ``2**(mem_level + 9)`` bytes: memory against speed and ratio.

    Memory of a compressor is ``2**(window_bits + 2) + 2**(mem_level + 9)`` bytes plus ~6 KiB
    (zlib.h), of a decompressor ``2**window_bits`` plus ~7 KiB. The defaults (12 bits, memLevel
    5) are those of python-websockets; :func:`wslib.serve` shows what they cost, measured.
    """

    server_max_window_bits: int = 12
    client_max_window_bits: int = 12
    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    compress_level: int = 6
    mem_level: int = 5

    def __post_init__(self) -> None:
        for name in ("server_max_window_bits", "client_max_window_bits"):
            bits = getattr(self, name)
            if not 9 <= bits <= 15:
                raise ValueError(
                    f"{name}={bits}: use 9-15 (RFC 7692 allows 8, but zlib cannot compress with "
                    "a 256-byte window)"
                )
        if not 0 <= self.compress_level <= 9:
            raise ValueError(f"compress_level={self.compress_level}: zlib's levels are 0-9")
        if not 1 <= self.mem_level <= 9:
            raise ValueError(f"mem_level={self.mem_level}: zlib's memLevel is 1-9")

    def offer(self) -> str:
        """The client's ``Sec-WebSocket-Extensions`` offer (RFC 7692 §5, §7.1).

        >>> DeflateConfig().offer()
        'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12'
        """
        params = DeflateParameters(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            None if self.server_max_window_bits == 15 else self.server_max_window_bits,
            self.client_max_window_bits,
        )
        return serialize_extensions([(EXTENSION_NAME, params.params(offer=True))])


def compression_config(compression: str | DeflateConfig | None) -> DeflateConfig | None:
    """The ``compression=`` argument of serve() and connect(): ``"deflate"`` (the defaults of
    :class:`DeflateConfig`), a :class:`DeflateConfig`, or ``None`` (no compression)."""
    if compression is None or isinstance(compression, DeflateConfig):
        return compression
    if compression == "deflate":
        return DeflateConfig()
    raise ValueError(
        f"compression={compression!r}: use 'deflate', a wslib.deflate.DeflateConfig or None"
    )


# --- negotiation (RFC 7692 §5, §7.1) --------------------------------------------------------------


def _accept_offer(offer: DeflateParameters, config: DeflateConfig) -> DeflateParameters | None:
    """The server's answer to one valid offer, or None to decline it (RFC 7692 §7)."""
    if offer.server_max_window_bits == 8:
        # §7: decline when "The server doesn't support the offered configuration": zlib
        # cannot compress with a 256-byte window.
        return None
    # §7.1.2.1: the server accepts server_max_window_bits by answering it "with the same or
    # smaller value as the offer"; without one in the offer it may still announce a smaller window.
    server_bits = min(config.server_max_window_bits, offer.server_max_window_bits or 15)
    client_bits = None
    if offer.client_max_window_bits is not None:
        # §7.1.2.2: "If a received extension negotiation offer has the client_max_window_bits
        # extension parameter, the server MAY include the client_max_window_bits extension
        # parameter in the corresponding extension negotiation response", not larger than the
        # offer's value.
        client_bits = min(config.client_max_window_bits, offer.client_max_window_bits)
    return DeflateParameters(
        # §7.1.1.1: a server accepts an offer with server_no_context_takeover "by including the
        # server_no_context_takeover extension parameter in the corresponding ... response"
        server_no_context_takeover=(
            offer.server_no_context_takeover or config.server_no_context_takeover
        ),
        # §7.1.1.2: the server "MAY include" client_no_context_takeover, offered or not
        client_no_context_takeover=(
            offer.client_no_context_takeover or config.client_no_context_takeover
        ),
        server_max_window_bits=(
            server_bits if offer.server_max_window_bits is not None or server_bits < 15 else None
        ),
        client_max_window_bits=client_bits,
    )


def _extensions_header(headers_values: list[str]) -> list[Extension]:
    return parse_extensions(", ".join(headers_values))


def server_extension(
    request: Request, response: Response, config: DeflateConfig | None
) -> PerMessageDeflate | None:
    """The server's side of the negotiation (RFC 7692 §5, §7.1): accept the client's first
    acceptable permessage-deflate offer and write the answer into ``response`` (the 101 of
    :func:`wslib.handshake.accept`).

    Returns the codec for the connection, or ``None`` (no offer, none acceptable, or
    ``config=None``: then the 101 has no ``Sec-WebSocket-Extensions``). An offer with an unknown
    or repeated parameter or a bad value is declined, as §7 requires ("A server MUST decline
    an extension negotiation offer for this extension if ..."), and the next one is tried; a
    header that breaks the grammar of RFC 6455 §9.1 is the client's mistake:
    :class:`~wslib.exceptions.InvalidHeader` (400). Other extensions are ignored (§9.1: the
    server answers only those it accepts).
    """
    if config is None:
        return None
    values = request.headers.get_all("Sec-WebSocket-Extensions")
    if not values:
        return None
    try:
        offers = _extensions_header(values)
    except ValueError as exc:
        raise InvalidHeader(
            "Sec-WebSocket-Extensions", f"invalid Sec-WebSocket-Extensions header: {exc}"
        ) from None
    for name, params in offers:
        if name != EXTENSION_NAME:
            continue
        try:
            offer = parse_parameters(params, offer=True)
        except ValueError:
            continue  # §7: "decline" this offer; a later one may be acceptable
        answer = _accept_offer(offer, config)
        if answer is None:
            continue
        # §9.1 (RFC 6455): the server answers with "the extension(s) it intends to use"
        response.headers["Sec-WebSocket-Extensions"] = str(answer)
        return PerMessageDeflate.negotiated(answer, server=True, config=config)
    return None


def client_offer(request: Request, config: DeflateConfig | None) -> None:
    """Write the client's permessage-deflate offer into ``request`` (RFC 7692 §5); nothing for
    ``config=None``. Then :func:`wslib.handshake.check_response` with
    ``extensions=[EXTENSION_NAME]`` and :func:`client_extension` read the answer."""
    if config is not None:
        request.headers["Sec-WebSocket-Extensions"] = config.offer()


def client_extension(response: Response, config: DeflateConfig | None) -> PerMessageDeflate | None:
    """Check the server's answer to :func:`client_offer` (RFC 7692 §5, §7.1); return the codec,
    or ``None`` when the server declined (no permessage-deflate in its 101).

    RFC 7692 §7: "A client MUST _Fail the WebSocket Connection_ if the peer server accepted
    an extension negotiation offer for this extension with an extension negotiation response"
    with an unknown parameter, a repeated one, an invalid value, or a configuration the client
    does not support. Each raises :class:`~wslib.exceptions.InvalidResponse`, as do an answer
    with permessage-deflate twice and an answer while nothing was offered (``config=None``).
    """
    values = response.headers.get_all("Sec-WebSocket-Extensions")
    try:
        answers = [e for e in _extensions_header(values) if e[0] == EXTENSION_NAME]
    except ValueError as exc:
        raise InvalidResponse(f"invalid Sec-WebSocket-Extensions in the 101: {exc}") from None
    if not answers:
        return None
    if config is None:
        raise InvalidResponse("the server chose permessage-deflate, which was not offered")
    if len(answers) > 1:
        # Two accepted offers would both use RSV1: RFC 6455 §9.1 forbids such a conflict.
        raise InvalidResponse("the server accepted permessage-deflate twice; it was offered once")
    try:
        answer = parse_parameters(answers[0][1], offer=False)
    except ValueError as exc:
        raise InvalidResponse(f"the server's permessage-deflate answer is invalid: {exc}") from None
    offered_server_bits = config.server_max_window_bits
    if config.server_no_context_takeover and not answer.server_no_context_takeover:
        # §7.1.1.1: the server accepts server_no_context_takeover "by including" it in its answer
        raise InvalidResponse(
            "the server's permessage-deflate answer lacks server_no_context_takeover, which the "
            "client required (RFC 7692 §7.1.1.1)"
        )
    if offered_server_bits < 15:
        # §7.1.2.1: the server accepts "by including the server_max_window_bits extension
        # parameter ... with the same or smaller value as the offer"
        if answer.server_max_window_bits is None or answer.server_max_window_bits > (
            offered_server_bits
        ):
            got = answer.server_max_window_bits
            raise InvalidResponse(
                f"the server's permessage-deflate answer has server_max_window_bits={got}, but "
                f"the client offered {offered_server_bits}: it must answer with that or less "
                "(RFC 7692 §7.1.2.1)"
            )
    bits = answer.client_max_window_bits
    if bits is not None and bits > config.client_max_window_bits:
        # §7.1.2.2: "a value equal to or smaller than the received value" only
        raise InvalidResponse(
            f"the server's permessage-deflate answer has client_max_window_bits={bits}, larger "
            f"than the {config.client_max_window_bits} offered (RFC 7692 §7.1.2.2)"
        )
    if bits == 8:
        raise InvalidResponse(
            "the server asks for client_max_window_bits=8, which zlib cannot compress with: "
            "an unsupported configuration (RFC 7692 §7)"
        )
    return PerMessageDeflate.negotiated(answer, server=False, config=config)


# --- the codec (RFC 7692 §6, §7.2) ----------------------------------------------------------------


@dataclass
class PerMessageDeflate:
    """The permessage-deflate codec of one connection (RFC 7692 §6, §7.2), sans-I/O.

    Build it with :meth:`negotiated` (or through :func:`server_extension` and
    :func:`client_extension`). ``send_*`` describe what this side sends, ``receive_*`` what it
    receives: window bits (9-15 for sending, 8-15 for receiving) and whether that direction
    starts afresh for every message (``*_no_context_takeover``).

    zlib's objects are made when the first message needs them, and with no context takeover
    dropped after each message: an idle connection then holds none.
    """

    send_window_bits: int = 15
    receive_window_bits: int = 15
    send_no_context_takeover: bool = False
    receive_no_context_takeover: bool = False
    compress_level: int = 6
    mem_level: int = 8

    _compressor: zlib._Compress | None = field(default=None, init=False, repr=False)
    _decompressor: zlib._Decompress | None = field(default=None, init=False, repr=False)
    _sending_compressed: bool = field(default=False, init=False, repr=False)
    _receiving_compressed: bool = field(default=False, init=False, repr=False)

    @classmethod
    def negotiated(
        cls, params: DeflateParameters, *, server: bool, config: DeflateConfig
    ) -> PerMessageDeflate:
        """The codec for the ``params`` of the server's answer, on the server or the client side.

        The window a side compresses with is at most what the answer allows and at most its own
        ``config``'s value; it decompresses with the window the answer allows the peer (15 when
        the answer says nothing).
        """
        server_bits = params.server_max_window_bits or 15
        client_bits = params.client_max_window_bits or 15
        if server:
            send_bits = min(server_bits, config.server_max_window_bits)
            receive_bits = client_bits
        else:
            send_bits = min(client_bits, config.client_max_window_bits)
            receive_bits = server_bits
        return cls(
            send_window_bits=send_bits,
            receive_window_bits=receive_bits,
            send_no_context_takeover=(
                params.server_no_context_takeover if server else params.client_no_context_takeover
            ),
            receive_no_context_takeover=(
                params.client_no_context_takeover if server else params.server_no_context_takeover
            ),
            compress_level=config.compress_level,
            mem_level=config.mem_level,
        )

    # --- sending (RFC 7692 §7.2.1) ---------------------------------------------------------------

    def _new_compressor(self) -> zlib._Compress:
        # A negative wbits: raw DEFLATE, without zlib's header and checksum (RFC 7692 §7.2.1
        # compresses into "DEFLATE blocks", RFC 1951, not a zlib stream, RFC 1950).
        return zlib.compressobj(
            self.compress_level, zlib.DEFLATED, -self.send_window_bits, self.mem_level
        )

    def encode(self, opcode: Opcode, payload: bytes, fin: bool) -> Frame:
        """The data frame to send for ``payload``: the whole message, or one of its fragments.

        ``opcode`` is TEXT or BINARY for the first frame of a message, CONT for the others, as
        :meth:`wslib.protocol.Connection.send_text` and friends pass them.
        """
        if opcode is not Opcode.CONT:
            if fin and self.send_no_context_takeover:
                # A whole message, compressed afresh: keep it only if it is smaller.
                compressed = self._compress(payload, fin=True)
                if len(compressed) < len(payload):
                    return Frame(opcode, compressed, fin=True, rsv1=True)
                return Frame(opcode, payload, fin=True)
            # RFC 7692 §6: RSV1 on the first frame says "this message is compressed"
            self._sending_compressed = True
            return Frame(opcode, self._compress(payload, fin), fin, rsv1=True)
        if not self._sending_compressed:  # every fragmented message is sent compressed
            raise InvalidState("a continuation frame, but no message was started with encode()")
        # §6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of ... non-first
        # fragments of a data message."
        return Frame(opcode, self._compress(payload, fin), fin)

    def _compress(self, payload: bytes, fin: bool) -> bytes:
        if self._compressor is None:
            self._compressor = self._new_compressor()
        # §7.2.1: "Compress all the octets of the payload of the message using DEFLATE",
        # flushed so that the frame can go out now and ends on a byte boundary
        data = self._compressor.compress(payload) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        if fin:
            # §7.2.1: "If the resulting data does not end with an empty DEFLATE block with no
            # compression (the "BTYPE" bits are set to 00), append an empty DEFLATE block with
            # no compression to the tail end. Remove 4 octets (that are 0x00 0x00 0xff 0xff)
            # from the tail end."
            assert data.endswith(EMPTY_BLOCK)  # Z_SYNC_FLUSH always ends with it
            data = data[: -len(EMPTY_BLOCK)]
            self._sending_compressed = False
            if self.send_no_context_takeover:
                # §7.2.1: the sender "MUST start compressing each new message with an empty
                # LZ77 sliding window": drop the compressor, the next message makes a new one
                self._compressor = None
        return data

    # --- receiving (RFC 7692 §7.2.2) -------------------------------------------------------------

    def decode(self, frame: Frame, max_size: int | None) -> Frame:
        """The frame with its payload inflated (RSV1 clear), or as it came if not compressed.

        ``max_size`` is what is left of the message size limit (``None``: no limit): inflating
        stops as soon as the output passes it, with :class:`~wslib.exceptions.PayloadTooBig`
        (1009), so a bomb costs at most ``max_size`` bytes of memory. Raises
        :class:`~wslib.exceptions.ProtocolError` (1002) for RSV1 on a control or continuation
        frame and for data that does not inflate.
        """
        if frame.opcode.is_control:
            if frame.rsv1:
                # §6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control
                # frames"; RFC 6455 §5.2: a bit no extension defines fails the connection
                raise ProtocolError(
                    f"RSV1 set on a {frame.opcode.name} frame: permessage-deflate compresses "
                    "messages, never control frames (RFC 7692 §6.1)"
                )
            return frame
        if frame.opcode is Opcode.CONT:
            if frame.rsv1:
                raise ProtocolError(
                    "RSV1 set on a continuation frame: permessage-deflate marks only the first "
                    "frame of a compressed message (RFC 7692 §6.1)"
                )
            compressed = self._receiving_compressed
        else:
            compressed = frame.rsv1
        self._receiving_compressed = compressed and not frame.fin
        if not compressed:
            return frame
        # §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of the
        # message. Decompress the resulting data using DEFLATE."
        if not frame.fin:
            payload = self._inflate(frame.payload, max_size)
        elif len(frame.payload) <= _JOIN_LIMIT:
            payload = self._inflate(frame.payload + EMPTY_BLOCK, max_size)
        else:  # in two steps: joining the tail to a large payload would copy all of it
            payload = self._inflate(frame.payload, max_size)
            left = None if max_size is None else max_size - len(payload)
            payload += self._inflate(EMPTY_BLOCK, left)
        if frame.fin and self.receive_no_context_takeover:
            self._decompressor = None  # the peer starts afresh: so do we, and free the memory
        return Frame._new(frame.opcode, payload, frame.fin, False, frame.rsv2, frame.rsv3)

    def _inflate(self, data: bytes, max_size: int | None) -> bytes:
        """Inflate ``data``, never producing more than ``max_size + 1`` bytes (RFC 6455 §10.4).

        ``decompress(data, max_length)`` stops when its output reaches ``max_length`` and keeps
        the input it did not use in ``unconsumed_tail``. Asking for one byte more than allowed
        tells "exactly at the limit" from "over it" without inflating the rest: zlib's output
        grows block by block up to that bound, never to the bomb's size.
        """
        if self._decompressor is None:
            self._decompressor = zlib.decompressobj(-self.receive_window_bits)
        decompressor = self._decompressor
        try:
            if max_size is None:
                payload = decompressor.decompress(data)
            else:
                payload = decompressor.decompress(data, max_size + 1)
        except zlib.error as exc:
            raise ProtocolError(
                f"a compressed message does not inflate ({exc}): permessage-deflate payloads "
                "are DEFLATE data (RFC 7692 §7.2.2)"
            ) from None
        if max_size is not None and len(payload) > max_size:
            # RFC 6455 §10.4: "MUST protect themselves against exceeding those limits"; the
            # unconsumed input (decompressor.unconsumed_tail) is never inflated.
            self._decompressor = None
            raise PayloadTooBig(
                f"compressed message inflates to over {max_size} bytes, more than this endpoint "
                "accepts (close code 1009: message too big)"
            )
        if decompressor.eof:
            # The sender ended the DEFLATE stream (a block with BFINAL set): the next message
            # starts a new one (RFC 7692 §7.2.3.4 shows such a block)
            self._decompressor = None
        return payload
