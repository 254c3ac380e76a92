"""Reference solutions to notebook 09's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

from typing import Any

# --- 09.ping-interval -----------------------------------------------------------------------------
# Every hop must see traffic within its own idle timeout, so the smallest timeout decides; half of
# it leaves room for one late or lost ping.


def ping_interval(timeouts: list[float]) -> float:
    return min(timeouts) / 2


def ping_at_the_timeout(timeouts: list[float]) -> float:
    """Exactly the smallest timeout: the ping arrives as the proxy gives up."""
    return min(timeouts)


def ping_for_the_largest(timeouts: list[float]) -> float:
    """Half the largest timeout: fine for the slowest hop, too late for the strictest."""
    return max(timeouts) / 2


def ping_first_hop(timeouts: list[float]) -> float:
    """Half the first timeout in the list, as if the first hop were the only one."""
    return timeouts[0] / 2


def ping_constantly(timeouts: list[float]) -> float:
    """A ping every 100 ms: alive, but chatty."""
    return 0.1


# --- 09.who-closed --------------------------------------------------------------------------------
# The first FIN or RST in the connection's TCP events; "c2s" means the client sent it.


def who_closed(conversation: Any) -> str | None:
    for event in conversation.tcp_events:
        if event.kind in ("FIN", "RST"):
            return "client" if event.direction == "c2s" else "server"
    return None


def who_sent_close_frame(conversation: Any) -> str | None:
    """The side that sent the first close frame: not always the one that ends TCP first."""
    for frame in conversation.frames:
        if frame.close_code is not None:
            return "client" if frame.direction == "c2s" else "server"
    return who_closed(conversation)


def always_the_server(conversation: Any) -> str | None:
    """ "nginx cut the connection, and nginx is a server": true on one leg only."""
    return "server"


def last_fin(conversation: Any) -> str | None:
    """The side that sent the LAST FIN or RST."""
    closer = None
    for event in conversation.tcp_events:
        if event.kind in ("FIN", "RST"):
            closer = "client" if event.direction == "c2s" else "server"
    return closer


# --- exercise 3 (no check, to explore) -----------------------------------------------------------
# What to expect from wslib.lab.proxy.heartbeat_run, for an instructor (tests/test_proxy.py runs
# the same two cases at a 1-2 s timeout):
#
# - "too slow" (the client pings every 1.2 idle timeouts): nginx closes both legs one idle timeout
#   after the message, before the first ping leaves: closed_after is about IDLE_TIMEOUT_S, no close
#   frame (close_code None, server_sent_code None), the server's handler sees 1006 and
#   websocket-client reports the connection lost. A heartbeat slower than the timeout is none.
# - "impatient" (the server pings every 40 %, waits 1 µs for a pong): the first pong cannot come
#   back in time, so wslib.serve fails the connection (RFC 6455 §7.1.7) with 1011 "keepalive ping
#   timeout" (server_sent_code) at about 0.4 idle timeouts, and ends TCP at once; nginx ends the
#   client's leg too. The close frame comes from the server, through nginx, but the client may
#   not get to read it: websocket-client can fail first on a write (its pong) to the connection
#   nginx has closed, report a broken pipe and no close code (close_code None). A ping timeout
#   shorter than the round trip kills healthy connections.


def exercise_3(idle_timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    """Both cases of exercise 3 (needs nginx; about four idle timeouts)."""
    from wslib.lab.proxy import heartbeat_run

    return {
        "too slow": heartbeat_run(
            idle_timeout,
            client_ping_interval=1.2 * idle_timeout,
            client_ping_timeout=0.5 * idle_timeout,
            seconds=2 * idle_timeout,
        ),
        "impatient": heartbeat_run(
            idle_timeout,
            server_ping_interval=0.4 * idle_timeout,
            server_ping_timeout=1e-6,
            seconds=2 * idle_timeout,
        ),
    }


SOLUTIONS: dict[str, Any] = {
    "09.ping-interval": ping_interval,
    "09.who-closed": who_closed,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "09.ping-interval": [
        ping_at_the_timeout,
        ping_for_the_largest,
        ping_first_hop,
        ping_constantly,
    ],
    "09.who-closed": [who_sent_close_frame, always_the_server, last_fin],
}
