"""Checks for the exercises of notebook 09 (idle timeouts and heartbeats).

- ``09.ping-interval``: choose a heartbeat interval for a path of proxies and load balancers,
  given each one's idle timeout: well under the smallest (the rule: about half of it or less, so
  that one late or lost ping does not let the connection go quiet past the timeout), and not so
  small that the pings become traffic of their own (at least a tenth of the smallest timeout).
- ``09.who-closed``: in a dissected conversation, which side ended TCP first (the first FIN or
  RST, RFC 9293 §3.6). Checked on the shipped captures, both legs of ``idle-timeout-kill.pcap``
  among them, where nginx is the server on one leg and the client on the other.
"""

from __future__ import annotations

from typing import Any

from ..lab.tools import PCAP_DIR
from . import Wrong, exercise

__all__ = ["PATHS", "WHO_CLOSED_FILES", "expected_closer"]

#: Paths to check 09.ping-interval on: the idle timeouts (seconds) of each hop, in any order.
PATHS: list[list[float]] = [
    [10.0],  # the article's CDN
    [60.0, 10.0],  # nginx (default) behind the article's CDN
    [100.0, 60.0, 60.0],  # Cloudflare, an AWS ALB, nginx
    [60.0, 350.0],  # nginx, an AWS Network Load Balancer
    [240.0, 30.0, 55.0],  # various: the smallest is in the middle
    [3.0],
]

#: The captures 09.who-closed is checked on (every TCP connection in each).
WHO_CLOSED_FILES = ("idle-timeout-kill.pcap", "close-clean.pcap", "close-abnormal.pcap")


@exercise(
    "09.ping-interval",
    "Write ping_interval(timeouts) -> float: given the idle timeouts in seconds of every proxy "
    "and load balancer on a path (a list, in any order), a heartbeat interval that keeps the "
    "connection alive with room to spare: at most half the smallest timeout, and at least a "
    "tenth of it.",
)
def check_ping_interval(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function ping_interval(timeouts).")
    for path in PATHS:
        got = answer(list(path))
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise Wrong(f"for {path}, give a number of seconds, not {got!r}.")
        smallest = min(path)
        if got >= smallest:
            raise Wrong(
                f"for {path}, a ping every {got:g} s comes too late: the hop with a "
                f"{smallest:g} s timeout cuts the connection first. Every hop must see traffic "
                "within its own timeout, so the smallest one decides."
            )
        if got > smallest / 2:
            raise Wrong(
                f"for {path}, {got:g} s is under the smallest timeout ({smallest:g} s) but "
                "with little room: one ping delayed or lost and the connection is quiet for "
                "too long. Stay at half the smallest timeout or less."
            )
        if got < smallest / 10:
            raise Wrong(
                f"for {path}, a ping every {got:g} s is more often than needed: with "
                f"{smallest:g} s to spare, pings this frequent are traffic (and battery, on a "
                "phone) for nothing. Stay above a tenth of the smallest timeout."
            )


# --- 09.who-closed --------------------------------------------------------------------------------


def expected_closer(conversation: Any) -> str | None:
    """The side that sent the first FIN or RST: "client", "server", or None if neither did."""
    for event in conversation.tcp_events:
        if event.kind in ("FIN", "RST"):
            return "client" if event.direction == "c2s" else "server"
    return None


def _conversations() -> list[tuple[str, Any]]:
    from ..lab.dissect import conversations

    found = []
    for name in WHO_CLOSED_FILES:
        for conv in conversations(PCAP_DIR / name):
            found.append((f"{name} ({conv.client} -> {conv.server})", conv))
    return found


@exercise(
    "09.who-closed",
    "Write who_closed(conversation) -> 'client', 'server' or None: which side of one TCP "
    "connection sent the first FIN or RST (look at conversation.tcp_events: each has a kind and "
    "a direction, 'c2s' or 's2c'). The check runs it on every connection of "
    "idle-timeout-kill.pcap, close-clean.pcap and close-abnormal.pcap.",
)
def check_who_closed(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function who_closed(conversation).")
    cases = [(label, conv, expected_closer(conv), answer(conv)) for label, conv in _conversations()]
    answers = {got for *_, got in cases}
    if len(answers) == 1 and len({expected for _, _, expected, _ in cases}) > 1:
        raise Wrong(
            f"you answered {next(iter(answers))!r} for every connection. On the nginx capture "
            "the same machine, nginx, is the server of one leg and the client of the other: "
            "look at the direction of the first FIN or RST on each."
        )
    for label, conv, expected, got in cases:
        if got == expected:
            continue
        if got not in ("client", "server", None):
            raise Wrong(f"answer 'client', 'server' or None, not {got!r}.")
        if conv.close_code is not None and conv.frames:
            first_close = next(f for f in conv.frames if f.close_code is not None)
            sender = "client" if first_close.direction == "c2s" else "server"
            if got == sender:
                raise Wrong(
                    f"in {label}, the {sender} sent the first close frame, but the question "
                    "is who ended TCP first: the first FIN or RST (RFC 6455 §7.1.1: the "
                    "server should close TCP first)."
                )
        ends = [e for e in conv.tcp_events if e.kind in ("FIN", "RST")]
        if ends and got == ("client" if ends[-1].direction == "c2s" else "server"):
            raise Wrong(
                f"in {label}, {got!r} sent the last FIN or RST; the question is who sent the "
                "first one (both sides send a FIN in a clean close)."
            )
        raise Wrong(
            f"in {label}, {got!r} is not the side that sent the first FIN or RST: read "
            "tcp_events in order ('c2s': the client sent it)."
        )
