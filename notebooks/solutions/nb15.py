"""Reference solutions to notebook 15's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

from typing import Any

DEFAULT = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# --- 15.same-origin -------------------------------------------------------------------------------
# Parse scheme, host and port (the default one when absent), lowercase, and compare the triples.


def _parts(origin: str) -> tuple[str, str, int]:
    scheme, rest = origin.split("://", 1)
    scheme = scheme.lower()
    host, _, port = rest.partition(":")
    return scheme, host.lower(), int(port) if port else DEFAULT[scheme]


def same_origin(a: str, b: str) -> bool:
    if a == "null" or b == "null":
        return False
    return _parts(a) == _parts(b)


def same_string(a: str, b: str) -> bool:
    """The strings, as they are: misses the default port and case."""
    return a == b


def same_prefix(a: str, b: str) -> bool:
    """One starts with the other: the classic allow-list bug."""
    return a.lower().startswith(b.lower()) or b.lower().startswith(a.lower())


def same_host(a: str, b: str) -> bool:
    """Scheme and host, forgetting the port."""
    if a == "null" or b == "null":
        return False
    return _parts(a)[:2] == _parts(b)[:2]


def null_is_null(a: str, b: str) -> bool:
    """Right, except that null equals null."""
    if a == "null" or b == "null":
        return a == b
    return _parts(a) == _parts(b)


# --- 15.cookie-sent -------------------------------------------------------------------------------
# Same site: scheme (ws as http, wss as https) and registrable domain; ports do not count.


def _site(url: str) -> tuple[str, str]:
    scheme, rest = url.split("://", 1)
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    host = rest.split("/", 1)[0].split(":", 1)[0].lower()
    if not host.replace(".", "").isdigit():
        host = ".".join(host.split(".")[-2:])
    return scheme, host


def cookie_sent(page: str, target: str) -> bool:
    return _site(page) == _site(target)


def cookie_same_origin(page: str, target: str) -> bool:
    """Same origin instead of same site: ports and subdomains wrongly stop the cookie."""
    scheme = {"ws": "http", "wss": "https"}
    t_scheme, rest = target.split("://", 1)
    return page.lower() == f"{scheme.get(t_scheme, t_scheme)}://{rest.split('/', 1)[0]}".lower()


def cookie_same_host(page: str, target: str) -> bool:
    """Same host, ports ignored: subdomains wrongly stop the cookie."""

    def host(url: str) -> str:
        return url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()

    return host(page) == host(target)


def cookie_without_scheme(page: str, target: str) -> bool:
    """Registrable domain only: an http page wrongly sends to a wss target."""
    return _site(page)[1] == _site(target)[1]


SOLUTIONS: dict[str, Any] = {
    "15.same-origin": same_origin,
    "15.cookie-sent": cookie_sent,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "15.same-origin": [same_string, same_prefix, same_host, null_is_null],
    "15.cookie-sent": [cookie_same_origin, cookie_same_host, cookie_without_scheme],
}
