"""The opening handshake (RFC 6455 §4) and its signature, ``Sec-WebSocket-Accept`` (§1.3).

A WebSocket connection starts as an HTTP/1.1 request that asks to switch protocols, and a
``101 Switching Protocols`` answer (RFC 6455 §1.3, the example from the RFC)::

    GET /chat HTTP/1.1                      HTTP/1.1 101 Switching Protocols
    Host: server.example.com                Upgrade: websocket
    Upgrade: websocket                      Connection: Upgrade
    Connection: Upgrade                     Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
    Sec-WebSocket-Version: 13

This module has four parts, all sans-I/O (bytes in, objects or bytes out, never a socket):

1. :func:`accept_key` and :func:`generate_key`: the key, the GUID and the SHA-1 signature.
2. :class:`Headers`, :func:`parse_token_list`, :class:`Request` and :class:`Response`: just
   enough HTTP/1.1 (RFC 9112, RFC 9110) to parse and write a handshake, with the limits that a
   server exposed to the internet needs (:data:`MAX_LINE_LENGTH`, :data:`MAX_HEADERS`,
   :data:`MAX_HEAD_SIZE`, :data:`MAX_BODY_SIZE`).
3. The server side: :func:`accept` checks a request (RFC 6455 §4.2.1) and builds the 101;
   :func:`reject` turns the error it raised into the HTTP error response to send.
4. The client side: :func:`client_request` builds a request (§4.1) and :func:`check_response`
   checks the server's answer (§4.1, "the client MUST validate the server's response").

The parsers are generators fed by a :class:`~wslib.streams.StreamReader`, so a request that
arrives one byte per ``recv()`` parses exactly like one that arrives whole::

    reader = StreamReader()
    parser = Request.parse(reader.read_line)
    next(parser)                      # needs data
    reader.feed_data(sock.recv(4096)) # ... and again, until
    parser.send(None)                 # raises StopIteration whose .value is the Request
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TypeVar

from .exceptions import (
    HeadTooLarge,
    InvalidHeader,
    InvalidMethod,
    InvalidRequest,
    InvalidResponse,
    InvalidVersion,
)
from .origins import OriginPolicy
from .streams import StreamReader

__all__ = [
    "GUID",
    "MAX_BODY_SIZE",
    "MAX_HEADERS",
    "MAX_HEAD_SIZE",
    "MAX_LINE_LENGTH",
    "Headers",
    "MultipleValuesError",
    "Request",
    "Response",
    "accept",
    "accept_key",
    "check_response",
    "client_request",
    "generate_key",
    "parse_token_list",
    "reject",
]

#: RFC 6455 §1.3: a fixed string that the server appends to the client's key.
#: A server that does not know WebSocket cannot produce the right answer by accident.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# --- limits ---------------------------------------------------------------------------------------
# A security limit each: without them, a client could make a server buffer an endless line or an
# endless list of headers, one byte at a time, until it runs out of memory. The values are those of
# python-websockets and of nginx's default `large_client_header_buffers 4 8k`.

#: Longest request line, status line or header line, CRLF included. RFC 9112 §3 recommends
#: supporting request lines of at least 8000 octets; real handshakes use a few hundred.
MAX_LINE_LENGTH = 8192

#: Most header lines in one head. Browsers send about 15 in a handshake.
MAX_HEADERS = 128

#: Most bytes in a whole head (start line, header lines and the empty line that ends it).
MAX_HEAD_SIZE = 65536

#: Largest response body (an error page) that :meth:`Response.parse` reads: 1 MiB.
MAX_BODY_SIZE = 1 << 20


def accept_key(key: str) -> str:
    """Compute ``Sec-WebSocket-Accept`` from ``Sec-WebSocket-Key`` (RFC 6455 §1.3, §4.2.2).

    The key and the GUID are concatenated, hashed with SHA-1, and the 20-byte digest is
    base64-encoded::

        >>> accept_key("dGhlIHNhbXBsZSBub25jZQ==")
        's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    """
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def generate_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64-encoded (RFC 6455 §4.1).

    "The nonce MUST be selected randomly for each connection": a CSPRNG, never a fixed value.
    """
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")


# --- the grammar of RFC 9110 §5 and RFC 9112 §5 -------------------------------------------------

# token = 1*tchar; tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
#                          / "`" / "|" / "~" / DIGIT / ALPHA
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# field-value without leading or trailing whitespace: VCHAR, SP and HTAB (no obs-text: ASCII only)
_FIELD_VALUE = re.compile(r"([\x21-\x7e]([\t\x20-\x7e]*[\x21-\x7e])?)?")
# request-target and reason-phrase characters
_VCHARS = re.compile(r"[\x21-\x7e]+")
_REASON = re.compile(r"[\t\x20-\x7e]*")
_HTTP_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")
# RFC 9110 §7.8: Upgrade = #protocol; protocol = protocol-name ["/" protocol-version]
_PROTOCOL = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?")
_OWS = " \t"
_T = TypeVar("_T")

#: A parser reads lines with ``read_line(max_length)`` (:meth:`StreamReader.read_line`).
ReadLine = Callable[[int], Generator[None, None, bytes]]
#: ... and exact byte counts with ``read_exact(n)`` (:meth:`StreamReader.read_exact`).
ReadExact = Callable[[int], Generator[None, None, bytes]]


def _quote(value: str | bytes, limit: int = 60) -> str:
    """Show a peer's value in an error message: repr'd (control characters escaped), short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- headers --------------------------------------------------------------------------------------


class MultipleValuesError(LookupError):
    """``headers[name]`` found the header more than once where one value was expected.

    A header that is not a list (RFC 9110 §5.3) must not be repeated.
    """


class Headers:
    """HTTP header fields: case-insensitive names, order kept, names may repeat (RFC 9110 §5).

    ::

        >>> h = Headers([("Host", "example.com"), ("Connection", "keep-alive")])
        >>> h["connection"] = "Upgrade"          # appends a second Connection field
        >>> h["HOST"], h.get_all("connection")
        ('example.com', ['keep-alive', 'Upgrade'])

    ``headers[name]`` raises :class:`KeyError` when the header is absent and
    :class:`MultipleValuesError` when it is present more than once: a handshake header like
    ``Sec-WebSocket-Key`` must appear exactly once, and silently taking the first or the last
    copy is how request smuggling starts. Use :meth:`get_all` for list-valued headers.
    """

    __slots__ = ("_fields",)

    def __init__(
        self, fields: Headers | Mapping[str, str] | Iterable[tuple[str, str]] = ()
    ) -> None:
        self._fields: list[tuple[str, str]] = []
        if isinstance(fields, Headers):
            fields = fields.items()
        elif isinstance(fields, Mapping):
            fields = list(fields.items())
        for name, value in fields:
            self[name] = value

    def __setitem__(self, name: str, value: str) -> None:
        """Add a header field (after any with the same name): ``h[name] = value`` never replaces.

        Raises :class:`ValueError` for a name that is not a token, or a value with a control
        character, a non-ASCII character or surrounding whitespace: a CR or LF in a value would
        let a caller inject extra header lines.
        """
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"header name {_quote(name)} is not an HTTP token (RFC 9110 §5.6.2)")
        if not isinstance(value, str) or not _FIELD_VALUE.fullmatch(value):
            raise ValueError(
                f"value of {name} {_quote(value)} must be printable ASCII without "
                "leading or trailing whitespace (RFC 9110 §5.5)"
            )
        self._fields.append((name, value))

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        if len(values) > 1:
            raise MultipleValuesError(f"{name} appears {len(values)} times: {values!r}")
        return values[0]

    def __delitem__(self, name: str) -> None:
        """Remove every field called ``name``; :class:`KeyError` if there is none."""
        if name not in self:
            raise KeyError(name)
        lowered = name.lower()
        self._fields = [(n, v) for n, v in self._fields if n.lower() != lowered]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The only value of ``name``, or ``default`` if absent (repeated: MultipleValuesError)."""
        try:
            return self[name]
        except KeyError:
            return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order; ``[]`` if absent."""
        lowered = name.lower()
        return [v for n, v in self._fields if n.lower() == lowered]

    def items(self) -> list[tuple[str, str]]:
        """Every field as ``(name, value)``, in order, names spelled as they arrived."""
        return list(self._fields)

    def copy(self) -> Headers:
        return Headers(self)

    def serialize(self) -> bytes:
        """The header lines, each ending with CRLF (without the empty line that ends a head)."""
        return "".join(f"{n}: {v}\r\n" for n, v in self._fields).encode("ascii")

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        lowered = name.lower()
        return any(n.lower() == lowered for n, _ in self._fields)

    def __iter__(self) -> Iterator[str]:
        """The name of each field, in order (a repeated name comes once per field)."""
        return (n for n, _ in self._fields)

    def __len__(self) -> int:
        """The number of fields (header lines)."""
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        """Same fields, names compared case-insensitively.

        The relative order of fields with *different* names carries no meaning (RFC 9110
        §5.3), so it is ignored; the order of the values of one name is kept.
        """
        if not isinstance(other, Headers):
            return NotImplemented
        return self._by_name() == other._by_name()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def _by_name(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for n, v in self._fields:
            grouped.setdefault(n.lower(), []).append(v)
        return grouped

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"

    def __str__(self) -> str:
        return self.serialize().decode("ascii")


def _split_list(value: str) -> list[str]:
    """Split an RFC 9110 §5.6.1 ``#element`` list: commas, optional whitespace, empties ignored."""
    return [part.strip(_OWS) for part in value.split(",") if part.strip(_OWS)]


def parse_token_list(value: str) -> list[str]:
    """Parse a comma-separated list of tokens, like ``Connection`` (RFC 9110 §5.6.1, §7.6.1)::

        >>> parse_token_list("keep-alive, Upgrade")
        ['keep-alive', 'Upgrade']
        >>> parse_token_list(" , upgrade,,")
        ['upgrade']

    Raises :class:`ValueError` when an element is not a token (RFC 9110 §5.6.2).
    """
    tokens = _split_list(value)
    for token in tokens:
        if not _TOKEN.fullmatch(token):
            where = "" if token == value.strip(_OWS) else f" in {_quote(value)}"
            raise ValueError(f"{_quote(token)}{where} is not a token")
    return tokens


def _parse_protocol_list(value: str) -> list[str]:
    """Parse ``Upgrade``'s list: ``protocol-name ["/" protocol-version]`` (RFC 9110 §7.8)."""
    protocols = _split_list(value)
    for protocol in protocols:
        if not _PROTOCOL.fullmatch(protocol):
            where = "" if protocol == value.strip(_OWS) else f" in {_quote(value)}"
            raise ValueError(f"{_quote(protocol)}{where} is not a protocol name")
    return protocols


# --- reading a head -------------------------------------------------------------------------------


def _read_head_line(
    read_line: ReadLine,
    head_size: int,
    where: str,
    invalid: Callable[[str], Exception],
    too_large: Callable[[str], Exception],
) -> Generator[None, None, str]:
    """Read one CRLF-terminated, ASCII line of a head, within the line and head size limits.

    ``head_size`` is how many bytes of the head came before: the line may use at most what is
    left of :data:`MAX_HEAD_SIZE`, so the head limit is enforced while the line arrives, not
    after it has been buffered whole.
    """
    budget = MAX_HEAD_SIZE - head_size
    try:
        line = yield from read_line(min(MAX_LINE_LENGTH, budget))
    except RuntimeError:  # StreamReader.read_line: "line longer than ..."
        if budget < MAX_LINE_LENGTH:
            raise too_large(f"head longer than {MAX_HEAD_SIZE} bytes (at the {where})") from None
        raise too_large(f"{where} longer than {MAX_LINE_LENGTH} bytes") from None
    except EOFError as exc:
        raise EOFError(f"the stream ended before the end of the {where}") from exc
    # RFC 9112 §2.2 lets a recipient accept a bare LF; handshakes always use CRLF, and a parser
    # that accepts exactly one line ending cannot disagree with a proxy about where lines end.
    if not line.endswith(b"\r\n"):
        raise invalid(f"the {where} ends with a bare LF; HTTP lines end with CRLF (RFC 9112 §2.2)")
    line = line[:-2]
    if not line.isascii():
        byte = next(b for b in line if b >= 0x80)
        raise invalid(f"non-ASCII byte 0x{byte:02x} in the {where}: {_quote(line)}")
    return line.decode("ascii")


def _parse_header_line(line: str, invalid: Callable[[str], Exception]) -> tuple[str, str]:
    """Split ``Name: value`` (RFC 9112 §5), refusing what the RFC tells a server to refuse."""
    if line[0] in _OWS:
        # RFC 9112 §5.2: "A server that receives an obs-fold in a request message [...] MUST
        # either reject the message by sending a 400 (Bad Request) [...] or replace each
        # received obs-fold with one or more SP octets". We reject.
        raise invalid(
            f"header line {_quote(line)} starts with whitespace: obsolete line folding "
            "(obs-fold) is not allowed (RFC 9112 §5.2)"
        )
    name, colon, value = line.partition(":")
    if not colon:
        raise invalid(f"header line {_quote(line)} has no colon; expected 'Name: value'")
    if name != name.rstrip(_OWS):
        # RFC 9112 §5.1: "A server MUST reject, with a response status code of 400 (Bad Request),
        # any received request message that contains whitespace between a header field name and
        # colon."
        raise invalid(
            f"whitespace between the header name {_quote(name.rstrip(_OWS))} and its colon "
            "(RFC 9112 §5.1)"
        )
    if not _TOKEN.fullmatch(name):
        raise invalid(f"header name {_quote(name)} is not a token (RFC 9110 §5.6.2)")
    value = value.strip(_OWS)
    if not _FIELD_VALUE.fullmatch(value):
        raise invalid(f"control character in the value of {name}: {_quote(value)}")
    return name, value


def _read_head(
    read_line: ReadLine,
    start: str,
    invalid: Callable[[str], Exception],
    too_large: Callable[[str], Exception],
) -> Generator[None, None, tuple[str, Headers]]:
    """Read a start line (``start`` names it) and the header lines, up to the empty line."""
    start_line = yield from _read_head_line(read_line, 0, start, invalid, too_large)
    size = len(start_line) + 2
    headers = Headers()
    while True:
        line = yield from _read_head_line(read_line, size, "header line", invalid, too_large)
        size += len(line) + 2
        if not line:
            return start_line, headers
        if len(headers) == MAX_HEADERS:
            raise too_large(f"more than {MAX_HEADERS} header lines")
        name, value = _parse_header_line(line, invalid)
        headers[name] = value


def _run(parser: Generator[None, None, _T], reader: StreamReader, data: bytes) -> _T:
    """Feed a whole byte string to a parser; used by the ``from_bytes`` constructors."""
    reader.feed_data(data)
    reader.feed_eof()
    try:
        next(parser)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise AssertionError("a parser asked for more data after the end of the stream")


# --- the request ----------------------------------------------------------------------------------


@dataclass
class Request:
    """An HTTP request head: the client's half of the opening handshake (RFC 6455 §4.1).

    ``path`` is the request-target (``/chat?room=1``). Constructing a Request checks the method
    is a token, the path printable ASCII without spaces, and the version ``HTTP/x.y``
    (:class:`ValueError` otherwise), so that :meth:`serialize` always writes one valid line.
    """

    path: str
    headers: Headers
    method: str = "GET"
    version: str = "HTTP/1.1"

    def __post_init__(self) -> None:
        if not _TOKEN.fullmatch(self.method):
            raise ValueError(f"method {_quote(self.method)} is not a token")
        if not _VCHARS.fullmatch(self.path):
            raise ValueError(f"path {_quote(self.path)} must be printable ASCII without spaces")
        if not _HTTP_VERSION.fullmatch(self.version):
            raise ValueError(f"version {_quote(self.version)} is not HTTP/x.y")

    @classmethod
    def parse(cls, read_line: ReadLine) -> Generator[None, None, Request]:
        """Parse a request head (RFC 9112 §2.1) from ``read_line``; a generator (see the module).

        Reads only the head: a WebSocket handshake request is a GET and has no body, so a
        request that announces one (``Content-Length`` other than 0, ``Transfer-Encoding``)
        is refused. Raises :class:`~wslib.exceptions.InvalidRequest` for a malformed head,
        :class:`~wslib.exceptions.HeadTooLarge` as soon as a limit is crossed, and
        :class:`EOFError` if the stream ends before the empty line.
        """
        request_line, headers = yield from _read_head(
            read_line, "request line", InvalidRequest, HeadTooLarge
        )
        # RFC 9112 §3: request-line = method SP request-target SP HTTP-version
        parts = request_line.split(" ")
        if (
            len(parts) != 3
            or not _TOKEN.fullmatch(parts[0])
            or not _VCHARS.fullmatch(parts[1])
            or not _HTTP_VERSION.fullmatch(parts[2])
        ):
            raise InvalidRequest(
                f"request line {_quote(request_line)} is not METHOD SP request-target SP "
                "HTTP-version, as in 'GET /chat HTTP/1.1' (RFC 9112 §3)"
            )
        method, path, version = parts
        if "Transfer-Encoding" in headers or headers.get_all("Content-Length") not in ([], ["0"]):
            raise InvalidRequest(
                "the request announces a body (Content-Length or Transfer-Encoding); "
                "a WebSocket handshake is a GET without one (RFC 6455 §4.1)"
            )
        return cls(path, headers, method, version)

    @classmethod
    def from_bytes(cls, data: bytes) -> Request:
        """Parse a whole request head given as bytes (convenient in tests and notebooks).

        Bytes left after the head are an :class:`~wslib.exceptions.InvalidRequest`: a client
        "MUST wait for a response from the server before sending any further data" (RFC 6455
        §4.1). :class:`EOFError` if the head is incomplete.
        """
        reader = StreamReader()
        request = _run(cls.parse(reader.read_line), reader, data)
        if reader.buffer:
            raise InvalidRequest(f"{len(reader.buffer)} bytes after the end of the request head")
        return request

    def serialize(self) -> bytes:
        """The request head as bytes, ready to send."""
        request_line = f"{self.method} {self.path} {self.version}\r\n".encode("ascii")
        return request_line + self.headers.serialize() + b"\r\n"


# --- the response ---------------------------------------------------------------------------------


@dataclass
class Response:
    """An HTTP response: the server's half of the opening handshake (RFC 6455 §4.2.2).

    A 101 has no body: the bytes after its head are WebSocket frames. An error response
    (built by :func:`reject`) carries a short text body.
    """

    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    version: str = "HTTP/1.1"

    def __post_init__(self) -> None:
        if not (isinstance(self.status, int) and 100 <= self.status <= 599):
            raise ValueError(f"status {self.status!r} is not an HTTP status code (100 to 599)")
        self.status = int(self.status)  # an HTTPStatus becomes a plain int
        if not _REASON.fullmatch(self.reason):
            raise ValueError(f"reason {_quote(self.reason)} must be printable ASCII")
        if not _HTTP_VERSION.fullmatch(self.version):
            raise ValueError(f"version {_quote(self.version)} is not HTTP/x.y")

    @classmethod
    def parse(cls, read_line: ReadLine, read_exact: ReadExact) -> Generator[None, None, Response]:
        """Parse a response (RFC 9112 §2.1) from ``read_line`` and ``read_exact``; a generator.

        The body is read when ``Content-Length`` announces one (at most
        :data:`MAX_BODY_SIZE` bytes). A 1xx, 204 or 304 response has no body (RFC 9112
        §6.3), in particular the 101, after which the stream carries WebSocket frames. A
        response without ``Content-Length`` is given an empty body: its body would run to the
        end of the connection, and a client that did not get its 101 closes it anyway.
        Raises :class:`~wslib.exceptions.InvalidResponse` when malformed or over a limit,
        :class:`EOFError` if the stream ends early.
        """
        status_line, headers = yield from _read_head(
            read_line, "status line", InvalidResponse, InvalidResponse
        )
        # RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
        match = re.fullmatch(r"(HTTP/[0-9]\.[0-9]) ([1-5][0-9][0-9])(?: (.*))?", status_line)
        if match is None or not _REASON.fullmatch(match.group(3) or ""):
            raise InvalidResponse(
                f"status line {_quote(status_line)} is not HTTP-version SP status-code SP "
                "reason, as in 'HTTP/1.1 101 Switching Protocols' (RFC 9112 §4)"
            )
        version, status, reason = match.group(1), int(match.group(2)), match.group(3) or ""
        body = b""
        if not (100 <= status < 200 or status in (204, 304)):
            if "Transfer-Encoding" in headers:
                raise InvalidResponse("Transfer-Encoding in a handshake response is not supported")
            lengths = headers.get_all("Content-Length")
            if len(lengths) > 1:
                raise InvalidResponse(f"Content-Length appears {len(lengths)} times")
            if lengths:
                if not re.fullmatch(r"[0-9]{1,18}", lengths[0]):
                    raise InvalidResponse(f"Content-Length {_quote(lengths[0])} is not a number")
                length = int(lengths[0])
                if length > MAX_BODY_SIZE:
                    raise InvalidResponse(
                        f"body of {length} bytes is over the limit of {MAX_BODY_SIZE} bytes"
                    )
                try:
                    body = yield from read_exact(length)
                except EOFError as exc:
                    raise EOFError("the stream ended before the end of the response body") from exc
        return cls(status, reason, headers, body, version)

    @classmethod
    def from_bytes(cls, data: bytes) -> Response:
        """Parse a whole response given as bytes; bytes left over are an InvalidResponse.

        (After a real 101, frames may follow in the same segment: to keep them, use
        :meth:`parse` with a :class:`~wslib.streams.StreamReader` instead.)
        """
        reader = StreamReader()
        response = _run(cls.parse(reader.read_line, reader.read_exact), reader, data)
        if reader.buffer:
            raise InvalidResponse(f"{len(reader.buffer)} bytes after the end of the response")
        return response

    def serialize(self) -> bytes:
        """The response as bytes, ready to send."""
        status_line = f"{self.version} {self.status} {self.reason}\r\n".encode("ascii")
        return status_line + self.headers.serialize() + b"\r\n" + self.body


# --- the server side (RFC 6455 §4.2) --------------------------------------------------------------


def _single(headers: Headers, name: str, why: str) -> str:
    """The one value of a header that must appear exactly once, else InvalidHeader (400)."""
    values = headers.get_all(name)
    if not values:
        raise InvalidHeader(name, f"missing {name} header: {why}")
    if len(values) > 1:
        raise InvalidHeader(name, f"{name} appears {len(values)} times; it must appear once")
    return values[0]


def _joined(headers: Headers, name: str) -> str:
    """All values of a list-valued header as one list (RFC 9110 §5.3 lets fields combine)."""
    return ", ".join(headers.get_all(name))


def accept(
    request: Request,
    *,
    origins: Sequence[str | None] | OriginPolicy | None = None,
    subprotocols: Sequence[str] = (),
) -> Response:
    """Check a client's opening handshake (RFC 6455 §4.2.1) and build the 101 (§4.2.2).

    The checks follow §4.2.1 in order; the first that fails raises an
    :class:`~wslib.exceptions.InvalidRequest` subclass whose ``status`` and ``headers`` say
    what to answer (pass it to :func:`reject`):

    ======================================================  ====================  ======
    the request                                             exception             status
    ======================================================  ====================  ======
    method other than GET                                   InvalidMethod         405
    HTTP version below 1.1, a target not like ``/path``     InvalidRequest        400
    ``Host`` missing, repeated or empty                     InvalidHeader         400
    ``Upgrade`` without ``websocket``                       InvalidHeader         400
    ``Connection`` without ``upgrade``                      InvalidHeader         400
    ``Sec-WebSocket-Key`` missing, repeated, not 16 bytes   InvalidHeader         400
    ``Sec-WebSocket-Version`` missing or not ``13``         InvalidVersion        426
    ``Origin`` repeated                                     InvalidHeader         400
    ``Origin`` not one of ``origins``, or malformed         InvalidOrigin         403
    ``Sec-WebSocket-Protocol`` not a list of tokens         InvalidHeader         400
    ======================================================  ====================  ======

    ``origins``: ``None`` (the default) accepts any Origin; a list (or a
    :class:`~wslib.origins.OriginPolicy`) accepts only those origins, compared as scheme, host
    and port (``https://Example.com:443`` is ``https://example.com``; see :mod:`wslib.origins`
    for every tricky value), and ``None`` in the list accepts a request without Origin
    (non-browser clients send none).

    ``subprotocols``: those the server speaks. The client lists its offers "ordered by
    preference" (§4.1), so the server picks the *first of the client's offers* that it
    supports. When there is none in common, the 101 carries no ``Sec-WebSocket-Protocol``
    (§4.2.2: "the server MUST NOT send back a |Sec-WebSocket-Protocol| header field") and
    the client decides whether to go on. (python-websockets differs: it prefers the
    server's order and refuses the handshake when nothing matches.)

    ``accept`` negotiates no extension: it ignores ``Sec-WebSocket-Extensions``, and
    :func:`wslib.deflate.server_extension` adds permessage-deflate to its 101 when wanted.
    """
    # §4.2.1 item 1: "An HTTP/1.1 or higher GET request"
    if request.method != "GET":
        raise InvalidMethod(
            f"the method is {_quote(request.method)}, but a WebSocket handshake "
            "MUST be a GET request (RFC 6455 §4.1)"
        )
    version = _HTTP_VERSION.fullmatch(request.version)
    if version is None or (int(version.group(1)), int(version.group(2))) < (1, 1):
        raise InvalidRequest(
            f"the request is {_quote(request.version)}; a WebSocket handshake needs "
            "HTTP/1.1 or higher (RFC 6455 §4.2.1)"
        )
    # §4.2.1 item 1: a Request-URI that is a /resource name/ "(or an absolute HTTP/HTTPS URI
    # containing the /resource name/)"
    if not request.path.startswith(("/", "http://", "https://")):
        raise InvalidRequest(
            f"the request-target {_quote(request.path)} is neither a path starting with '/' "
            "nor an absolute http(s) URI (RFC 6455 §4.2.1)"
        )

    headers = request.headers
    # §4.2.1 item 2: "A |Host| header field containing the server's authority."
    # RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
    # request message that lacks a Host header field and to any request message that contains
    # more than one Host header field line or a Host header field with an invalid field value."
    host = _single(headers, "Host", "it names the server, as in 'Host: example.com:8080'")
    if not host:
        raise InvalidHeader("Host", "the Host header is empty; it must name the server")

    # §4.2.1 item 3: "An |Upgrade| header field containing the value "websocket", treated as an
    # ASCII case-insensitive value."
    upgrade = _joined(headers, "Upgrade")
    try:
        protocols = _parse_protocol_list(upgrade)
    except ValueError as exc:
        raise InvalidHeader("Upgrade", f"invalid Upgrade header: {exc}") from None
    if "websocket" not in (p.lower() for p in protocols):
        got = f"got {_quote(upgrade)}" if "Upgrade" in headers else "it is missing"
        raise InvalidHeader(
            "Upgrade", f"expected 'Upgrade: websocket', but {got} (RFC 6455 §4.2.1 item 3)"
        )

    # §4.2.1 item 4: "A |Connection| header field that includes the token "Upgrade", treated as
    # an ASCII case-insensitive value." Firefox sends "Connection: keep-alive, Upgrade".
    connection = _joined(headers, "Connection")
    try:
        tokens = parse_token_list(connection)
    except ValueError as exc:
        raise InvalidHeader("Connection", f"invalid Connection header: {exc}") from None
    if "upgrade" not in (t.lower() for t in tokens):
        got = f"got {_quote(connection)}" if "Connection" in headers else "it is missing"
        raise InvalidHeader(
            "Connection",
            f"expected the token 'Upgrade' in the Connection header, but {got} "
            "(RFC 6455 §4.2.1 item 4)",
        )

    # §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when
    # decoded, is 16 bytes in length."
    key = _single(
        headers,
        "Sec-WebSocket-Key",
        "the client MUST send 16 random bytes, base64-encoded (RFC 6455 §4.1)",
    )
    try:
        raw_key = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw_key = None
    if raw_key is None or len(raw_key) != 16:
        decoded = "is not valid base64" if raw_key is None else f"decodes to {len(raw_key)} bytes"
        raise InvalidHeader(
            "Sec-WebSocket-Key",
            f"Sec-WebSocket-Key {_quote(key)} {decoded}; expected 16 random bytes in "
            "base64, 24 characters like 'dGhlIHNhbXBsZSBub25jZQ==' (RFC 6455 §4.2.1 item 5)",
        )

    # §4.2.1 item 6: "A |Sec-WebSocket-Version| header field, with a value of 13."
    # §4.2.2: if not, the server "MUST abort the WebSocket handshake [...] and instead send an
    # appropriate HTTP error code (such as 426 Upgrade Required) and a |Sec-WebSocket-Version|
    # header field indicating the version(s) the server is capable of understanding."
    versions = headers.get_all("Sec-WebSocket-Version")
    if versions != ["13"]:
        got = f"got {_quote(', '.join(versions))}" if versions else "it is missing"
        raise InvalidVersion(
            f"expected 'Sec-WebSocket-Version: 13', but {got}; this server speaks only "
            "version 13, the version of RFC 6455 (§4.2.1 item 6)"
        )

    # §4.2.1 item 7: "Optionally, an |Origin| header field." §4.2.2: "If the server does not
    # validate the origin, it will accept connections from anywhere. If the server does not wish
    # to accept this connection, it MUST return an appropriate HTTP error code (e.g., 403)".
    if origins is not None:
        origin_values = headers.get_all("Origin")
        if len(origin_values) > 1:
            raise InvalidHeader("Origin", f"Origin appears {len(origin_values)} times")
        # Origins compare as (scheme, host, port), not as strings (wslib.origins, RFC 6454 §5).
        policy = origins if isinstance(origins, OriginPolicy) else OriginPolicy(origins)
        policy.check(origin_values[0] if origin_values else None)

    # §4.2.1 item 8: "Optionally, a |Sec-WebSocket-Protocol| header field, with a list of values
    # indicating which protocols the client would like to speak, ordered by preference."
    offered: list[str] = []
    if "Sec-WebSocket-Protocol" in headers:
        try:
            offered = parse_token_list(_joined(headers, "Sec-WebSocket-Protocol"))
        except ValueError as exc:
            raise InvalidHeader(
                "Sec-WebSocket-Protocol", f"invalid Sec-WebSocket-Protocol header: {exc}"
            ) from None
        if not offered:
            raise InvalidHeader(
                "Sec-WebSocket-Protocol",
                "Sec-WebSocket-Protocol is empty; a client that offers no subprotocol "
                "leaves the header out (RFC 6455 §4.1)",
            )
    chosen = next((p for p in offered if p in subprotocols), None)

    # §4.2.2 item 5: the 101 with Upgrade, Connection and Sec-WebSocket-Accept.
    response_headers = Headers(
        [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept_key(key)),
        ]
    )
    # §4.2.2: "If the server does not wish to agree to one of the suggested subprotocols, it MUST
    # NOT send back a |Sec-WebSocket-Protocol| header field in its response." Never empty.
    if chosen is not None:
        response_headers["Sec-WebSocket-Protocol"] = chosen
    return Response(HTTPStatus.SWITCHING_PROTOCOLS, "Switching Protocols", response_headers)


def reject(error: InvalidRequest) -> Response:
    """The HTTP error response for a refused handshake (RFC 6455 §4.2.2, §4.4).

    Status and extra headers come from the error (``Allow: GET`` with a 405,
    ``Sec-WebSocket-Version: 13`` with a 426); the body is one line of plain text that explains
    what was wrong, and ``Connection: close`` says the server closes the connection next.
    """
    status = HTTPStatus(error.status)
    message = " ".join(str(error).split())  # one line, whatever the message holds
    body = f"Failed to open a WebSocket connection: {message}\n".encode()
    headers = Headers(error.headers)
    headers["Content-Type"] = "text/plain; charset=utf-8"
    headers["Content-Length"] = str(len(body))
    headers["Connection"] = "close"
    return Response(status.value, status.phrase, headers, body)


# --- the client side (RFC 6455 §4.1) --------------------------------------------------------------


def client_request(
    host: str,
    path: str = "/",
    *,
    key: str | None = None,
    origin: str | None = None,
    subprotocols: Sequence[str] = (),
) -> Request:
    """Build a client's opening handshake (RFC 6455 §4.1).

    ``host`` is the server's authority as it goes in the ``Host`` header: ``"example.com"``,
    or ``"127.0.0.1:8765"`` with the port when it is not the default. ``key`` defaults to a
    fresh :func:`generate_key` (pass one only to reproduce an example); read it back from
    ``request.headers["Sec-WebSocket-Key"]`` to check the response with
    :func:`check_response`. ``subprotocols`` are offered in order of preference.
    """
    if not _VCHARS.fullmatch(host):
        raise ValueError(f"host {_quote(host)} must be printable ASCII without spaces")
    if not path.startswith("/"):
        raise ValueError(f"path {_quote(path)} must start with '/'")
    for subprotocol in subprotocols:
        # §4.1: "The elements that comprise this value MUST be non-empty strings with characters
        # in the range U+0021 to U+007E not including separator characters [...] and MUST all be
        # unique strings."
        if not _TOKEN.fullmatch(subprotocol):
            raise ValueError(f"subprotocol {_quote(subprotocol)} is not a token")
    if len(set(subprotocols)) != len(subprotocols):
        raise ValueError(f"subprotocols must be unique: {list(subprotocols)!r}")
    headers = Headers(
        [
            ("Host", host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            # §4.1: "The nonce MUST be selected randomly for each connection."
            ("Sec-WebSocket-Key", generate_key() if key is None else key),
            ("Sec-WebSocket-Version", "13"),
        ]
    )
    if origin is not None:
        headers["Origin"] = origin
    if subprotocols:
        headers["Sec-WebSocket-Protocol"] = ", ".join(subprotocols)
    return Request(path, headers)


def check_response(
    response: Response,
    key: str,
    *,
    subprotocols: Sequence[str] = (),
    extensions: Sequence[str] = (),
) -> str | None:
    """Validate the server's answer to a handshake sent with ``key`` (RFC 6455 §4.1).

    ``extensions``: the names of the extensions offered; the answer may use only those (their
    parameters are each extension's business: :func:`wslib.deflate.client_extension`).
    Returns the subprotocol the server chose, or ``None``. Every failure raises
    :class:`~wslib.exceptions.InvalidResponse`: "the client MUST _Fail the WebSocket
    Connection_" (§4.1) when any of these checks fails.
    """
    # §4.1: "If the status code received from the server is not 101, the client handles the
    # response per HTTP [RFC2616] procedures." (RFC 2616 is now RFC 9110 and RFC 9112.) For a
    # WebSocket client: it gives up.
    if response.status != 101:
        explanation = response.body.decode("utf-8", "replace").strip().splitlines()
        detail = f": {_quote(explanation[0], 120)}" if explanation else ""
        raise InvalidResponse(
            f"expected status 101 Switching Protocols, got {response.status} "
            f"{response.reason}{detail}",
            status=response.status,
        )
    headers = response.headers
    # §4.1 item 2: "If the response lacks an |Upgrade| header field or the |Upgrade| header field
    # contains a value that is not an ASCII case-insensitive match for the value "websocket",
    # the client MUST _Fail the WebSocket Connection_."
    upgrade = headers.get_all("Upgrade")
    if len(upgrade) != 1 or upgrade[0].lower() != "websocket":
        got = _quote(", ".join(upgrade)) if upgrade else "none"
        raise InvalidResponse(f"expected 'Upgrade: websocket' in the 101, got {got}")
    # §4.1 item 3: "If the response lacks a |Connection| header field or the |Connection| header
    # field doesn't contain a token that is an ASCII case-insensitive match for the value
    # "Upgrade", the client MUST _Fail the WebSocket Connection_."
    connection = _joined(headers, "Connection")
    try:
        tokens = parse_token_list(connection)
    except ValueError as exc:
        raise InvalidResponse(f"invalid Connection header in the 101: {exc}") from None
    if "upgrade" not in (t.lower() for t in tokens):
        got = _quote(connection) if "Connection" in headers else "none"
        raise InvalidResponse(f"expected the token 'Upgrade' in Connection, got {got}")
    # §4.1 item 4: "If the response lacks a |Sec-WebSocket-Accept| header field or the
    # |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of the
    # concatenation of the |Sec-WebSocket-Key| (as a string, not base64-decoded) with the string
    # "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" [...] the client MUST _Fail the WebSocket
    # Connection_."
    expected = accept_key(key)
    accepts = headers.get_all("Sec-WebSocket-Accept")
    if accepts != [expected]:
        got = _quote(", ".join(accepts)) if accepts else "none"
        raise InvalidResponse(
            f"Sec-WebSocket-Accept should be {expected!r} for the key {key!r}, got {got}: "
            "this server did not understand the WebSocket handshake"
        )
    # §4.1 item 5: "If the response includes a |Sec-WebSocket-Extensions| header field and this
    # header field indicates the use of an extension that was not present in the client's
    # handshake [...], the client MUST _Fail the WebSocket Connection_."
    answered = _joined(headers, "Sec-WebSocket-Extensions")
    if not extensions and _split_list(answered):
        raise InvalidResponse(
            f"the server chose the extension(s) {_quote(answered)}, but none was offered"
        )
    for element in _split_list(answered):
        # the name comes first in each element: "permessage-deflate; client_max_window_bits=12"
        name = element.split(";", 1)[0].strip(_OWS)
        if name not in extensions:
            raise InvalidResponse(
                f"the server chose the extension {_quote(name)}, which was not offered "
                f"(offered: {', '.join(map(repr, extensions))})"
            )
    # §4.1 item 6: "If the response includes a |Sec-WebSocket-Protocol| header field and this
    # header field indicates the use of a subprotocol that was not present in the client's
    # handshake [...], the client MUST _Fail the WebSocket Connection_."
    chosen = headers.get_all("Sec-WebSocket-Protocol")
    if not chosen:
        return None
    if len(chosen) != 1 or chosen[0] not in subprotocols:
        offered = ", ".join(map(repr, subprotocols)) or "none"
        raise InvalidResponse(
            f"the server chose the subprotocol {_quote(', '.join(chosen))}, "
            f"which was not offered (offered: {offered})"
        )
    return chosen[0]
