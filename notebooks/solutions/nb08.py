"""Reference solutions to notebook 08's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

from typing import Any

# --- 08.which-header ------------------------------------------------------------------------------
# Measured in section 6 (and by tests/test_proxy.py): nginx reaches the server each time and
# relays the server's own answer. Without proxy_http_version 1.1 the request is HTTP/1.0 (400);
# without Upgrade it still carries Sec-WebSocket-Key: a failed handshake, not a page visit (400);
# without Connection, nginx sends "Connection: close", and "keep-alive" is no better: no
# "Upgrade" token (400). The status is the same; the body says which rule was broken.

WHICH_HEADER = {
    "no-http-1.1": 400,
    "no-upgrade": 400,
    "no-connection": 400,
    "connection-keep-alive": 400,
}

# The 426 guess: "Upgrade Required" sounds right for a missing Upgrade header.
WHICH_HEADER_426 = {**WHICH_HEADER, "no-upgrade": 426}
# The page guess: without Upgrade, a plain GET gets the HTML page.
WHICH_HEADER_PAGE = {**WHICH_HEADER, "no-upgrade": 200}
# The 502 guess: "the proxy is broken, so Bad Gateway".
WHICH_HEADER_502 = dict.fromkeys(WHICH_HEADER, 502)
# Only three answers, as strings.
WHICH_HEADER_STRINGS = {"no-http-1.1": "400", "no-upgrade": "400", "no-connection": "400"}


# --- 08.real-client -------------------------------------------------------------------------------
# Read the chain (X-Forwarded-For, then the address that connected to us) from the right; the first
# address that is not one of our proxies is the client. Anything further left may be forged.


def real_client(x_forwarded_for: str, remote_addr: str, trusted: set[str]) -> str:
    chain = [part.strip() for part in x_forwarded_for.split(",") if part.strip()]
    chain.append(remote_addr)
    for address in reversed(chain):
        if address not in trusted:
            return address
    return chain[0]


def leftmost(x_forwarded_for: str, remote_addr: str, trusted: set[str]) -> str:
    """The first address in the header: the one a client can write itself."""
    return x_forwarded_for.split(",")[0].strip()


def rightmost_of_header(x_forwarded_for: str, remote_addr: str, trusted: set[str]) -> str:
    """The last address in the header, whoever connected: wrong with two proxies or none."""
    return x_forwarded_for.split(",")[-1].strip()


def unstripped(x_forwarded_for: str, remote_addr: str, trusted: set[str]) -> str:
    """The right idea, but the addresses keep the spaces after the commas."""
    chain = [*x_forwarded_for.split(","), remote_addr]
    for address in reversed(chain):
        if address.strip() not in trusted:
            return address
    return chain[0]


SOLUTIONS: dict[str, Any] = {
    "08.which-header": WHICH_HEADER,
    "08.real-client": real_client,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "08.which-header": [
        WHICH_HEADER_426,
        WHICH_HEADER_PAGE,
        WHICH_HEADER_502,
        WHICH_HEADER_STRINGS,
    ],
    "08.real-client": [leftmost, rightmost_of_header, unstripped],
}
