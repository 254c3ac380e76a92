"""Origin checks (RFC 6454, RFC 6455 §10.2): origins compare as scheme, host and port."""

from __future__ import annotations

import pytest
import websocket  # websocket-client: it sends any Origin we ask for
from hypothesis import given
from hypothesis import strategies as st

import wslib
from wslib.exceptions import InvalidOrigin
from wslib.origins import NULL, Origin, OriginPolicy, parse_origin

from .test_server import echo, no_thread_left, url  # noqa: F401

ALLOWED = ["https://example.com", "http://127.0.0.1:8080", None]

#: (Origin header or None, allowed by ALLOWED?, why)
CASES = [
    ("https://example.com", True, "the same origin"),
    ("https://example.com:443", True, "443 is https's default port"),
    ("HTTPS://EXAMPLE.COM", True, "scheme and host are case-insensitive"),
    ("  https://example.com\t", True, "the header's optional whitespace"),
    ("http://example.com", False, "another scheme"),
    ("https://example.com:8443", False, "another port"),
    ("https://example.com.evil.net", False, "a prefix match would allow it"),
    ("https://evil-example.com", False, "a suffix match would allow it"),
    ("https://sub.example.com", False, "a subdomain is another origin"),
    ("https://example.com/", False, "a path: not an origin (browsers never send it)"),
    ("https://example.com/chat", False, "a path"),
    ("https://user@example.com", False, "user info"),
    ("https://example.com:99999", False, "port out of range"),
    ("https://example.com:", False, "an empty port"),
    ("null", False, "an opaque origin (sandboxed iframe, file:)"),
    ("", False, "empty"),
    ("example.com", False, "no scheme"),
    ("https://exämple.com", False, "not ASCII: browsers send punycode"),
    ("http://127.0.0.1:8080", True, "an IP address and a port"),
    ("http://127.0.0.1", False, "the same address on port 80"),
    ("http://127.0.0.1:08080", True, "a leading zero is the same port"),
    (None, True, "no Origin: allowed because None is in the list"),
]


@pytest.mark.parametrize(("header", "allowed", "why"), CASES)
def test_every_tricky_value(header: str | None, allowed: bool, why: str) -> None:
    assert OriginPolicy(ALLOWED).allows(header) is allowed, why


def test_without_none_in_the_list_a_missing_origin_is_refused() -> None:
    policy = OriginPolicy(["https://example.com"])
    with pytest.raises(InvalidOrigin, match="no Origin header"):
        policy.check(None)


def test_origins_parse_to_scheme_host_port() -> None:
    assert parse_origin("https://Example.COM") == Origin("https", "example.com", 443)
    assert parse_origin("http://[::1]:8000") == Origin("http", "[::1]", 8000)
    assert parse_origin("null") is NULL and NULL.opaque
    assert str(parse_origin("https://example.com:443")) == "https://example.com"
    assert str(parse_origin("http://example.com:8080")) == "http://example.com:8080"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://example.com/chat", "has a path"),
        ("https://u:p@example.com", "user info"),
        ("https://example.com:0", "out of range"),
        ("foo://example.com", "no default port"),
        ("http://[1::2::3]", "not an IPv6 address"),
        ("https://bücher.example", "punycode"),
    ],
)
def test_what_is_not_an_origin_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_origin(text)


def test_the_allowed_list_forgives_a_trailing_slash_and_refuses_typos() -> None:
    assert OriginPolicy(["https://example.com/"]).allows("https://example.com")
    with pytest.raises(ValueError, match="has a path"):
        OriginPolicy(["https://example.com/app"])
    with pytest.raises(ValueError):
        OriginPolicy(["example.com"])


def test_null_is_refused_in_the_list_unless_asked_for() -> None:
    with pytest.raises(ValueError, match="sandboxed iframe"):
        OriginPolicy(["null"])
    assert OriginPolicy(["null"], allow_null=True).allows("null")


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True),
    port=st.integers(1, 65535),
    upper=st.booleans(),
)
def test_a_serialized_origin_reads_back_as_itself(
    scheme: str, host: str, port: int, upper: bool
) -> None:
    origin = Origin(scheme, host, port)
    text = str(origin).upper() if upper else str(origin)
    assert parse_origin(text) == origin
    assert OriginPolicy([str(origin)]).allows(text)
    # one more character on the host is never the same origin (no prefix matching)
    assert not OriginPolicy([str(origin)]).allows(f"{scheme}://{host}x:{port}")


# --- the same checks through a real server and a real client ----------------------------------


@pytest.mark.parametrize(("header", "allowed", "why"), [c for c in CASES if c[0] != ""])
def test_wslib_serve_answers_403_or_101(header: str | None, allowed: bool, why: str) -> None:
    with wslib.serve(echo, origins=ALLOWED) as server:
        options = {"suppress_origin": True} if header is None else {"origin": header}
        if allowed:
            ws = websocket.create_connection(url(server), timeout=5, **options)
            ws.send("hi")
            assert ws.recv() == "hi"
            ws.close()
        else:
            with pytest.raises(websocket.WebSocketBadStatusException) as caught:
                websocket.create_connection(url(server), timeout=5, **options)
            # A non-ASCII byte is refused by the header parser before any origin check.
            expected = 403 if header is None or header.isascii() else 400
            assert caught.value.status_code == expected, why


def test_a_typo_in_origins_fails_when_the_server_starts() -> None:
    with pytest.raises(ValueError, match="has a path"):
        wslib.serve(echo, origins=["https://example.com/app"])
