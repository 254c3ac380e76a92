"""Tests of wslib.handshake: the opening handshake of RFC 6455 §4.

In order: the RFC's own vectors; the HTTP pieces (Headers, token lists, parsing with limits); every
way the server refuses a request (§4.2.1) and the error response it sends; the client's checks of
the 101 (§4.1); hypothesis properties (round trips, arbitrary bytes, any chunking); differential
tests against python-websockets' parser and server; and interop with real peers
(websocket-client and the websockets sync client) over 127.0.0.1.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
import websocket  # websocket-client
import websockets.http11
import websockets.server
import websockets.streams
import websockets.sync.client
import websockets.sync.server
import websockets.utils
import wsproto
import wsproto.events
import wsproto.utilities
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wslib import StreamReader
from wslib.exceptions import (
    HeadTooLarge,
    InvalidHeader,
    InvalidMethod,
    InvalidOrigin,
    InvalidRequest,
    InvalidResponse,
    InvalidVersion,
)
from wslib.handshake import (
    GUID,
    MAX_BODY_SIZE,
    MAX_HEAD_SIZE,
    MAX_HEADERS,
    MAX_LINE_LENGTH,
    Headers,
    MultipleValuesError,
    Request,
    Response,
    accept,
    accept_key,
    check_response,
    client_request,
    generate_key,
    parse_token_list,
    reject,
)

from .conftest import run_parser

T = TypeVar("T")

# RFC 6455 §1.3: the sample key and the accept value the RFC computes from it.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

# RFC 6455 §1.2, the client's handshake, with the Sec-WebSocket-Version of §4.1.
RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)

# What Firefox sends (captured from Firefox 128), Connection with two tokens.
FIREFOX_REQUEST = (
    b"GET /echo HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8765\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: */*\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Origin: http://127.0.0.1:8000\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
    b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    b"Connection: keep-alive, Upgrade\r\n"
    b"Sec-Fetch-Dest: empty\r\n"
    b"Sec-Fetch-Mode: websocket\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b"Pragma: no-cache\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Upgrade: websocket\r\n"
    b"\r\n"
)


def parse_chunks(data: bytes, chunks: list[int], *, response: bool = False) -> Any:
    """Feed ``data`` in pieces of the given sizes (the rest in one), then end the stream.

    Fails if the parser still waits after the end of the stream: that parser would hang.
    """
    reader = StreamReader()
    parser: Generator[None, None, Any] = (
        Response.parse(reader.read_line, reader.read_exact)
        if response
        else Request.parse(reader.read_line)
    )
    pieces, pos = [], 0
    for size in chunks:
        pieces.append(data[pos : pos + size])
        pos += size
    pieces.append(data[pos:])
    try:
        next(parser)
        for piece in pieces:
            reader.feed_data(piece)
            next(parser)
        reader.feed_eof()
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("the parser waits for more data after the end of the stream")


def bytes_fed_until_error(data: bytes) -> tuple[int, Exception]:
    """Feed a request one byte at a time; return how many bytes were fed when it raised."""
    reader = StreamReader()
    parser = Request.parse(reader.read_line)
    next(parser)
    for count in range(1, len(data) + 1):
        reader.feed_data(data[count - 1 : count])
        try:
            next(parser)
        except StopIteration:
            raise AssertionError("the request was accepted") from None
        except Exception as exc:
            return count, exc
        # nothing buffers beyond the current line: memory is bounded by the line limit
        assert len(reader.buffer) <= MAX_LINE_LENGTH
    raise AssertionError("no error after all the bytes")


def with_headers(*lines: str, drop: tuple[str, ...] = (), request_line: str = "") -> bytes:
    """The RFC sample request without the ``drop`` headers, plus ``lines``."""
    head = RFC_REQUEST.decode().split("\r\n")[:-2]
    if request_line:
        head[0] = request_line
    kept = [head[0]] + [h for h in head[1:] if h.split(":")[0].lower() not in drop]
    return ("\r\n".join(kept + list(lines)) + "\r\n\r\n").encode()


# --- RFC vectors ----------------------------------------------------------------------------------


def test_accept_key_rfc_vector() -> None:
    assert accept_key(RFC_KEY) == RFC_ACCEPT
    assert GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@given(st.binary(min_size=16, max_size=16))
def test_accept_key_agrees_with_websockets(raw: bytes) -> None:
    key = base64.b64encode(raw).decode()
    assert accept_key(key) == websockets.utils.accept_key(key)


def test_generate_key_is_16_random_bytes() -> None:
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert len(key) == 24
        assert len(base64.b64decode(key, validate=True)) == 16


def test_rfc_sample_request_parses() -> None:
    request = Request.from_bytes(RFC_REQUEST)
    assert (request.method, request.path, request.version) == ("GET", "/chat", "HTTP/1.1")
    assert request.headers["host"] == "server.example.com"
    assert request.headers["SEC-WEBSOCKET-KEY"] == RFC_KEY
    assert len(request.headers) == 7
    assert request.serialize() == RFC_REQUEST


def test_rfc_sample_request_is_accepted() -> None:
    response = accept(Request.from_bytes(RFC_REQUEST), subprotocols=["chat"])
    # RFC 6455 §1.2, the server's handshake
    assert response.serialize() == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Protocol: chat\r\n"
        b"\r\n"
    )
    assert check_response(response, RFC_KEY, subprotocols=["chat", "superchat"]) == "chat"
    assert type(response.status) is int  # not an HTTPStatus: reads as 101 in a repr
    assert repr(response).startswith("Response(status=101, reason='Switching Protocols'")


def test_the_101_never_carries_the_obsolete_location_header() -> None:
    response = accept(Request.from_bytes(RFC_REQUEST))
    names = {name.lower() for name, _ in response.headers.items()}
    assert names == {"upgrade", "connection", "sec-websocket-accept"}
    assert b"Location" not in response.serialize()


# --- Headers and token lists ----------------------------------------------------------------------


def test_headers_are_case_insensitive_and_keep_order() -> None:
    h = Headers([("Host", "example.com"), ("Connection", "keep-alive")])
    h["connection"] = "Upgrade"
    assert h["HOST"] == h["host"] == h.get("hOsT") == "example.com"
    assert h.get_all("CONNECTION") == ["keep-alive", "Upgrade"]
    assert h.items() == [("Host", "example.com"), ("Connection", "keep-alive"),
                         ("connection", "Upgrade")]  # fmt: skip
    assert len(h) == 3 and list(h) == ["Host", "Connection", "connection"]
    assert "HoSt" in h and "Origin" not in h and 3 not in h
    assert h.get("Origin") is None and h.get("Origin", "x") == "x" and h.get_all("Origin") == []
    assert repr(h) == (
        "Headers([('Host', 'example.com'), ('Connection', 'keep-alive'), "
        "('connection', 'Upgrade')])"
    )
    assert str(h) == "Host: example.com\r\nConnection: keep-alive\r\nconnection: Upgrade\r\n"


def test_headers_missing_and_repeated() -> None:
    h = Headers({"Connection": "a"})
    h["Connection"] = "b"
    with pytest.raises(KeyError):
        h["Host"]
    with pytest.raises(MultipleValuesError, match="2 times"):
        h["connection"]
    with pytest.raises(MultipleValuesError):
        h.get("Connection")
    assert not isinstance(MultipleValuesError("x"), KeyError)  # `except KeyError` won't hide it
    del h["CONNECTION"]
    assert len(h) == 0
    with pytest.raises(KeyError):
        del h["Connection"]


def test_headers_equality() -> None:
    a = Headers([("Host", "x"), ("Upgrade", "websocket"), ("Connection", "a"), ("Connection", "b")])
    b = Headers([("upgrade", "websocket"), ("connection", "a"), ("HOST", "x"), ("Connection", "b")])
    c = Headers([("Host", "x"), ("Upgrade", "websocket"), ("Connection", "b"), ("Connection", "a")])
    assert a == b  # names case-insensitive; order across different names carries no meaning
    assert a != c  # order of one name's values does
    assert a != Headers([("Host", "x")])
    assert a != [("Host", "x")]
    assert a == a.copy() and a.copy() is not a


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Evil", "a\r\nInjected: yes"),
        ("X-Evil", "a\nb"),
        ("X-Evil", "\x00"),
        ("X-Evil", " padded"),
        ("X-Evil", "café"),
        ("Bad Name", "x"),
        ("Bad:Name", "x"),
        ("", "x"),
    ],
)
def test_headers_refuse_what_would_break_the_head(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        Headers([(name, value)])


@pytest.mark.parametrize(
    ("value", "tokens"),
    [
        ("Upgrade", ["Upgrade"]),
        ("keep-alive, Upgrade", ["keep-alive", "Upgrade"]),
        ("keep-alive,Upgrade", ["keep-alive", "Upgrade"]),
        (" , upgrade,,\t", ["upgrade"]),
        ("", []),
        ("a ,\tb , c", ["a", "b", "c"]),
    ],
)
def test_parse_token_list(value: str, tokens: list[str]) -> None:
    assert parse_token_list(value) == tokens


@pytest.mark.parametrize("value", ["keep alive", "a, b c", "x/1", "a;b", '"quoted"', "é"])
def test_parse_token_list_refuses_non_tokens(value: str) -> None:
    with pytest.raises(ValueError, match="not a token"):
        parse_token_list(value)


# --- malformed requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GET /chat\r\n\r\n", "request line"),
        (b"GET  /chat HTTP/1.1\r\n\r\n", "request line"),
        (b"GET /chat HTTP/1.1 \r\n\r\n", "request line"),
        (b"GET /chat HTTP/1\r\n\r\n", "request line"),
        (b"GET /chat http/1.1\r\n\r\n", "request line"),
        (b"G(T /chat HTTP/1.1\r\n\r\n", "request line"),
        (b"GET /ch\x7fat HTTP/1.1\r\n\r\n", "request line"),
        (b"GET /chat HTTP/1.1\nHost: x\r\n\r\n", "bare LF"),
        (b"GET /chat HTTP/1.1\r\nHost: x\n\r\n", "bare LF"),
        (b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", "non-ASCII byte 0xc3"),
        (b"GET / HTTP/1.1\r\nX-Name: caf\xe9\r\n\r\n", "non-ASCII byte 0xe9"),
        (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", "no colon"),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", "whitespace between the header name"),
        (b"GET / HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n", "obs-fold"),
        (b"GET / HTTP/1.1\r\n\tX-A: 1\r\n\r\n", "obs-fold"),
        (b"GET / HTTP/1.1\r\nX(A): 1\r\n\r\n", "not a token"),
        (b"GET / HTTP/1.1\r\n: 1\r\n\r\n", "not a token"),
        (b"GET / HTTP/1.1\r\nX-A: 1\x002\r\n\r\n", "control character"),
        (b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "body"),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "body"),
    ],
)
def test_malformed_requests_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as info:
        Request.from_bytes(data)
    assert type(info.value) is InvalidRequest
    assert "\n" not in str(info.value)  # one line
    assert reject(info.value).status == 400


def test_content_length_zero_is_no_body() -> None:
    request = Request.from_bytes(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert request.headers["Content-Length"] == "0"


@pytest.mark.parametrize("cut", [0, 5, 20, len(RFC_REQUEST) - 2, len(RFC_REQUEST) - 1])
def test_a_request_cut_short_is_an_eof_error(cut: int) -> None:
    with pytest.raises(EOFError, match="stream ended"):
        Request.from_bytes(RFC_REQUEST[:cut])


def test_bytes_after_the_head_are_refused_by_from_bytes() -> None:
    with pytest.raises(InvalidRequest, match="3 bytes after"):
        Request.from_bytes(RFC_REQUEST + b"\x81\x80x")
    # ... but a StreamReader keeps them for whoever reads next
    reader = StreamReader()
    reader.feed_data(RFC_REQUEST + b"\x81\x80x")
    run_parser(Request.parse(reader.read_line))
    assert bytes(reader.buffer) == b"\x81\x80x"


def test_constructing_an_invalid_request_or_response_fails() -> None:
    with pytest.raises(ValueError):
        Request("/a b", Headers())
    with pytest.raises(ValueError):
        Request("/", Headers(), method="GE T")
    with pytest.raises(ValueError):
        Request("/", Headers(), version="HTTP/one")
    with pytest.raises(ValueError):
        Response(99, "x", Headers())
    with pytest.raises(ValueError):
        Response(200, "a\r\nb", Headers())


# --- limits ---------------------------------------------------------------------------------------


def test_limits_are_sensible() -> None:
    assert MAX_LINE_LENGTH == 8192 and MAX_HEADERS == 128 and MAX_HEAD_SIZE == 65536
    assert MAX_LINE_LENGTH * 8 == MAX_HEAD_SIZE  # eight maximal lines fill a head


def test_request_line_over_the_limit_fails_at_the_first_byte_too_many() -> None:
    data = b"GET /" + b"a" * (2 * MAX_LINE_LENGTH)
    count, error = bytes_fed_until_error(data)
    assert count == MAX_LINE_LENGTH + 1
    assert type(error) is HeadTooLarge
    assert str(error) == f"request line longer than {MAX_LINE_LENGTH} bytes"


def test_request_line_at_the_limit_is_fine() -> None:
    line = b"GET /" + b"a" * (MAX_LINE_LENGTH - len(b"GET / HTTP/1.1\r\n")) + b" HTTP/1.1\r\n"
    assert len(line) == MAX_LINE_LENGTH
    assert len(Request.from_bytes(line + b"\r\n").path) == MAX_LINE_LENGTH - 15


def test_header_line_over_the_limit_fails_at_the_first_byte_too_many() -> None:
    start = b"GET / HTTP/1.1\r\nHost: x\r\n"
    count, error = bytes_fed_until_error(start + b"X-Long: " + b"a" * (2 * MAX_LINE_LENGTH))
    assert count == len(start) + MAX_LINE_LENGTH + 1
    assert type(error) is HeadTooLarge
    assert str(error) == f"header line longer than {MAX_LINE_LENGTH} bytes"


def test_header_count_over_the_limit_fails_at_the_end_of_the_extra_line() -> None:
    start = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(MAX_HEADERS))
    extra = b"X-Extra: y\r\n"
    # exactly MAX_HEADERS is fine
    assert len(Request.from_bytes(start + b"\r\n").headers) == MAX_HEADERS
    count, error = bytes_fed_until_error(start + extra + b"X-More: y\r\n" * 100)
    assert count == len(start + extra)
    assert type(error) is HeadTooLarge
    assert str(error) == f"more than {MAX_HEADERS} header lines"


def _head_of(size: int) -> bytes:
    """A request head of exactly ``size`` bytes, with header lines as long as allowed."""
    head = b"GET / HTTP/1.1\r\n"
    i = 0
    while size - len(head) - 2 > 0:
        room = min(MAX_LINE_LENGTH, size - len(head) - 2)
        name = b"X-%d: " % i
        if room < len(name) + 3:  # too little left for a line: grow the previous one instead
            raise AssertionError("choose another size")
        head += name + b"a" * (room - len(name) - 2) + b"\r\n"
        i += 1
    return head + b"\r\n"


def test_head_at_the_limit_is_fine() -> None:
    head = _head_of(MAX_HEAD_SIZE)
    assert len(head) == MAX_HEAD_SIZE
    assert len(Request.from_bytes(head).headers) == 8


def test_head_over_the_limit_fails_at_the_first_byte_too_many() -> None:
    head = _head_of(MAX_HEAD_SIZE)
    data = head[:-2] + b"X-One-More: a\r\n\r\n"
    count, error = bytes_fed_until_error(data)
    assert count == MAX_HEAD_SIZE + 1
    assert type(error) is HeadTooLarge
    assert str(error) == f"head longer than {MAX_HEAD_SIZE} bytes (at the header line)"


def test_head_too_large_becomes_a_400() -> None:
    response = reject(HeadTooLarge("more than 128 header lines"))
    assert response.status == 400
    assert response.body == b"Failed to open a WebSocket connection: more than 128 header lines\n"


def test_response_limits_are_invalid_responses() -> None:
    with pytest.raises(InvalidResponse, match="status line longer"):
        Response.from_bytes(b"HTTP/1.1 200 " + b"a" * MAX_LINE_LENGTH + b"\r\n\r\n")
    with pytest.raises(InvalidResponse, match="over the limit"):
        Response.from_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_SIZE + 1))
    body = b"x" * MAX_BODY_SIZE
    data = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    assert Response.from_bytes(data).body == body


# --- the server refuses (RFC 6455 §4.2.1) ---------------------------------------------------------

KEY = "Sec-WebSocket-Key"

# (id, request bytes, accept() keyword arguments, exception class, status, extra headers, message)
REFUSALS: list[tuple[str, bytes, dict[str, Any], type[InvalidRequest], int, list[Any], str]] = [
    ("post", with_headers(request_line="POST /chat HTTP/1.1"), {},
     InvalidMethod, 405, [("Allow", "GET")], "MUST be a GET"),
    ("http-1.0", with_headers(request_line="GET /chat HTTP/1.0"), {},
     InvalidRequest, 400, [], "HTTP/1.1 or higher"),
    ("asterisk-target", with_headers(request_line="GET * HTTP/1.1"), {},
     InvalidRequest, 400, [], "request-target '*'"),
    ("no-host", with_headers(drop=("host",)), {},
     InvalidHeader, 400, [], "missing Host header"),
    ("two-hosts", with_headers("Host: evil.example"), {},
     InvalidHeader, 400, [], "Host appears 2 times"),
    ("empty-host", with_headers("Host:", drop=("host",)), {},
     InvalidHeader, 400, [], "Host header is empty"),
    ("no-upgrade", with_headers(drop=("upgrade",)), {},
     InvalidHeader, 400, [], "'Upgrade: websocket', but it is missing"),
    ("upgrade-h2c", with_headers("Upgrade: h2c", drop=("upgrade",)), {},
     InvalidHeader, 400, [], "but got 'h2c'"),
    ("upgrade-not-a-token", with_headers("Upgrade: web socket", drop=("upgrade",)), {},
     InvalidHeader, 400, [], "not a protocol name"),
    ("no-connection", with_headers(drop=("connection",)), {},
     InvalidHeader, 400, [], "token 'Upgrade' in the Connection header, but it is missing"),
    ("connection-keep-alive", with_headers("Connection: keep-alive", drop=("connection",)), {},
     InvalidHeader, 400, [], "but got 'keep-alive'"),
    ("connection-upgrades", with_headers("Connection: Upgrades", drop=("connection",)), {},
     InvalidHeader, 400, [], "but got 'Upgrades'"),
    ("no-key", with_headers(drop=("sec-websocket-key",)), {},
     InvalidHeader, 400, [], "missing Sec-WebSocket-Key"),
    ("two-keys", with_headers(f"{KEY}: AQIDBAUGBwgJCgsMDQ4PEA=="), {},
     InvalidHeader, 400, [], "Sec-WebSocket-Key appears 2 times"),
    ("key-not-base64", with_headers(f"{KEY}: not base64!", drop=(KEY.lower(),)), {},
     InvalidHeader, 400, [], "is not valid base64"),
    ("key-bad-padding", with_headers(f"{KEY}: dGhlIHNhbXBsZSBub25jZQ", drop=(KEY.lower(),)), {},
     InvalidHeader, 400, [], "is not valid base64"),
    ("key-15-bytes", with_headers(f"{KEY}: {base64.b64encode(b'x' * 15).decode()}",
                                  drop=(KEY.lower(),)), {},
     InvalidHeader, 400, [], "decodes to 15 bytes"),
    ("key-17-bytes", with_headers(f"{KEY}: {base64.b64encode(b'x' * 17).decode()}",
                                  drop=(KEY.lower(),)), {},
     InvalidHeader, 400, [], "decodes to 17 bytes"),
    ("no-version", with_headers(drop=("sec-websocket-version",)), {},
     InvalidVersion, 426, [("Sec-WebSocket-Version", "13")], "but it is missing"),
    ("version-8", with_headers("Sec-WebSocket-Version: 8", drop=("sec-websocket-version",)), {},
     InvalidVersion, 426, [("Sec-WebSocket-Version", "13")], "but got '8'"),
    ("version-list", with_headers("Sec-WebSocket-Version: 13, 8",
                                  drop=("sec-websocket-version",)), {},
     InvalidVersion, 426, [("Sec-WebSocket-Version", "13")], "but got '13, 8'"),
    ("version-twice", with_headers("Sec-WebSocket-Version: 13"), {},
     InvalidVersion, 426, [("Sec-WebSocket-Version", "13")], "but got '13, 13'"),
    ("origin-not-allowed", RFC_REQUEST, {"origins": ["https://example.org"]},
     InvalidOrigin, 403, [], "Origin 'http://example.com' is not allowed"),
    ("origin-missing", with_headers(drop=("origin",)), {"origins": ["http://example.com"]},
     InvalidOrigin, 403, [], "no Origin header is not allowed"),
    ("two-origins", with_headers("Origin: http://evil.example"), {"origins": [None]},
     InvalidHeader, 400, [], "Origin appears 2 times"),
    ("empty-subprotocol", with_headers("Sec-WebSocket-Protocol:",
                                       drop=("sec-websocket-protocol",)), {},
     InvalidHeader, 400, [], "Sec-WebSocket-Protocol is empty"),
    ("subprotocol-not-a-token", with_headers("Sec-WebSocket-Protocol: chat v2",
                                             drop=("sec-websocket-protocol",)), {},
     InvalidHeader, 400, [], "not a token"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "status", "extra", "message"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_refusals(
    data: bytes,
    kwargs: dict[str, Any],
    error: type[InvalidRequest],
    status: int,
    extra: list[tuple[str, str]],
    message: str,
) -> None:
    request = Request.from_bytes(data)
    with pytest.raises(InvalidRequest) as info:
        accept(request, **kwargs)
    exc = info.value
    assert type(exc) is error
    assert exc.status == status
    assert exc.headers == extra
    assert message in str(exc)
    if isinstance(exc, InvalidHeader):
        assert exc.name.lower() in str(exc).lower()  # the message names the header

    # The error response: well-formed HTTP, by our parser and by websockets' parser.
    raw = reject(exc).serialize()
    response = Response.from_bytes(raw)
    assert response.status == status
    assert response.headers.items()[: len(extra)] == extra
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Connection"] == "close"
    assert int(response.headers["Content-Length"]) == len(response.body)
    text = response.body.decode()
    assert text.endswith("\n") and text.count("\n") == 1 and message in text

    theirs = _websockets_parse_response(raw)
    assert theirs.status_code == status
    assert theirs.body == response.body


def recase(data: bytes, change: Callable[[str], str]) -> bytes:
    """Change the case of the header names and of the values, except the key's."""
    lines = data.decode().split("\r\n")
    for i, line in enumerate(lines[1:], 1):
        name, _, value = line.partition(": ")
        if name:
            lines[i] = f"{change(name)}: {value if name == KEY else change(value)}"
    return "\r\n".join(lines).encode()


def _websockets_parse_response(raw: bytes) -> websockets.http11.Response:
    reader = websockets.streams.StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    return run_parser(
        websockets.http11.Response.parse(reader.read_line, reader.read_exact, reader.read_to_eof)
    )


def test_refusals_compared_with_websockets() -> None:
    """Differential: what python-websockets' server answers to each refused request.

    Most statuses agree. Each difference is a policy choice of one side, listed here with why.
    """
    theirs: dict[str, int] = {}
    unparsed: set[str] = set()
    for case_id, data, kwargs, _error, _status, _extra, _message in REFUSALS:
        reader = websockets.streams.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        try:
            request = run_parser(websockets.http11.Request.parse(reader.read_line))
        except ValueError:
            # websockets before 17 refuses to parse a request that is not a GET or not HTTP/1.1,
            # and its server then closes the connection without any answer.
            unparsed.add(case_id)
            continue
        protocol = websockets.server.ServerProtocol(origins=kwargs.get("origins"))
        theirs[case_id] = protocol.accept(request).status_code
    assert unparsed <= {"post", "http-1.0"}
    ours = {case[0]: case[4] for case in REFUSALS if case[0] not in unparsed}
    differences = {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]}
    if "http-1.0" not in unparsed:
        # websockets answers an old HTTP version with 505 HTTP Version Not Supported.
        assert differences.pop("http-1.0") == (400, 505)
    assert differences == {
        # websockets leaves the target and Host to the application; RFC 9112 §3.2: "A server
        # MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request message
        # that lacks a Host header field [or] contains more than one Host header field line".
        "asterisk-target": (400, 101),
        "no-host": (400, 101),
        "two-hosts": (400, 101),
        "empty-host": (400, 101),
        # websockets answers a request that is not an upgrade with 426 Upgrade Required (a
        # browser that opened a WebSocket URL as a page); RFC 6455 §4.2.1 asks for 400.
        "no-upgrade": (400, 426),
        "upgrade-h2c": (400, 426),
        "no-connection": (400, 426),
        "connection-keep-alive": (400, 426),
        "connection-upgrades": (400, 426),
        # websockets answers a wrong version with 400 and no Sec-WebSocket-Version header;
        # RFC 6455 §4.2.2 asks for "426 Upgrade Required" and the version(s) spoken.
        "no-version": (426, 400),
        "version-8": (426, 400),
        "version-list": (426, 400),
        "version-twice": (426, 400),
    }


@pytest.mark.parametrize(
    "data",
    [
        FIREFOX_REQUEST,
        with_headers("Connection: keep-alive, Upgrade", drop=("connection",)),
        with_headers("Connection: keep-alive", "Connection: upgrade", drop=("connection",)),
        with_headers("Upgrade: WebSocket", drop=("upgrade",)),
        with_headers("Upgrade: h2c, websocket", drop=("upgrade",)),
        with_headers("Upgrade:   websocket  ", drop=("upgrade",)),
        recase(RFC_REQUEST, str.lower),
        recase(RFC_REQUEST, str.upper),
        with_headers(request_line="GET http://server.example.com/chat HTTP/1.1"),
        with_headers(request_line="GET /chat HTTP/2.0"),
        with_headers(drop=("origin", "sec-websocket-protocol")),
    ],
    ids=[
        "firefox",
        "keep-alive-upgrade",
        "two-connection-lines",
        "WebSocket",
        "upgrade-list",
        "whitespace",
        "lower-case",
        "upper-case",
        "absolute-uri",
        "http-2.0-line",
        "minimal",
    ],
)
def test_valid_variants_are_accepted(data: bytes) -> None:
    request = Request.from_bytes(data)
    response = accept(request)
    key = request.headers["sec-websocket-key"]
    assert response.status == 101
    assert response.headers["Sec-WebSocket-Accept"] == accept_key(key)
    assert check_response(response, key) is None


def test_origin_allow_list() -> None:
    request = Request.from_bytes(RFC_REQUEST)
    assert accept(request, origins=["http://example.com"]).status == 101
    assert accept(request, origins=["https://a.example", "http://example.com"]).status == 101
    no_origin = Request.from_bytes(with_headers(drop=("origin",)))
    assert accept(no_origin, origins=[None]).status == 101
    # Origins compare as scheme, host and port (RFC 6454 §5), not as strings: scheme and host
    # without case, the default port written or not. (websockets compares the strings.)
    assert accept(request, origins=["HTTP://EXAMPLE.COM"]).status == 101
    assert accept(request, origins=["http://example.com:80"]).status == 101
    assert accept(no_origin).status == 101  # origins=None: no check at all
    with pytest.raises(InvalidOrigin, match="allowed: none"):
        accept(request, origins=[])


@pytest.mark.parametrize(
    ("offered", "supported", "chosen"),
    [
        (["chat", "superchat"], ["chat"], "chat"),
        (["chat", "superchat"], ["superchat"], "superchat"),
        (["chat", "superchat"], ["superchat", "chat"], "chat"),  # the client's preference wins
        (["chat"], ["other"], None),
        (["chat"], [], None),
        ([], ["chat"], None),
    ],
)
def test_subprotocol_selection(
    offered: list[str], supported: list[str], chosen: str | None
) -> None:
    request = client_request("example.com", subprotocols=offered)
    response = accept(request, subprotocols=supported)
    assert response.headers.get_all("Sec-WebSocket-Protocol") == ([chosen] if chosen else [])
    key = request.headers["Sec-WebSocket-Key"]
    assert check_response(response, key, subprotocols=offered) == chosen


def test_subprotocol_offers_on_several_lines_combine() -> None:
    data = with_headers(
        "Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b", drop=("sec-websocket-protocol",)
    )
    response = accept(Request.from_bytes(data), subprotocols=["b"])
    assert response.headers["Sec-WebSocket-Protocol"] == "b"


@given(
    st.lists(st.sampled_from(["chat", "superchat", "mqtt", "v2.json", "x"]), unique=True),
    st.lists(st.sampled_from(["chat", "superchat", "mqtt", "v2.json", "x"]), unique=True),
)
def test_the_101_never_has_an_empty_or_unoffered_subprotocol(
    offered: list[str], supported: list[str]
) -> None:
    response = accept(client_request("h", subprotocols=offered), subprotocols=supported)
    values = response.headers.get_all("Sec-WebSocket-Protocol")
    common = [p for p in offered if p in supported]
    assert values == common[:1]
    assert all(values)


# --- the client side (RFC 6455 §4.1) --------------------------------------------------------------


def test_client_request_bytes() -> None:
    request = client_request("server.example.com", "/chat", key=RFC_KEY)
    assert request.serialize() == (
        b"GET /chat HTTP/1.1\r\n"
        b"Host: server.example.com\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"\r\n"
    )
    full = client_request(
        "127.0.0.1:8765", origin="http://127.0.0.1:8000", subprotocols=["chat", "superchat"]
    )
    assert full.path == "/"
    assert full.headers["Host"] == "127.0.0.1:8765"
    assert full.headers["Origin"] == "http://127.0.0.1:8000"
    assert full.headers["Sec-WebSocket-Protocol"] == "chat, superchat"
    assert len(base64.b64decode(full.headers["Sec-WebSocket-Key"])) == 16
    assert client_request("h").headers[KEY] != client_request("h").headers[KEY]  # fresh nonce
    assert accept(full, subprotocols=["superchat"]).status == 101


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("",), {}),
        (("a b",), {}),
        (("h\r\nX: y",), {}),
        (("h", "chat"), {}),
        (("h", "/a b"), {}),
        (("h",), {"subprotocols": ["chat v2"]}),
        (("h",), {"subprotocols": [""]}),
        (("h",), {"subprotocols": ["chat", "chat"]}),
        (("h",), {"origin": "http://x\r\nInjected: 1"}),
    ],
)
def test_client_request_refuses_bad_arguments(args: tuple[str, ...], kwargs: Any) -> None:
    with pytest.raises(ValueError):
        client_request(*args, **kwargs)


def _101(*lines: str) -> Response:
    data = "HTTP/1.1 101 Switching Protocols\r\n" + "".join(f"{ln}\r\n" for ln in lines) + "\r\n"
    return Response.from_bytes(data.encode())


GOOD = ("Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {RFC_ACCEPT}")


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (reject(InvalidVersion("we speak 13")), "got 426 Upgrade Required: 'Failed to open"),
        (Response(200, "OK", Headers()), "expected status 101 Switching Protocols, got 200 OK"),
        (_101(*GOOD[1:]), "'Upgrade: websocket' in the 101, got none"),
        (_101("Upgrade: h2c", *GOOD[1:]), "got 'h2c'"),
        (_101("Upgrade: websocket, h2c", *GOOD[1:]), "got 'websocket, h2c'"),
        (_101(GOOD[0], GOOD[2]), "'Upgrade' in Connection, got none"),
        (_101(GOOD[0], "Connection: close", GOOD[2]), "got 'close'"),
        (_101(*GOOD[:2]), "got none"),
        (_101(*GOOD[:2], f"Sec-WebSocket-Accept: {accept_key('x')}"), "did not understand"),
        (_101(*GOOD[:2], f"Sec-WebSocket-Accept: {RFC_ACCEPT.lower()}"), "did not understand"),
        (_101(*GOOD, GOOD[2]), "did not understand"),
        (_101(*GOOD, "Sec-WebSocket-Extensions: permessage-deflate"), "none was offered"),
        (_101(*GOOD, "Sec-WebSocket-Protocol: chat"), "'chat', which was not offered"),
        (_101(*GOOD, "Sec-WebSocket-Protocol:"), "which was not offered"),
        (_101(*GOOD, "Sec-WebSocket-Protocol: superchat"), "not offered (offered: 'chat')"),
        (_101(*GOOD, "Sec-WebSocket-Protocol: chat, chat"), "which was not offered"),
    ],
)
def test_check_response_failures(response: Response, message: str) -> None:
    offered = ["chat"] if "offered: 'chat'" in message else []
    with pytest.raises(InvalidResponse) as info:
        check_response(response, RFC_KEY, subprotocols=offered)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_check_response_accepts_variants() -> None:
    assert check_response(_101(*GOOD), RFC_KEY) is None
    assert check_response(_101("upgrade: WebSocket", "connection: keep-alive, upgrade",
                               f"sec-websocket-accept: {RFC_ACCEPT}"), RFC_KEY) is None  # fmt: skip
    assert check_response(_101(*GOOD, "Sec-WebSocket-Extensions:"), RFC_KEY) is None
    chosen = _101(*GOOD, "Sec-WebSocket-Protocol: superchat")
    assert check_response(chosen, RFC_KEY, subprotocols=["chat", "superchat"]) == "superchat"


# --- responses ------------------------------------------------------------------------------------


def test_response_parse_leaves_the_frames_after_a_101() -> None:
    frame = b"\x81\x05Hello"
    reader = StreamReader()
    reader.feed_data(accept(Request.from_bytes(RFC_REQUEST)).serialize() + frame)
    response = run_parser(Response.parse(reader.read_line, reader.read_exact))
    assert response.status == 101 and response.body == b""
    assert bytes(reader.buffer) == frame


@pytest.mark.parametrize(
    ("data", "body"),
    [
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", b""),
        (b"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 5\r\n\r\n", b""),
        (b"HTTP/1.0 403 Forbidden\r\n\r\n", b""),
        (b"HTTP/1.1 200 \r\n\r\n", b""),
        (b"HTTP/1.1 200\r\n\r\n", b""),
    ],
)
def test_response_bodies(data: bytes, body: bytes) -> None:
    assert Response.from_bytes(data).body == body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HTTP/1.1 101\tSwitching\r\n\r\n", "status line"),
        (b"HTTP/1.1 1010 Switching\r\n\r\n", "status line"),
        (b"HTTP/1.1 099 Low\r\n\r\n", "status line"),
        (b"HTTP/1.1 600 High\r\n\r\n", "status line"),
        (b"ICY 200 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", "2 times"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not a number"),
        (b"HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n", "control character"),
        (b"HTTP/1.1 101 OK\r\n folded\r\n\r\n", "obs-fold"),
        (b"HTTP/1.1 101 OK\r\n\r\nframes", "6 bytes after"),
    ],
)
def test_malformed_responses(data: bytes, message: str) -> None:
    with pytest.raises(InvalidResponse, match=message):
        Response.from_bytes(data)


def test_response_cut_short_is_an_eof_error() -> None:
    with pytest.raises(EOFError, match="response body"):
        Response.from_bytes(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nhel")
    with pytest.raises(EOFError, match="status line"):
        Response.from_bytes(b"HTTP/1.1 101 Swi")


# --- properties (hypothesis) ----------------------------------------------------------------------

TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
VCHAR = "".join(map(chr, range(0x21, 0x7F)))
tokens = st.text(TCHAR, min_size=1, max_size=12)
field_values = st.text(VCHAR + " \t", max_size=30).map(lambda v: v.strip(" \t"))
header_names = tokens.filter(lambda n: n.lower() not in ("content-length", "transfer-encoding"))
header_lists = st.lists(st.tuples(header_names, field_values), max_size=12).map(Headers)
versions = st.from_regex(r"HTTP/[0-9]\.[0-9]", fullmatch=True)
requests = st.builds(
    Request,
    path=st.text(VCHAR, max_size=30).map(lambda p: "/" + p),
    headers=header_lists,
    method=tokens,
    version=versions,
)


@st.composite
def responses(draw: st.DrawFn) -> Response:
    status = draw(st.integers(100, 599))
    headers = draw(header_lists)
    body = b""
    if not (status < 200 or status in (204, 304)):
        body = draw(st.binary(max_size=50))
        headers["Content-Length"] = str(len(body))
    reason = draw(st.text(VCHAR + " \t", max_size=20))
    return Response(status, reason, headers, body, draw(versions))


@given(requests)
def test_request_round_trip(request: Request) -> None:
    data = request.serialize()
    parsed = Request.from_bytes(data)
    assert parsed == request
    assert parsed.serialize() == data
    assert parsed.headers.items() == request.headers.items()


@given(responses())
def test_response_round_trip(response: Response) -> None:
    data = response.serialize()
    parsed = Response.from_bytes(data)
    assert parsed == response
    assert parsed.serialize() == data


@given(requests)
def test_our_requests_parse_the_same_in_websockets(request: Request) -> None:
    reader = websockets.streams.StreamReader()
    reader.feed_data(request.serialize())
    reader.feed_eof()
    try:
        theirs = run_parser(websockets.http11.Request.parse(reader.read_line))
    except ValueError as exc:
        # websockets 17 parses any method and HTTP/1.0 and HTTP/1.1 requests; before 17 (the
        # release Python 3.10 gets) it parses only GET and HTTP/1.1.
        accepted = ("HTTP/1.0", "HTTP/1.1")
        if int(websockets.__version__.split(".")[0]) < 17:
            if request.method != "GET":
                return
            accepted = ("HTTP/1.1",)
        assert request.version not in accepted, exc
        return
    assert (theirs.method, theirs.path, theirs.protocol) == (
        request.method,
        request.path,
        request.version,
    )
    assert list(theirs.headers.raw_items()) == request.headers.items()


@st.composite
def mangled(draw: st.DrawFn, heads: st.SearchStrategy[bytes]) -> bytes:
    """A valid head with a few bytes inserted, deleted or replaced."""
    data = bytearray(draw(heads))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data)))
        byte = draw(st.sampled_from([0, 9, 10, 13, 32, 44, 58, 0x7F, 0x80, 0xFF, 65]))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        if op == "insert":
            data.insert(i, byte)
        elif i < len(data):
            if op == "delete":
                del data[i]
            else:
                data[i] = byte
    return bytes(data)


chunkings = st.lists(st.integers(0, 40), max_size=20)
request_bytes = st.one_of(
    st.binary(max_size=300),
    mangled(requests.map(Request.serialize)),
    mangled(st.just(RFC_REQUEST)),
    st.just(RFC_REQUEST).map(lambda d: d[: len(d) // 2]),
)
response_bytes = st.one_of(
    st.binary(max_size=300),
    mangled(responses().map(Response.serialize)),
    mangled(st.just(_101(*GOOD).serialize())),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(request_bytes, chunkings)
def test_arbitrary_bytes_into_request_parse(data: bytes, chunks: list[int]) -> None:
    try:
        result = parse_chunks(data, chunks)
    except (InvalidRequest, EOFError):
        return
    assert isinstance(result, Request)
    try:
        accept(result)
    except InvalidRequest:
        pass


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(response_bytes, chunkings)
def test_arbitrary_bytes_into_response_parse(data: bytes, chunks: list[int]) -> None:
    try:
        result = parse_chunks(data, chunks, response=True)
    except (InvalidResponse, EOFError):
        return
    assert isinstance(result, Response)
    try:
        check_response(result, RFC_KEY)
    except InvalidResponse:
        pass


@given(st.one_of(st.just(RFC_REQUEST), st.just(FIREFOX_REQUEST), requests.map(Request.serialize)),
       st.lists(st.integers(0, 30), max_size=60))  # fmt: skip
def test_any_chunking_parses_the_same(data: bytes, chunks: list[int]) -> None:
    assert parse_chunks(data, chunks) == Request.from_bytes(data)


@given(responses(), st.lists(st.integers(0, 30), max_size=30))
def test_any_chunking_of_a_response_parses_the_same(response: Response, chunks: list[int]) -> None:
    assert parse_chunks(response.serialize(), chunks, response=True) == response


def test_wsproto_and_wslib_shake_hands_both_ways() -> None:
    """Differential with wsproto, sans-I/O: its client against our server and the reverse."""
    client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    data = client.send(wsproto.events.Request(host="example.com", target="/chat",
                                              subprotocols=["chat", "superchat"]))  # fmt: skip
    client.receive_data(accept(Request.from_bytes(data), subprotocols=["superchat"]).serialize())
    assert list(client.events()) == [wsproto.events.AcceptConnection(subprotocol="superchat")]

    client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    data = client.send(wsproto.events.Request(host="example.com", target="/chat"))
    with pytest.raises(wsproto.utilities.RemoteProtocolError, match="Bad accept token"):
        client.receive_data(wrong_accept(Request.from_bytes(data)).serialize())

    server = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
    request = client_request("example.com", "/chat", subprotocols=["chat", "superchat"])
    server.receive_data(request.serialize())
    (event,) = server.events()
    assert isinstance(event, wsproto.events.Request)
    assert (event.host, event.target, event.subprotocols) == ("example.com", "/chat",
                                                              ["chat", "superchat"])  # fmt: skip
    response = Response.from_bytes(server.send(wsproto.events.AcceptConnection(subprotocol="chat")))
    key = request.headers["Sec-WebSocket-Key"]
    assert check_response(response, key, subprotocols=["chat", "superchat"]) == "chat"


# --- interop with real peers on 127.0.0.1 ---------------------------------------------------------

TIMEOUT = 5.0


class OneShotServer:
    """Accept one connection, read the handshake with wslib, answer with ``respond(request)``.

    Records the exact bytes the client sent. After the 101, it waits for the client's close
    frame and answers with an empty close frame, so that both clients close cleanly.
    """

    def __init__(self, respond: Callable[[Request], Response]) -> None:
        self.respond = respond
        self.raw = b""
        self.request: Request | None = None
        self.error: BaseException | None = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, name="one-shot-server", daemon=True)

    def serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                reader = StreamReader()
                parser = Request.parse(reader.read_line)
                try:
                    next(parser)
                    while True:
                        data = conn.recv(4096)
                        self.raw += data
                        if not data:
                            reader.feed_eof()
                        else:
                            reader.feed_data(data)
                        next(parser)
                except StopIteration as done:
                    self.request = done.value
                assert self.request is not None
                assert not reader.buffer, "the client sent data before the 101"
                conn.sendall(self.respond(self.request).serialize())
                if conn.recv(4096):  # the client's close frame (or EOF if it gave up)
                    conn.sendall(b"\x88\x00")  # a close frame without a status code
        except BaseException as exc:
            self.error = exc
        finally:
            self.listener.close()

    def __enter__(self) -> OneShotServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.thread.join(2 * TIMEOUT)
        self.listener.close()
        assert not self.thread.is_alive(), "the server thread is still running"


def wrong_accept(request: Request) -> Response:
    response = accept(request)
    del response.headers["Sec-WebSocket-Accept"]
    response.headers["Sec-WebSocket-Accept"] = accept_key(generate_key())
    return response


def test_websocket_client_completes_our_handshake() -> None:
    with OneShotServer(lambda r: accept(r, subprotocols=["superchat"])) as server:
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/chat?room=1",
            timeout=TIMEOUT,
            subprotocols=["chat", "superchat"],
        )
        try:
            assert ws.getstatus() == 101
            assert ws.getsubprotocol() == "superchat"
        finally:
            ws.close(timeout=TIMEOUT)
    assert server.error is None
    assert server.request is not None
    assert server.request.path == "/chat?room=1"
    assert server.request.headers["Host"] == f"127.0.0.1:{server.port}"
    # the exact bytes it sent are accepted on their own too
    assert accept(Request.from_bytes(server.raw)).status == 101


def test_websockets_client_completes_our_handshake() -> None:
    with OneShotServer(lambda r: accept(r, subprotocols=["superchat"])) as server:
        with websockets.sync.client.connect(
            f"ws://127.0.0.1:{server.port}/chat",
            subprotocols=["chat", "superchat"],  # type: ignore[list-item]
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
            proxy=None,
        ) as ws:
            assert ws.response is not None and ws.response.status_code == 101
            assert ws.subprotocol == "superchat"
    assert server.error is None
    assert server.request is not None and server.request.path == "/chat"
    assert accept(Request.from_bytes(server.raw)).status == 101


def test_websocket_client_refuses_a_wrong_accept_value() -> None:
    with OneShotServer(wrong_accept) as server:
        with pytest.raises(websocket.WebSocketException, match="Invalid WebSocket Header"):
            websocket.create_connection(f"ws://127.0.0.1:{server.port}/", timeout=TIMEOUT)
    assert server.error is None


def test_websockets_client_refuses_a_wrong_accept_value() -> None:
    with OneShotServer(wrong_accept) as server:
        with pytest.raises(websockets.exceptions.InvalidHandshake, match="Sec-WebSocket-Accept"):
            websockets.sync.client.connect(
                f"ws://127.0.0.1:{server.port}/", open_timeout=TIMEOUT, proxy=None
            )
    assert server.error is None


def test_websocket_client_sees_our_refusal() -> None:
    def refuse(request: Request) -> Response:
        try:
            return accept(request, origins=["https://allowed.example"])
        except InvalidRequest as exc:
            return reject(exc)

    with OneShotServer(refuse) as server:
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            websocket.create_connection(f"ws://127.0.0.1:{server.port}/", timeout=TIMEOUT)
    assert info.value.status_code == 403
    assert info.value.resp_body is not None and b"is not allowed" in info.value.resp_body
    assert server.error is None


@contextmanager
def websockets_server(**kwargs: Any) -> Iterator[int]:
    """A real python-websockets echo server on 127.0.0.1; yields its port."""

    def echo(ws: websockets.sync.server.ServerConnection) -> None:
        try:
            for message in ws:
                ws.send(message)
        except websockets.exceptions.ConnectionClosed:
            pass  # our raw-socket client leaves without a close frame

    server = websockets.sync.server.serve(echo, "127.0.0.1", 0, **kwargs)
    thread = threading.Thread(target=server.serve_forever, name="websockets-server", daemon=True)
    thread.start()
    try:
        yield server.socket.getsockname()[1]
    finally:
        server.shutdown()
        thread.join(TIMEOUT)
        assert not thread.is_alive()


def handshake_with(port: int, request: Request) -> Response:
    """Send our request to a real server over TCP and parse its answer with wslib."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request.serialize())
        reader = StreamReader()
        parser = Response.parse(reader.read_line, reader.read_exact)
        try:
            next(parser)
            while True:
                data = sock.recv(4096)
                if data:
                    reader.feed_data(data)
                else:
                    reader.feed_eof()
                next(parser)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def test_our_client_handshake_against_a_websockets_server() -> None:
    with websockets_server(subprotocols=["superchat", "chat"]) as port:
        request = client_request(f"127.0.0.1:{port}", "/chat", subprotocols=["chat", "superchat"])
        response = handshake_with(port, request)
        key = request.headers["Sec-WebSocket-Key"]
        # websockets picks by the server's preference: "superchat"
        assert check_response(response, key, subprotocols=["chat", "superchat"]) == "superchat"
        with pytest.raises(InvalidResponse, match="not offered"):
            check_response(response, key, subprotocols=["chat"])

        bad = client_request(f"127.0.0.1:{port}")
        del bad.headers["Sec-WebSocket-Version"]
        bad.headers["Sec-WebSocket-Version"] = "8"
        refused = handshake_with(port, bad)
        with pytest.raises(InvalidResponse, match="got 400 Bad Request: 'Failed to open"):
            check_response(refused, bad.headers["Sec-WebSocket-Key"])
