"""A WebSocket connection without I/O: bytes in, events and bytes out (RFC 6455 §5-§7).

A :class:`Connection` never touches a socket. The code that owns the socket (the threaded server
and client, a notebook cell, a test) moves the bytes, and the connection does the thinking::

    conn = Connection(Side.SERVER)
    conn.receive_data(sock.recv(65536))    # bytes that arrived
    for event in conn.events_received():   # what they meant: TextMessage("Hello"), Ping(b""), ...
        ...
    for data in conn.data_to_send():       # what to send back: a pong, a close frame, ...
        if data:
            sock.sendall(data)
        else:                              # SEND_EOF: this side is done sending
            sock.shutdown(socket.SHUT_WR)

Sending works the same way: ``conn.send_text("Hello")`` queues the frame's bytes, and
:meth:`Connection.data_to_send` hands them over. The empty bytes :data:`SEND_EOF` (``b""``) in
that list means "this side is done sending: shut down the sending side of the TCP connection"
(``socket.shutdown(SHUT_WR)``); the I/O layer closes the socket when the peer's end of stream has
arrived (:meth:`Connection.receive_eof`) or a close timeout expired (see
:meth:`Connection.close_expected`). It is the convention of python-websockets.

A connection is created once the opening handshake (§4) has succeeded: the server and the client
do the handshake, then hand the socket's bytes to a Connection, which starts in OPEN::

    CONNECTING   the opening handshake (§4), done by the server or the client before they
        │        create a Connection
        ▼
       OPEN ──────────── a close frame arrives; the answer goes out at once ──────┐
        │                                                                          ▼
        │ send_close(), or an error in what the peer sent                    REMOTE_CLOSING
        ▼                                                                          │
    LOCAL_CLOSING                                                                  │
        │                                                                          │
        └──────────────► CLOSED ◄────── receive_eof(): the TCP connection ended ───┘

    OPEN goes straight to CLOSED when TCP ends without a closing handshake (code 1006).

LOCAL_CLOSING and REMOTE_CLOSING tell who sent the first close frame, as in wsproto. The closing
handshake (§7.1.1, §5.5.1), initiated by the client::

    client                                       server
      │ ──── close frame 1000 "bye" ──────────────► │   client: LOCAL_CLOSING
      │ ◄─────────────────── close frame 1000 "bye" │   server: REMOTE_CLOSING (it echoes)
      │ ◄────────────────────────────────── TCP FIN │   the server ends TCP first (§7.1.1)
      │ ──── TCP FIN ─────────────────────────────► │   both: CLOSED

What the peer gets wrong fails the connection (§7.1.7): a close frame with the code of the
:class:`~wslib.exceptions.ProtocolError` (1002, 1007 for bad UTF-8, 1009 for too big), or 1011
for a bug of ours (without details), then the end of TCP; anything that arrives later is
discarded. 1005, 1006 and 1015 are never sent: they only describe what happened.

Where the RFC leaves a choice, this module takes the following one (python-websockets does the
same unless noted):

- The answer to a close frame echoes its payload: the same code and reason, and no code when
  the peer sent none (§5.5.1: the endpoint "typically echos the status code it received"; 1005
  "MUST NOT be set" on the wire, and 1000 would claim a code the peer never gave).
- After a clean closing handshake, the server ends TCP at once and the client waits for it
  (§5.5.1, §7.1.1). After a failure, both sides end TCP at once, since §7.1.7 says that each
  "MUST _Close the WebSocket Connection_"; the close frame still arrives before the end of the
  stream. (websockets lets a failing client wait for the server.)
- A close frame in the middle of a fragmented message is accepted; the unfinished message is
  dropped. (websockets answers it with 1002.)
- Every ping gets its pong, unless ``pong_latest_only=True`` (§5.5.3 allows answering only the
  latest ping when several arrive before the pongs are sent).
- Messages arrive whole, never fragment by fragment; ``max_size`` bounds them (1 MiB), and
  ``max_fragments`` bounds their number of frames (4096): empty continuation frames cost no
  bytes of ``max_size``, yet a peer could send them forever. Going over either fails with 1009
  (not 1008: the message is too big to process, counted in frames). (websockets has no frame
  count limit.)
- Text is checked for UTF-8 while it arrives, inside a frame too: a long text frame fails with
  1007 at its first impossible byte, before the rest of it arrives (§8.1 only requires failing;
  websockets checks each frame once it is whole).
- What arrived before an error is delivered: the messages and pings in front of a bad frame
  are events, and those pings are answered, before the close frame (§7.1.7 stops the processing
  at the error, not before it). With ``defer_failure=True`` the close frame even waits until the
  I/O layer calls :meth:`Connection.fail_pending`, so that the application can answer those
  messages first (an echo server echoes them, as strict test suites expect).
- 1012-1014 (registered at IANA after the RFC: service restart, try again later, bad gateway)
  are received and may be sent like the codes of RFC 6455. A close code of 5000 or more fails
  the connection with 1002: the RFC defines codes up to 4999 and leaves open what a receiver
  does with a larger one.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Generator
from dataclasses import dataclass

from .deflate import PerMessageDeflate
from .exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    ConnectionFailed,
    InvalidState,
    PayloadTooBig,
    ProtocolError,
)
from .frames import (
    MAX_CONTROL_PAYLOAD,
    RSV1,
    Close,
    CloseCode,
    Frame,
    Opcode,
    is_sendable_close_code,
)
from .messages import MAX_FRAGMENTS, MessageAssembler
from .streams import StreamReader

__all__ = [
    "SEND_EOF",
    "BinaryMessage",
    "CloseReceived",
    "Closed",
    "Connection",
    "Event",
    "Ping",
    "Pong",
    "Side",
    "State",
    "TextMessage",
]

#: In :meth:`Connection.data_to_send`: this side sends nothing more, end the TCP stream.
SEND_EOF = b""


class Side(enum.Enum):
    """Which end of the connection this is: it decides masking and who closes TCP first."""

    SERVER = "server"  #: never masks; requires masked frames; closes TCP first (§5.1, §7.1.1)
    CLIENT = "client"  #: masks every frame; requires unmasked frames; waits for the server


class State(enum.Enum):
    """Where a connection is in its life (RFC 6455 §4.1, §7.1.3, §7.1.4); see the module picture."""

    CONNECTING = "connecting"  #: opening handshake in progress (the I/O layer's business)
    OPEN = "open"  #: messages flow both ways
    LOCAL_CLOSING = "local_closing"  #: this side sent the first close frame (or failed)
    REMOTE_CLOSING = "remote_closing"  #: the peer sent the first close frame; we answered
    CLOSED = "closed"  #: the TCP connection ended: nothing more in, nothing more out


# --- events: what the bytes received meant -------------------------------------------------------


@dataclass(frozen=True)
class TextMessage:
    """A complete text message (RFC 6455 §5.6), all its fragments joined and decoded."""

    data: str


@dataclass(frozen=True)
class BinaryMessage:
    """A complete binary message (RFC 6455 §5.6), all its fragments joined."""

    data: bytes


@dataclass(frozen=True)
class Ping:
    """The peer sent a ping (RFC 6455 §5.5.2). The connection already queued the pong."""

    payload: bytes


@dataclass(frozen=True)
class Pong:
    """The peer sent a pong (RFC 6455 §5.5.3): the answer to our ping, or a heartbeat."""

    payload: bytes


@dataclass(frozen=True)
class CloseReceived:
    """The peer's close frame arrived (RFC 6455 §5.5.1): no more messages will come.

    ``code`` is 1005 when the frame had no code (§7.1.5). When the peer started the closing
    handshake, the connection already queued its answer.
    """

    code: int
    reason: str


@dataclass(frozen=True)
class Closed:
    """The TCP connection ended: the last event (RFC 6455 §7.1.4, the connection is closed).

    ``code`` and ``reason`` are those of the close frame received ("_The WebSocket Connection
    Close Code_", §7.1.5, §7.1.6), or 1006 and "" if none arrived: the connection was lost.
    """

    code: int
    reason: str


#: Everything :meth:`Connection.events_received` can return.
Event = TextMessage | BinaryMessage | Ping | Pong | CloseReceived | Closed

# Close codes of a clean closure: ConnectionClosedOK rather than ConnectionClosedError.
_OK_CLOSE_CODES = {CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY, CloseCode.NO_STATUS_RCVD}


def _random_mask_key() -> bytes:
    # RFC 6455 §5.3: "the masking key MUST be derived from a strong source of entropy"
    return secrets.token_bytes(4)


def _close_reason(text: str) -> str:
    """Fit an error message into the 123 bytes of UTF-8 that a close frame's reason can hold.

    A long message keeps its first clause (wslib's messages read "what happened: why"), and if
    that is still too long, it is cut at a word boundary and marked with "...".
    """
    if len(text.encode()) <= Close.MAX_REASON:
        return text
    text = text.split(": ", 1)[0]
    if len(text.encode()) <= Close.MAX_REASON:
        return text
    cut = text.encode()[: Close.MAX_REASON - 3].decode(errors="ignore")
    return cut.rsplit(" ", 1)[0] + "..."


class Connection:
    """One WebSocket connection, server or client side, as a state machine (RFC 6455 §5-§7).

    ``max_size`` bounds a message (all its fragments, in bytes; default 1 MiB like
    python-websockets; ``None``: no limit) and ``max_frame_size`` a single frame (default
    ``None``: only ``max_size`` applies). Going over either fails the connection with 1009; a
    frame whose header announces more than the limit plus 125 bytes (the most a control frame can
    carry, and control frames are not messages) fails before any of its payload is read, so that
    a header announcing 2**63 - 1 bytes costs nothing (RFC 6455 §10.4: implementations "MUST
    protect themselves against exceeding those limits"). ``max_fragments`` bounds the number of
    frames of one message (default :data:`~wslib.messages.MAX_FRAGMENTS`, 4096; ``None``: no
    limit): empty continuation frames cost no bytes, so without it a message could stay in
    progress forever. Going over it fails with 1009 too. A message in progress costs its payload
    bytes and nothing per frame, so memory stays flat whatever the peer sends.

    ``defer_failure=True`` holds back the failure caused by a bad frame: parsing stops at the
    error, the events before it are delivered, :attr:`failure_pending` is True and the state
    stays OPEN, so that the application can still answer them (an echo server echoes the
    messages that preceded the bad frame); the I/O layer then calls :meth:`fail_pending`, which
    sends the close frame and ends TCP. Default False: the close frame is queued at once.

    ``mask_key_generator`` gives the client's 4-byte masking keys (default: a CSPRNG; a test
    injects fixed keys). ``pong_latest_only=True`` answers only the last of several pings that
    arrive before :meth:`data_to_send` is called (§5.5.3 allows it; default: answer each; the
    trace still shows the pongs that were dropped).
    ``trace``, if given, is called with ``"<"`` and each frame received, ``">"`` and each frame
    queued to send: the I/O layer's trace switch prints them.

    ``deflate``: the permessage-deflate codec the handshake negotiated (RFC 7692, see
    :mod:`wslib.deflate`), or ``None``. With it, RSV1 is allowed on the first frame of a data
    message (and only there), messages are compressed on the way out, and ``max_size`` counts
    the *inflated* bytes of a message, enforced while inflating. Text is then checked for UTF-8
    frame by frame once inflated, not byte by byte while a frame arrives.

    Attributes to read: ``side``, ``state``, ``close_sent`` and ``close_received`` (the
    :class:`~wslib.frames.Close` of each close frame, or ``None``) and ``failure`` (the exception
    that made this side fail the connection, or ``None``: the I/O layer may log it).
    """

    def __init__(
        self,
        side: Side,
        *,
        max_size: int | None = 2**20,
        max_frame_size: int | None = None,
        max_fragments: int | None = MAX_FRAGMENTS,
        mask_key_generator: Callable[[], bytes] | None = None,
        pong_latest_only: bool = False,
        defer_failure: bool = False,
        trace: Callable[[str, Frame], None] | None = None,
        deflate: PerMessageDeflate | None = None,
    ) -> None:
        for name, limit in (("max_size", max_size), ("max_frame_size", max_frame_size)):
            if limit is not None and limit < 0:
                raise ValueError(f"{name} must be None or at least 0, not {limit}")
        if max_fragments is not None and max_fragments < 1:
            raise ValueError(f"max_fragments must be None or at least 1, not {max_fragments}")
        self.side = side
        self.state = State.OPEN
        self.max_size = max_size
        self.max_frame_size = max_frame_size
        self.mask_key_generator = mask_key_generator or _random_mask_key
        self.pong_latest_only = pong_latest_only
        self.defer_failure = defer_failure
        self.trace = trace
        self.deflate = deflate

        self.close_sent: Close | None = None
        self.close_received: Close | None = None
        self.failure: Exception | None = None

        self._reader = StreamReader()
        self._assembler = MessageAssembler(max_size, max_fragments)
        # with defer_failure: the failure found while parsing, until fail_pending() sends it
        self._pending: tuple[int, str, Exception] | None = None
        self._message_size = 0  # bytes received so far of an unfinished fragmented message
        self._sending_fragments = False  # between send_*(fin=False) and send_continuation(fin=True)
        self._events: list[Event] = []
        self._writes: list[bytes] = []
        self._unsent_pong: int | None = None  # index in _writes of a pong not yet handed over
        self._eof_sent = False
        # RFC 7692 §6: permessage-deflate gives RSV1 a meaning; the UTF-8 of a compressed frame
        # can only be checked once inflated (by the assembler), not while it arrives.
        self._extensions_rsv = 0 if deflate is None else RSV1
        self._payload_checker = self._assembler.payload_checker if deflate is None else None
        self._parser = self._parse()
        next(self._parser)  # run it up to its first wait for data

    # --- bytes in --------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Take bytes that arrived from the peer (any amount: half a frame, or many frames).

        Then call :meth:`events_received` and :meth:`data_to_send`. Once the stream has ended
        (:meth:`receive_eof`), nothing more can arrive: data is ignored.
        """
        if self._reader.eof:
            return
        if self.failure is not None:
            # §7.1.7: after failing, the endpoint "MUST NOT continue to attempt to process data
            # (including a responding Close frame) from the remote endpoint".
            return
        self._reader.feed_data(data)
        self._step()

    def receive_eof(self) -> None:
        """The peer ended the TCP stream (``recv()`` returned ``b""``); a second call does nothing.

        The connection is CLOSED; the last event is :class:`Closed`, with code 1006 if no close
        frame arrived (RFC 6455 §7.1.5). :meth:`data_to_send` gives :data:`SEND_EOF` if this
        side had not ended the stream yet.
        """
        if self._reader.eof:
            return
        self._reader.feed_eof()
        self._step()

    # --- events and bytes out --------------------------------------------------------------------

    def events_received(self) -> list[Event]:
        """The events of the bytes received since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[bytes]:
        """The bytes to send since the last call, one item per frame; :data:`SEND_EOF` (``b""``)
        means: end the TCP stream (shut down its sending side), nothing follows it."""
        writes, self._writes = self._writes, []
        self._unsent_pong = None
        return writes

    @property
    def failure_pending(self) -> bool:
        """True when a bad frame arrived and ``defer_failure=True`` holds back the failure.

        Nothing after the bad frame is processed; the events before it were delivered. Let the
        application answer them, then call :meth:`fail_pending`.
        """
        return self._pending is not None

    def fail_pending(self) -> None:
        """Send the failure held back by ``defer_failure=True``: the close frame with the code of
        the error (unless this side already sent one), then the end of TCP (RFC 6455 §7.1.7).

        Does nothing when no failure is pending.
        """
        if self._pending is not None:
            code, reason, exc = self._pending
            self._pending = None
            self._fail(code, reason, exc)

    def fail(self, code: int, reason: str = "") -> None:
        """_Fail the WebSocket Connection_ (RFC 6455 §7.1.7) for a reason of the I/O layer or the
        application (a keepalive timeout, a rate limit): the close frame with ``code`` (unless
        one was sent already), then the end of TCP, exactly as for a bad frame; :attr:`failure`
        is a :class:`~wslib.exceptions.ConnectionFailed`.
        """
        self._pending = None  # a failure held back gives way: this one goes now
        self._fail(code, reason, ConnectionFailed(code, reason))

    def close_expected(self) -> bool:
        """Should the I/O layer expect the TCP connection to end soon? (RFC 6455 §7.1.1)

        True once a close frame was sent (LOCAL_CLOSING, REMOTE_CLOSING): the I/O layer starts a
        close timeout, and if the peer has not ended TCP by then, closes the socket itself and
        calls :meth:`receive_eof` (§7.1.1: a client "MAY initiate the TCP Close" "in abnormal
        cases (such as not having received a TCP Close from the server after a reasonable amount
        of time)").
        """
        return self.state is State.LOCAL_CLOSING or self.state is State.REMOTE_CLOSING

    def close_exception(self) -> ConnectionClosed:
        """The exception for code that uses a connection that is no longer open.

        :class:`~wslib.exceptions.ConnectionClosedOK` if the close frames received and sent were
        1000, 1001 or had no code (1005), otherwise :class:`~wslib.exceptions.ConnectionClosedError`
        (1006 if no close frame was received, yet or ever). ``__cause__`` is :attr:`failure`.
        """
        if self.state is State.OPEN:
            raise InvalidState("the connection is open: there is no close code yet")
        received, sent = self.close_received, self.close_sent
        if received is None:
            code, reason = int(CloseCode.ABNORMAL_CLOSURE), ""
        else:
            code, reason = received.code, received.reason
        ok = received is not None and received.code in _OK_CLOSE_CODES
        ok = ok and sent is not None and sent.code in _OK_CLOSE_CODES
        exc = (ConnectionClosedOK if ok else ConnectionClosedError)(code, reason)
        exc.__cause__ = self.failure
        return exc

    # --- sending ---------------------------------------------------------------------------------

    def send_text(self, text: str, fin: bool = True) -> None:
        """Send a text message (RFC 6455 §5.6), or its first fragment with ``fin=False``."""
        self._send_data(Opcode.TEXT, text.encode(), fin, "a text message")

    def send_binary(self, data: bytes, fin: bool = True) -> None:
        """Send a binary message (RFC 6455 §5.6), or its first fragment with ``fin=False``."""
        self._send_data(Opcode.BINARY, bytes(data), fin, "a binary message")

    def send_continuation(self, data: str | bytes, fin: bool) -> None:
        """Send the next fragment of the message started with ``fin=False`` (RFC 6455 §5.4).

        ``fin=True`` marks the last one. A ``str`` is encoded as UTF-8; for a text message, bytes
        may also cut a character in two (the receiver decodes the fragments as one stream).
        """
        payload = data.encode() if isinstance(data, str) else bytes(data)
        self._send_data(Opcode.CONT, payload, fin, "a continuation frame")

    def send_prepared(self, frame: Frame, data: bytes) -> None:
        """Send a whole data frame already serialized as ``data`` (a server's broadcast: one
        message serialized once for every client, see :mod:`wslib.broadcast`).

        Only a server may: its frames are not masked, so they are the same bytes for every
        client, while a client MUST mask each frame with "a fresh masking key" (§5.3).
        """
        if self.side is not Side.SERVER:
            raise InvalidState("only a server sends prepared frames: a client masks each frame")
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY) or not frame.fin:
            raise InvalidState("a prepared frame is a whole text or binary message")
        if self.state is not State.OPEN:
            # §5.5.1: "The application MUST NOT send any more data frames after sending a Close
            # frame."
            raise InvalidState(f"cannot send a message: {self._why_not_open()}")
        if self._sending_fragments:
            # §5.4: fragments of one message "MUST NOT be interleaved" with another message
            raise InvalidState("cannot send a message: a fragmented message is in progress")
        self._writes.append(data)
        if self.trace is not None:
            self.trace(">", frame)

    def send_ping(self, payload: bytes = b"") -> None:
        """Send a ping (RFC 6455 §5.5.2); the peer answers with a pong of the same payload.

        At most 125 bytes (§5.5). Allowed while the connection is open, and after this side sent
        a close frame until the peer's arrives.
        """
        self._ensure_control_allowed("a ping")
        self._send_frame(Frame(Opcode.PING, bytes(payload)))

    def send_pong(self, payload: bytes = b"") -> None:
        """Send a pong (RFC 6455 §5.5.3): pings are answered automatically, so this one is an
        unsolicited heartbeat. At most 125 bytes (§5.5)."""
        self._ensure_control_allowed("a pong")
        self._send_frame(Frame(Opcode.PONG, bytes(payload)))

    def send_close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 §7.1.2, §5.5.1): state LOCAL_CLOSING.

        ``code`` is 1000-1003, 1007-1011 or 3000-4999 (§7.4), or 1012-1014 (registered at IANA:
        a server restarting sends 1012, an overloaded one 1013); ``None`` sends a close frame
        without a code (the peer then reports 1005). ``reason`` is at most 123 bytes of UTF-8.
        After it, no more data frames may be sent; the peer's close frame, then the end of TCP,
        complete the handshake.
        """
        if self.state is not State.OPEN:
            # §5.5.1: a close frame answers a close frame, once: there is never a second one
            raise InvalidState(f"cannot send a close frame: {self._why_not_open()}")
        if code is None:
            if reason:
                raise InvalidState("a close reason needs a close code (RFC 6455 §5.5.1)")
            close, payload = Close(CloseCode.NO_STATUS_RCVD, ""), b""
        else:
            if not is_sendable_close_code(code):
                # §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close
                # control frame by an endpoint"; others are reserved or out of range
                raise InvalidState(
                    f"close code {code} may not be sent: use 1000-1003, 1007-1014 or 3000-4999 "
                    "(RFC 6455 §7.4, IANA), or code=None for a close frame without a code"
                )
            close = Close(code, reason)
            payload = close.serialize()  # InvalidState for a reason over 123 bytes
        self._send_frame(Frame(Opcode.CLOSE, payload))
        self.close_sent = close
        self.state = State.LOCAL_CLOSING

    # --- receiving, inside -----------------------------------------------------------------------

    def _step(self) -> None:
        """Run the parser on what the reader holds, until it needs more bytes or is done."""
        try:
            next(self._parser)
        except StopIteration:
            pass  # the parser finished at the end of the stream: the connection is CLOSED

    def _parse(self) -> Generator[None, None, None]:
        """Read frames until a close frame, a failure or the end of the stream; then discard.

        A generator, like :meth:`~wslib.frames.Frame.parse`: it pauses (``yield``) whenever it
        needs more bytes, and :meth:`receive_data` resumes it.
        """
        try:
            while self.close_received is None:
                limit = self._data_frame_limit()
                frame = yield from Frame.parse(
                    self._reader.read_exact,
                    # §5.1: the server requires masked frames, the client unmasked ones
                    mask=self.side is Side.SERVER,
                    # a control frame may always carry its 125 bytes; a data frame over the
                    # limit by less than that is caught once read, in _receive_frame
                    max_size=None if limit is None else max(limit, MAX_CONTROL_PAYLOAD),
                    extensions_rsv=self._extensions_rsv,
                    # text is checked for UTF-8 while it arrives, to fail at the first bad byte
                    payload_checker=self._payload_checker,
                    # a large masked payload is unmasked in a buffer of its own, not copied
                    read_owned=self._reader.read_exact_owned,
                )
                self._receive_frame(frame, limit)
        except EOFError:
            pass  # TCP ended between two frames or inside one, without a close frame: lost
        except ProtocolError as exc:
            # §7.1.7: "the endpoint SHOULD send a Close frame with an appropriate status code"
            self._fail_or_defer(exc.close_code, _close_reason(str(exc)), exc)
        except Exception as exc:
            # A bug of ours: 1011, "an unexpected condition that prevented it from fulfilling
            # the request" (§7.4.1). The details stay here (self.failure), not on the wire.
            self._fail_or_defer(CloseCode.INTERNAL_ERROR, "internal error", exc)

        # §1.4: "after receiving a control frame indicating the connection should be closed, a
        # peer discards any further data received"; §7.1.7: after failing, an endpoint "MUST NOT
        # continue to attempt to process data (including a responding Close frame)".
        while not (yield from self._reader.at_eof()):
            self._reader.discard()
        self.fail_pending()  # TCP ended while a failure waited: send it now, before the end
        self._connection_lost()

    def _fail_or_defer(self, code: int, reason: str, exc: Exception) -> None:
        """Fail now, or with ``defer_failure=True`` keep the failure for :meth:`fail_pending`."""
        if self.defer_failure:
            self._pending = (code, reason, exc)
        else:
            self._fail(code, reason, exc)

    def _data_frame_limit(self) -> int | None:
        """How many payload bytes the next data frame may carry: the smaller of max_frame_size
        and what is left of max_size for the message in progress."""
        limit = self.max_frame_size
        if self.max_size is not None:
            left = self.max_size - self._message_size
            if self.deflate is not None:
                # max_size counts inflated bytes (checked while inflating); on the wire, a
                # compressed frame may be larger than what it inflates to (random bytes, sent
                # compressed with context takeover): zlib's deflateBound() allows for a growth
                # of len/8 + len/64 + a few bytes, the most any setting can produce
                left += (left >> 3) + (left >> 6) + 64
            limit = left if limit is None else min(limit, left)
        return limit

    def _receive_frame(self, frame: Frame, limit: int | None) -> None:
        if self.trace is not None:
            self.trace("<", frame)
        opcode = frame.opcode
        if frame.rsv1 and opcode >= Opcode.CLOSE:  # only reachable with permessage-deflate
            # RFC 7692 §6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of
            # control frames"
            raise ProtocolError(
                f"RSV1 set on a {opcode.name} frame: permessage-deflate compresses messages, "
                "never control frames (RFC 7692 §6.1)"
            )
        if opcode is Opcode.PING:
            self._events.append(Ping(frame.payload))
            self._answer_ping(frame.payload)
        elif opcode is Opcode.PONG:
            # §5.5.3: "A response to an unsolicited Pong frame is not expected."
            self._events.append(Pong(frame.payload))
        elif opcode is Opcode.CLOSE:
            self._receive_close(frame)
        else:
            if limit is not None and len(frame.payload) > limit:
                raise PayloadTooBig(
                    f"data frame of {len(frame.payload)} bytes, over the {limit} bytes this "
                    "endpoint accepts (close code 1009: message too big)"
                )
            if self.deflate is not None:
                # inflated with a bound: what is left of max_size for this message
                left = None if self.max_size is None else self.max_size - self._message_size
                frame = self.deflate.decode(frame, left)
            message = self._assembler.feed(frame)  # 1002, 1007, 1009 as the message demands
            if self._assembler.in_progress:
                self._message_size += len(frame.payload)
            else:
                self._message_size = 0
            if isinstance(message, str):
                self._events.append(TextMessage(message))
            elif message is not None:
                self._events.append(BinaryMessage(message))

    def _answer_ping(self, payload: bytes) -> None:
        # §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response,
        # unless it already received a Close frame." (After a close frame, nothing is parsed.)
        # §5.5.3: the pong "must have identical Application data" as the ping.
        if self.pong_latest_only and self._unsent_pong is not None:
            # §5.5.3: "If an endpoint receives a Ping frame and has not yet sent Pong frame(s) in
            # response to previous Ping frame(s), the endpoint MAY elect to send a Pong frame for
            # only the most recently processed Ping frame."
            del self._writes[self._unsent_pong]
        self._send_frame(Frame(Opcode.PONG, payload))
        self._unsent_pong = len(self._writes) - 1

    def _receive_close(self, frame: Frame) -> None:
        close = Close.parse(frame.payload)  # 1002 for a bad code or length, 1007 for bad UTF-8
        self.close_received = close
        self._events.append(CloseReceived(close.code, close.reason))
        if self.state is State.OPEN:
            # §5.5.1: "If an endpoint receives a Close frame and did not previously send a Close
            # frame, the endpoint MUST send a Close frame in response. (When sending a Close
            # frame in response, the endpoint typically echos the status code it received.)"
            # We echo the payload as it came: the same code and reason, or no code at all
            # (1005 only says that there was none, and it "MUST NOT be set" on the wire).
            self._send_frame(Frame(Opcode.CLOSE, frame.payload))
            self.close_sent = close
            self.state = State.REMOTE_CLOSING
        # Both close frames went through. §5.5.1: "The server MUST close the underlying TCP
        # connection immediately; the client SHOULD wait for the server to close the connection"
        # (§7.1.1: so that the server, not the client, holds the TIME_WAIT state).
        if self.side is Side.SERVER:
            self._send_eof()

    def _fail(self, code: int, reason: str, exc: Exception) -> None:
        """_Fail the WebSocket Connection_ (RFC 6455 §7.1.7): a close frame, then end TCP."""
        self.failure = exc
        if self.state is State.OPEN:  # else our close frame already went out: not a second one
            close = Close(code, reason)
            self._send_frame(Frame(Opcode.CLOSE, close.serialize()))
            self.close_sent = close
            self.state = State.LOCAL_CLOSING
        # §7.1.7: "the client MUST _Close the WebSocket Connection_", "the server MUST _Close
        # the WebSocket Connection_": both sides end TCP now; the peer still gets our close frame
        # before the end of the stream.
        self._send_eof()

    def _connection_lost(self) -> None:
        """The peer ended TCP: CLOSED (§7.1.4). End our side too, if not done yet."""
        self._send_eof()
        self.state = State.CLOSED
        close = self.close_received
        if close is None:
            # §7.1.5: "If _The WebSocket Connection is Closed_ and no Close control frame was
            # received by the endpoint (such as could occur if the underlying transport
            # connection is lost), _The WebSocket Connection Close Code_ is considered to be 1006."
            self._events.append(Closed(int(CloseCode.ABNORMAL_CLOSURE), ""))
        else:
            self._events.append(Closed(close.code, close.reason))

    # --- sending, inside -------------------------------------------------------------------------

    def _why_not_open(self) -> str:
        if self.state is State.LOCAL_CLOSING:
            return (
                "the connection is local_closing: this side sent a close frame, and RFC 6455 "
                "§5.5.1 allows no data frame after it"
            )
        if self.state is State.REMOTE_CLOSING:
            return "the connection is remote_closing: the peer sent a close frame"
        return f"the connection is {self.state.value}"

    def _send_data(self, opcode: Opcode, payload: bytes, fin: bool, what: str) -> None:
        if self.state is not State.OPEN:
            # §5.5.1: "The application MUST NOT send any more data frames after sending a Close
            # frame."
            raise InvalidState(f"cannot send {what}: {self._why_not_open()}")
        if opcode is Opcode.CONT and not self._sending_fragments:
            raise InvalidState(
                "cannot send a continuation frame: no fragmented message is in progress (start "
                "one with send_text(..., fin=False) or send_binary(..., fin=False))"
            )
        if opcode is not Opcode.CONT and self._sending_fragments:
            # §5.4: "the fragments of one message MUST NOT be interleaved between the fragments
            # of another message"
            raise InvalidState(
                f"cannot send {what}: a fragmented message is in progress; finish it with "
                "send_continuation(..., fin=True) first"
            )
        if self.deflate is None:
            frame = Frame(opcode, payload, fin)
        else:
            frame = self.deflate.encode(opcode, payload, fin)  # RSV1 on a compressed first frame
        # A data frame we build breaks no rule of §5.2 whatever its payload: skip the check.
        self._send_frame(frame, check=False)
        self._sending_fragments = not fin

    def _ensure_control_allowed(self, what: str) -> None:
        if self.state is State.OPEN:
            return
        if self.state is State.LOCAL_CLOSING and self.close_received is None and not self._eof_sent:
            return  # waiting for the peer's close frame: control frames may still go out
        if self.state is State.CLOSED:
            raise InvalidState(f"cannot send {what}: the connection is closed")
        raise InvalidState(
            f"cannot send {what}: the connection is {self.state.value} and the closing handshake "
            "is over" + (" (this side failed the connection)" if self.failure else "")
        )

    def _send_frame(self, frame: Frame, *, check: bool = True) -> None:
        """Queue the frame's bytes; InvalidState (nothing queued) if it breaks a rule of §5.5."""
        if self.side is Side.CLIENT:
            # §5.1: "a client MUST mask all frames that it sends to the server", §5.3: with "a
            # fresh masking key" for each frame
            data = frame.serialize(mask=True, mask_key=self.mask_key_generator(), check=check)
        else:
            # §5.1: "A server MUST NOT mask any frames that it sends to the client."
            data = frame.serialize(mask=False, check=check)
        self._writes.append(data)
        if self.trace is not None:
            self.trace(">", frame)

    def _send_eof(self) -> None:
        if not self._eof_sent:
            self._eof_sent = True
            self._writes.append(SEND_EOF)
