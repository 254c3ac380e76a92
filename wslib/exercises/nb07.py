"""Checks for the exercises of notebook 07 (polling versus WebSocket, measured).

- ``07.predict-bytes``: predict the bytes per piece of news of a polling client from the cost
  of one poll, the poll interval and the rate of news.
- ``07.handshakes``: how many TCP connections (three-way handshakes) each strategy opens to
  submit one task and make some polls about it.

The expected answers come from the models in :mod:`wslib.lab.polling`
(:func:`~wslib.lab.polling.polling_bytes_per_notification`,
:func:`~wslib.lab.polling.connections_opened`), which ``tests/test_polling.py`` checks against
real captures.
"""

from __future__ import annotations

import math
from typing import Any

from ..lab.polling import STRATEGIES, connections_opened, polling_bytes_per_notification
from . import Wrong, exercise

__all__: list[str] = []

# (bytes per poll, poll interval in s, news per second): rare news, as many as polls, frequent.
BYTES_CASES = (
    (800.0, 1.0, 0.25),
    (600.0, 0.5, 0.5),
    (650.0, 2.0, 1.0),
    (1400.0, 0.25, 1.0),
    (800.0, 1.0, 4.0),
)


@exercise(
    "07.predict-bytes",
    "Write predict_bytes(poll_bytes, interval, rate) -> float: a client polls every `interval` "
    "seconds, each poll (request and response, with their TCP/IP packets) costs `poll_bytes` "
    "bytes, and the task has news `rate` times a second on average. How many bytes does the "
    "client spend per piece of news, over a long run?",
)
def check_predict_bytes(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function predict_bytes(poll_bytes, interval, rate).")
    for poll_bytes, interval, rate in BYTES_CASES:
        expected = polling_bytes_per_notification(poll_bytes, interval, rate)
        got = answer(poll_bytes, interval, rate)
        if not isinstance(got, (int, float)) or isinstance(got, bool) or math.isnan(got):
            raise Wrong(f"return a number of bytes, not {got!r}.")
        if math.isclose(got, expected, rel_tol=0.01):
            continue
        where = f"with poll_bytes={poll_bytes:g}, interval={interval:g} s, rate={rate:g}/s"
        if math.isclose(got, poll_bytes * interval * rate, rel_tol=0.01):
            raise Wrong(
                f"{where} you get {got:g}: upside down. More polls per piece of news cost more: "
                "count the polls in T seconds (T / interval) and the news (rate * T)."
            )
        if math.isclose(got, max(poll_bytes, expected), rel_tol=0.01):
            raise Wrong(
                f"{where} you get {got:g}, but when news comes faster than the polls, one poll "
                "brings several pieces of news at once: the cost per piece goes below one poll."
            )
        if math.isclose(got, poll_bytes / interval, rel_tol=0.01):
            raise Wrong(
                f"{where} you get {got:g}: that is bytes per second. Divide by the news per "
                "second to get bytes per piece of news."
            )
        raise Wrong(f"{where} you get {got:g}; the model says {expected:.0f} bytes.")


@exercise(
    "07.handshakes",
    "Write handshakes(strategy, polls) -> int: the TCP connections (each one a three-way "
    "handshake) one client opens to submit one task (one POST, or one message for websocket) and "
    "then make `polls` requests about it (polls, held requests, or the one SSE stream request). "
    f"strategy is one of {', '.join(STRATEGIES)}.",
)
def check_handshakes(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function handshakes(strategy, polls).")
    for polls in (1, 5, 60):
        for strategy in STRATEGIES:
            expected = connections_opened(strategy, polls)
            got = answer(strategy, polls)
            if got == expected:
                continue
            if got == 0:
                raise Wrong(
                    f"{strategy}: you said 0 connections, as if no TCP handshake were needed. "
                    "Every strategy here talks over TCP; the WebSocket upgrade is an HTTP "
                    "request, and it travels on a TCP connection like any other."
                )
            if strategy in ("keepalive", "long", "sse") and got == polls + 1:
                raise Wrong(
                    f"{strategy}: you counted a new connection for every request. HTTP/1.1 "
                    "keeps a connection open for the next request unless one side closes it "
                    "(RFC 9112 §9.3): is there a reason this client's connection would close?"
                )
            if strategy == "short" and got == polls:
                raise Wrong(
                    "short polling: the submission (POST) is an HTTP/1.0 request too, on its own "
                    "connection, before the first poll."
                )
            if strategy == "short":
                raise Wrong(
                    f"short polling with {polls} polls: HTTP/1.0 closes the connection after "
                    f"each response, so every request opens a new one; you said {got!r}."
                )
            if strategy == "websocket" and got == 2:
                raise Wrong(
                    "websocket: the upgrade is an HTTP request on the TCP connection that then "
                    "carries the frames: no second connection."
                )
            raise Wrong(
                f"{strategy} with {polls} polls: you said {got!r}. Does this strategy close "
                "the connection between requests? (keep-alive and long polling do not; the SSE "
                "stream follows the submission on the same connection.)"
            )
