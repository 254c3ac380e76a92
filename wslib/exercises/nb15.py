"""Checks for the exercises of notebook 15 (security).

- ``15.same-origin``: two serialized origins, same origin or not (RFC 6454 §5): scheme, host
  and port, with case and default ports, and ``null`` never the same as anything.
- ``15.cookie-sent``: would a ``SameSite=Lax`` cookie go with a WebSocket handshake from a page
  to a URL? Same *site* (scheme, and the simplified registrable domain of notebook 15), ports
  ignored.
"""

from __future__ import annotations

from typing import Any

from ..origins import parse_origin
from . import Wrong, exercise

__all__ = ["COOKIE_CASES", "ORIGIN_PAIRS", "simplified_site"]

#: (a, b, same origin?, the trap)
ORIGIN_PAIRS: list[tuple[str, str, bool, str]] = [
    ("https://example.com", "https://example.com", True, "equal"),
    ("https://example.com", "https://example.com:443", True, "default port"),
    ("https://EXAMPLE.com", "https://example.com", True, "case"),
    ("https://example.com", "http://example.com", False, "scheme"),
    ("https://example.com", "https://example.com.evil.net", False, "prefix"),
    ("https://example.com", "https://example.com:8443", False, "port"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:9000", False, "port"),
    ("http://example.com:80", "http://example.com", True, "default port"),
    ("null", "null", False, "null"),
]

_HINTS = {
    "default port": "a URL without a port uses its scheme's default one (443 for https, 80 for "
    "http): writing it or not changes nothing.",
    "case": "scheme and host names are case-insensitive.",
    "scheme": "http and https are two origins: the scheme is part of it.",
    "port": "the port is part of the origin: another port is another origin.",
    "prefix": "one origin starting with another is not the same origin: compare the hosts "
    "whole, not the beginnings of strings.",
    "null": "'null' is an opaque origin (a sandboxed iframe, a file: page): RFC 6454 makes it "
    "different from every origin, itself included, because 'null' cannot say which one it is.",
    "equal": "two identical origins are the same origin.",
}


@exercise(
    "15.same-origin",
    "Write same_origin(a, b) -> bool: True when the serialized origins a and b (such as "
    "'https://example.com:443') are the same origin: same scheme, host and port. 'null' is never "
    "the same origin as anything.",
)
def check_same_origin(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function same_origin(a, b).")
    for a, b, same, trap in ORIGIN_PAIRS:
        got = answer(a, b)
        if not isinstance(got, bool):
            raise Wrong(f"same_origin({a!r}, {b!r}) gave {got!r}: give True or False.")
        if got is not same:
            raise Wrong(f"same_origin({a!r}, {b!r}) is wrong: {_HINTS[trap]}")


def simplified_site(url: str) -> str:
    """Scheme (ws -> http, wss -> https) and the last two labels of the host (the host itself
    for an IP address): notebook 15's simplified site."""
    scheme, rest = url.split("://", 1)
    scheme = {"ws": "http", "wss": "https"}.get(scheme.lower(), scheme.lower())
    origin = parse_origin(f"{scheme}://{rest.split('/', 1)[0]}")
    host = origin.host
    if not host.replace(".", "").isdigit():
        host = ".".join(host.split(".")[-2:])
    return f"{scheme}://{host}"


#: (page origin, WebSocket URL, cookie sent?, the trap)
COOKIE_CASES: list[tuple[str, str, bool, str]] = [
    ("http://127.0.0.1:9000", "ws://127.0.0.1:8000/inbox", True, "ports"),
    ("https://evil.example.com", "wss://app.example.com/ws", True, "subdomain"),
    ("https://example.com", "wss://example.com/ws", True, "ws scheme"),
    ("https://example.org", "wss://example.com/ws", False, "other site"),
    ("http://example.com", "wss://example.com/ws", False, "schemeful"),
    ("http://127.0.0.1:9000", "ws://127.0.0.2:8000/", False, "other address"),
]

_COOKIE_HINTS = {
    "ports": "cookies belong to a host, not to a port, and SameSite compares sites, which have "
    "no port: another port of the same host is the same site.",
    "subdomain": "two subdomains of one registrable domain are one site: SameSite=Lax does not "
    "stop it (only the origin, which includes the whole host, differs).",
    "ws scheme": "ws:// and wss:// count as http:// and https:// for the site: a wss:// target "
    "from an https:// page is the same site.",
    "other site": "example.org and example.com are two sites: a SameSite=Lax cookie stays home.",
    "schemeful": "browsers compare sites with their scheme: an http:// page and a wss:// target "
    "are two sites.",
    "other address": "two IP addresses are two hosts, so two sites.",
}


@exercise(
    "15.cookie-sent",
    "Write cookie_sent(page, target) -> bool: would a browser send a SameSite=Lax cookie of "
    "the target's host with a WebSocket handshake that a page of origin `page` opens to the URL "
    "`target` (ws:// or wss://)? Use notebook 15's simplified site.",
)
def check_cookie_sent(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function cookie_sent(page, target).")
    for page, target, sent, trap in COOKIE_CASES:
        got = answer(page, target)
        if not isinstance(got, bool):
            raise Wrong(f"cookie_sent({page!r}, {target!r}) gave {got!r}: give True or False.")
        if got is not sent:
            raise Wrong(f"cookie_sent({page!r}, {target!r}) is wrong: {_COOKIE_HINTS[trap]}")
