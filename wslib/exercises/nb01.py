"""Checks for the exercises of notebook 01, the opening handshake (RFC 6455 §1.3, §4).

Each checker calls the learner's function on fixed and seeded random inputs and raises
:class:`~wslib.exercises.Wrong` with a hint that names the input it failed on.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from ..handshake import GUID, accept_key
from . import Wrong, exercise

#: The example key of RFC 6455 §1.3 and the accept value the RFC gives for it.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def _random_keys(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [base64.b64encode(rng.randbytes(16)).decode("ascii") for _ in range(count)]


# --- 01.accept-key ---------------------------------------------------------------------------


def _accept_hint(key: str, got: object) -> str:
    """Recognise the usual mistakes in an accept value and say which one it looks like."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    if got == digest.hex():
        return "that is the hex digest: base64-encode the 20 raw bytes of .digest() instead."
    if got == digest:
        return "that is the raw digest: base64-encode it and return a str."
    if got == base64.b64encode(digest):
        return "right value, but as bytes: return a str (.decode('ascii'))."
    if got == base64.b64encode(hashlib.sha1(key.encode()).digest()).decode():
        return "that is the SHA-1 of the key alone: append the GUID to the key before hashing."
    if got == base64.b64encode(hashlib.sha1((GUID + key).encode()).digest()).decode():
        return "the GUID goes after the key, not before it."
    decoded = base64.b64decode(key) + GUID.encode()
    if got == base64.b64encode(hashlib.sha1(decoded).digest()).decode():
        return "hash the key as the text it is: do not base64-decode it first."
    return (
        "none of the usual mistakes: check each step against the RFC's example (notebook "
        "section 2), and the GUID character by character."
    )


@exercise(
    "01.accept-key",
    "Write accept_key_by_hand(key) -> str: the Sec-WebSocket-Accept value for a "
    "Sec-WebSocket-Key (key + GUID, SHA-1, base64).",
)
def check_accept_key(answer: Callable[[str], Any]) -> None:
    for key in [RFC_KEY, *_random_keys(20, seed=1)]:
        expected = RFC_ACCEPT if key == RFC_KEY else accept_key(key)
        got = answer(key)
        if got != expected:
            raise Wrong(f"For the key {key!r} yours gave {got!r}: " + _accept_hint(key, got))


# --- 01.is-valid-key -------------------------------------------------------------------------

#: (key, valid?, what the key is). RFC 6455 §4.1: the key is "a randomly selected 16-byte value
#: that has been base64-encoded"; §4.2.1: when decoded, it is 16 bytes long.
KEYS: list[tuple[str, bool, str]] = [
    (RFC_KEY, True, "the example key of RFC 6455 §1.3"),
    *((key, True, "16 random bytes, base64-encoded") for key in _random_keys(5, seed=2)),
    ("", False, "an empty key"),
    ("dGhlIHNhbXBsZSBub25j", False, "base64 of 15 bytes"),
    ("dGhlIHNhbXBsZSBub25jZSE=", False, "base64 of 17 bytes"),
    ("dGhlIHNhbXBsZSBub25jZQ", False, "base64 without its '==' padding"),
    ("dGhlIHNhbXBs*ZSBub25jZQ==", False, "a '*', which is not a base64 character"),
    ("!!!!!!!!!!!!!!!!!!!!!!==", False, "24 characters, but not base64"),
    ("the sample nonce", False, "16 characters that were never base64-encoded"),
]


#: What to look at when a learner accepts one of the invalid keys.
_KEY_ADVICE = {
    "an empty key": "decode it and count the bytes.",
    "base64 of 15 bytes": "decode it and count the bytes.",
    "base64 of 17 bytes": "decode it and count the bytes.",
    "base64 without its '==' padding": (
        "base64 comes in groups of 4 characters; does your decoder really check that, or "
        "quietly fix the input?"
    ),
    "a '*', which is not a base64 character": (
        "base64.b64decode skips characters outside the alphabet unless it is told otherwise."
    ),
    "24 characters, but not base64": "looking like base64 (the length, the '==') is not enough.",
    "16 characters that were never base64-encoded": (
        "16 is the number of bytes *after* decoding, not the length of the text."
    ),
}


@exercise(
    "01.is-valid-key",
    "Write is_valid_key(key) -> bool: True only if the Sec-WebSocket-Key is base64 "
    "that decodes to exactly 16 bytes.",
)
def check_is_valid_key(answer: Callable[[str], Any]) -> None:
    for key, valid, why in KEYS:
        got = answer(key)
        if not isinstance(got, bool):
            raise Wrong(f"is_valid_key({key!r}) returned {got!r}: return True or False.")
        if got is valid:
            continue
        if valid:
            raise Wrong(
                f"is_valid_key({key!r}) refuses {why}: your check is stricter than "
                "'base64 that decodes to 16 bytes'."
            )
        raise Wrong(f"is_valid_key({key!r}) accepts {why}: {_KEY_ADVICE[why]}")


# --- 01.connection-upgrade -------------------------------------------------------------------

_CASE = "tokens are case-insensitive: compare them ignoring case."
_LIST = "the value is a comma-separated list: look at each token of it."
_SPACES = "optional spaces may surround each comma: strip them from each token."
_WHOLE = "a longer token that merely contains 'upgrade' is another token: compare whole tokens."
_NONE = "no token of this value is 'upgrade'."

#: (Connection header value, has the "upgrade" token?, what a wrong answer overlooked).
#: RFC 9110 §7.6.1: Connection is a list of connection options, and §5.6.1: a comma-separated
#: list with optional whitespace around the commas; tokens are case-insensitive.
CONNECTION_VALUES: list[tuple[str, bool, str]] = [
    ("Upgrade", True, _CASE),
    ("upgrade", True, _CASE),
    ("keep-alive, Upgrade", True, _LIST),
    ("Upgrade, HTTP2-Settings", True, _LIST),
    ("keep-alive,upgrade", True, _LIST),
    ("keep-alive ,  UPGRADE ", True, _SPACES),
    ("close", False, _NONE),
    ("keep-alive", False, _NONE),
    ("", False, _NONE),
    ("x-upgrade", False, _WHOLE),
    ("upgraded, keep-alive", False, _WHOLE),
]


@exercise(
    "01.connection-upgrade",
    "Write has_upgrade_token(value) -> bool: does a Connection header value contain the "
    "token 'upgrade' (a comma-separated, case-insensitive token list)?",
)
def check_connection_upgrade(answer: Callable[[str], Any]) -> None:
    for value, expected, overlooked in CONNECTION_VALUES:
        got = answer(value)
        if not isinstance(got, bool):
            raise Wrong(f"has_upgrade_token({value!r}) returned {got!r}: return True or False.")
        if got is not expected:
            verdict = "finds an 'upgrade' token" if got else "misses the 'upgrade' token"
            raise Wrong(f"has_upgrade_token({value!r}) {verdict}: {overlooked}")


# --- 01.status-for ---------------------------------------------------------------------------

_BASE_HEADERS: list[tuple[str, str]] = [
    ("Host", "example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", RFC_KEY),
    ("Sec-WebSocket-Version", "13"),
]


def _request(
    *,
    method: str = "GET",
    version: str = "HTTP/1.1",
    drop: str = "",
    change: tuple[str, str] | None = None,
    lower: bool = False,
) -> bytes:
    lines = [f"{method} /chat {version}"]
    for name, value in _BASE_HEADERS:
        if name == drop:
            continue
        if change and name == change[0]:
            value = change[1]
        lines.append(f"{name.lower() if lower else name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


_VALID = "this request is valid"

#: (what is special about the request, request bytes, status a server must answer, the rule:
#: why a wrong answer is wrong, without the status itself)
REQUESTS: list[tuple[str, bytes, int, str]] = [
    ("a valid request", _request(), 101, _VALID),
    (
        "header names in lower case",
        _request(lower=True),
        101,
        "header names are case-insensitive (RFC 9110 §5.1)",
    ),
    (
        "Connection: keep-alive, Upgrade",
        _request(change=("Connection", "keep-alive, Upgrade")),
        101,
        "Connection is a list of tokens (RFC 9110 §7.6.1), and one of them is 'Upgrade'",
    ),
    (
        "Upgrade: WebSocket",
        _request(change=("Upgrade", "WebSocket")),
        101,
        "the 'websocket' keyword is compared ignoring case (RFC 6455 §4.2.1)",
    ),
    ("method POST", _request(method="POST"), 405, "the method must be GET, RFC 6455 §4.1"),
    ("HTTP/1.0", _request(version="HTTP/1.0"), 400, "the request must be HTTP/1.1 or later"),
    ("no Host header", _request(drop="Host"), 400, "every HTTP/1.1 request has a Host header"),
    (
        "Upgrade: h2c",
        _request(change=("Upgrade", "h2c")),
        400,
        "the client asks for HTTP/2, not for WebSocket",
    ),
    (
        "Connection: keep-alive",
        _request(change=("Connection", "keep-alive")),
        400,
        "Connection must contain the token 'upgrade'",
    ),
    ("no Sec-WebSocket-Key", _request(drop="Sec-WebSocket-Key"), 400, "the key is required"),
    (
        "a key of 15 bytes",
        _request(change=("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j")),
        400,
        "the key must decode to exactly 16 bytes",
    ),
    (
        "Sec-WebSocket-Version: 8",
        _request(change=("Sec-WebSocket-Version", "8")),
        426,
        "this server speaks version 13 only",
    ),
]


@exercise(
    "01.status-for",
    "Write status_for(request: bytes) -> int: the HTTP status a server must answer to this "
    "handshake request (101, 400, 405 or 426).",
)
def check_status_for(answer: Callable[[bytes], Any]) -> None:
    for what, request, status, rule in REQUESTS:
        got = answer(request)
        if got == status:
            continue
        yours = f"For a request with {what}, yours answers {got!r}"
        if status == 101:
            raise Wrong(f"{yours}, but it is valid: {rule}.")
        if got == 101:
            raise Wrong(f"{yours}, accepting it: {rule}.")
        try:
            phrase = f" {HTTPStatus(got).phrase}"
        except ValueError:
            phrase = ""
        raise Wrong(
            f"{yours}{phrase}. Refusing it is right ({rule}), but which status does the table of "
            "section 4 give for this mistake?"
        )
