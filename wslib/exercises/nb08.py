"""Checks for the exercises of notebook 08 (a WebSocket behind a reverse proxy).

- ``08.which-header``: for each way of breaking nginx's WebSocket recipe
  (:data:`wslib.lab.proxy.BROKEN`), the HTTP status the client receives instead of
  ``101 Switching Protocols``. The expected statuses are those measured by
  ``tests/test_proxy.py`` against a real nginx and a ``wslib.serve`` server
  (:data:`MEASURED_STATUS`), so the check cannot drift from the truth.
- ``08.real-client``: the client's address from ``X-Forwarded-For`` (a de facto header; RFC 7239
  standardises the same idea as ``Forwarded``): read the chain from the right, skipping the
  proxies you trust, since anything to their left may be written by the client itself.
"""

from __future__ import annotations

from typing import Any

from ..lab.proxy import BROKEN
from . import Wrong, exercise

__all__ = ["MEASURED_STATUS", "REAL_CLIENT_CASES"]

#: What websocket-client gets through each broken nginx (``tests/test_proxy.py`` measures it).
MEASURED_STATUS: dict[str, int] = {
    "no-http-1.1": 400,  # the server refuses an HTTP/1.0 handshake (RFC 6455 §4.2.1 item 1)
    # no Upgrade, but Sec-WebSocket-Key and -Version: an attempted handshake, refused (not the
    # HTML page a plain GET gets)
    "no-upgrade": 400,
    "no-connection": 400,  # nginx's default "Connection: close" (RFC 6455 §4.2.1 item 4)
    "connection-keep-alive": 400,  # "Connection: keep-alive" has no "Upgrade" token either
}


@exercise(
    "08.which-header",
    "Write statuses() returning a dict that maps each broken variant in wslib.lab.proxy.BROKEN "
    "('no-http-1.1', 'no-upgrade', 'no-connection', 'connection-keep-alive') to the HTTP "
    "status code (an int) the client receives through that nginx instead of 101.",
)
def check_which_header(answer: Any) -> None:
    if callable(answer):  # a function that returns the dict
        answer = answer()
    if not isinstance(answer, dict):
        raise Wrong("the answer should be a dict: {variant name: status code}.")
    missing = [name for name in BROKEN if name not in answer]
    if missing:
        raise Wrong(f"the dict has no entry for {', '.join(missing)}.")
    for name, expected in MEASURED_STATUS.items():
        got = answer[name]
        if not isinstance(got, int) or isinstance(got, bool):
            raise Wrong(f"{name}: give the status code as an int, such as 404.")
        if got == expected:
            continue
        if name == "no-upgrade" and got == 200:
            raise Wrong(
                "no-upgrade: without Upgrade the request looks like a plain GET, but nginx still "
                "passes Sec-WebSocket-Key and Sec-WebSocket-Version. Does the server treat it as "
                "a page visit or as a handshake attempt? (Section 6 printed its answer.)"
            )
        if got == 426:
            raise Wrong(
                f"{name}: 426 Upgrade Required is what a server sends when the client does not "
                "ask to upgrade; here the server receives a request it cannot accept as a "
                "handshake. Look at the status line section 6 measured."
            )
        if got in (502, 504):
            raise Wrong(
                f"{name}: nginx reached the server fine and relays the server's own answer; "
                f"{got} would mean nginx could not talk to the server at all."
            )
        raise Wrong(f"{name}: {got} is not what the client received.")


# --- 08.real-client -------------------------------------------------------------------------------

#: (X-Forwarded-For, the address of the peer that connected to us, trusted proxies) -> client.
REAL_CLIENT_CASES: list[tuple[tuple[str, str, frozenset[str]], str]] = [
    (("203.0.113.7", "127.0.0.1", frozenset({"127.0.0.1"})), "203.0.113.7"),
    # The client wrote its own X-Forwarded-For: nginx appended the address it saw.
    (("10.9.9.9, 198.51.100.4", "127.0.0.1", frozenset({"127.0.0.1"})), "198.51.100.4"),
    # Two proxies we run (a CDN edge 192.0.2.10, then nginx), then the real client.
    (
        ("1.1.1.1, 198.51.100.4, 192.0.2.10", "127.0.0.1", frozenset({"127.0.0.1", "192.0.2.10"})),
        "198.51.100.4",
    ),
    # No proxy in front of us: the header is whatever the client says; ignore it.
    (("203.0.113.99", "198.51.100.4", frozenset({"127.0.0.1"})), "198.51.100.4"),
    # Spaces are optional around the commas.
    (
        ("198.51.100.4 ,192.0.2.10", "127.0.0.1", frozenset({"127.0.0.1", "192.0.2.10"})),
        "198.51.100.4",
    ),
    # Only trusted proxies in the chain: the leftmost one is all we know.
    (("192.0.2.10", "127.0.0.1", frozenset({"127.0.0.1", "192.0.2.10"})), "192.0.2.10"),
]


@exercise(
    "08.real-client",
    "Write real_client(x_forwarded_for, remote_addr, trusted) -> str: the client's address, "
    "read from the right of the chain X-Forwarded-For + [remote_addr], skipping the addresses "
    "in the set trusted (your own proxies); if every address is trusted, the leftmost one.",
)
def check_real_client(answer: Any) -> None:
    if not callable(answer):
        raise Wrong(
            "the answer should be a function real_client(x_forwarded_for, remote_addr, trusted)."
        )
    for (xff, remote, trusted), expected in REAL_CLIENT_CASES:
        got = answer(xff, remote, set(trusted))
        if got == expected:
            continue
        chain = ", ".join([xff, remote])
        if isinstance(got, str) and got.strip() != got:
            raise Wrong(f"{got!r} has spaces around it: strip each address.")
        if got == xff.split(",")[0].strip() and got != expected:
            raise Wrong(
                f"for the chain {chain!r} (trusted: {sorted(trusted)}) you returned the leftmost "
                "address, which the client can write itself. Read from the right instead."
            )
        if got in trusted:
            raise Wrong(
                f"for the chain {chain!r} (trusted: {sorted(trusted)}) you returned {got!r}, one "
                "of your own proxies: skip every trusted address as you walk from the right."
            )
        if got == xff.split(",")[-1].strip() and remote not in trusted:
            raise Wrong(
                f"for the chain {chain!r} (trusted: {sorted(trusted)}) you started from the end "
                "of the header, but remote_addr, the peer that connected to you, is the last "
                "link of the chain: is it one of your proxies?"
            )
        raise Wrong(
            f"for the chain {chain!r} (trusted: {sorted(trusted)}) you returned {got!r}: walk "
            "X-Forwarded-For + [remote_addr] from the right and stop at the first address that "
            "is not trusted."
        )
