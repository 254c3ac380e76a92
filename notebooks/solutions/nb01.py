"""Notebook 01 (the opening handshake): reference solutions, and plausible wrong answers.

For instructors. ``SOLUTIONS`` maps each exercise to its reference answer; ``WRONG_ANSWERS`` to
mistakes learners really make, which the checks in ``wslib/exercises/nb01.py`` must reject
(``tests/test_exercises.py`` proves both).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

# RFC 6455 §1.3: the GUID the server appends to the client's key.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# --- 01.accept-key -------------------------------------------------------------------------------


def accept_key_by_hand(key: str) -> str:
    """RFC 6455 §4.2.2: base64 of the SHA-1 digest of the key followed by the GUID."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()  # 20 raw bytes
    return base64.b64encode(digest).decode("ascii")


def accept_key_without_guid(key: str) -> str:
    """Wrong: hashes the key alone."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii")).digest()).decode("ascii")


def accept_key_hex(key: str) -> str:
    """Wrong: the hex digest (40 characters) instead of base64 of the raw digest."""
    return hashlib.sha1((key + GUID).encode("ascii")).hexdigest()


def accept_key_guid_first(key: str) -> str:
    """Wrong: the GUID before the key."""
    return base64.b64encode(hashlib.sha1((GUID + key).encode("ascii")).digest()).decode("ascii")


def accept_key_of_decoded_key(key: str) -> str:
    """Wrong: decodes the key first; the RFC hashes the key as sent, base64 text and all."""
    raw = base64.b64decode(key)
    return base64.b64encode(hashlib.sha1(raw + GUID.encode("ascii")).digest()).decode("ascii")


# --- 01.is-valid-key -----------------------------------------------------------------------------


def is_valid_key(key: str) -> bool:
    """RFC 6455 §4.1/§4.2.1: base64 (strict: only the alphabet, with padding) of 16 bytes."""
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):  # not base64, or not even ASCII
        return False
    return len(raw) == 16


def is_valid_key_by_length(key: str) -> bool:
    """Wrong: 24 characters is what base64 of 16 bytes looks like, but not every 24 chars are."""
    return len(key) == 24


def is_valid_key_lenient(key: str) -> bool:
    """Wrong: without validate=True, b64decode silently skips characters outside the alphabet."""
    try:
        return len(base64.b64decode(key)) == 16
    except (binascii.Error, ValueError):
        return False


# --- 01.connection-upgrade -----------------------------------------------------------------------


def has_upgrade_token(value: str) -> bool:
    """RFC 9110 §7.6.1 and §5.6.1: a comma-separated list of case-insensitive tokens."""
    return "upgrade" in [token.strip().lower() for token in value.split(",")]


def has_upgrade_token_equal(value: str) -> bool:
    """Wrong: Firefox sends 'keep-alive, Upgrade', which is not equal to 'upgrade'."""
    return value.strip().lower() == "upgrade"


def has_upgrade_token_substring(value: str) -> bool:
    """Wrong: a substring test also finds 'upgrade' inside other tokens."""
    return "upgrade" in value.lower()


def has_upgrade_token_no_strip(value: str) -> bool:
    """Wrong: forgets the spaces after the commas."""
    return "upgrade" in value.lower().split(",")


# --- 01.status-for -------------------------------------------------------------------------------


def _parse(
    request: bytes, *, case_sensitive: bool = False
) -> tuple[str, str, dict[str, list[str]]]:
    """Method, HTTP version and headers (name -> every value) of a request head."""
    head = request.decode("latin-1").split("\r\n\r\n", 1)[0]
    request_line, *lines = head.split("\r\n")
    method, _target, version = request_line.split(" ")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip() if case_sensitive else name.strip().lower()
        headers.setdefault(name, []).append(value.strip())
    return method, version, headers


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(",") if token.strip()]


def status_for(request: bytes) -> int:
    """The status a server answers to a handshake request, check by check (RFC 6455 §4.2.1)."""
    method, version, headers = _parse(request)

    def one(name: str) -> str | None:  # the value of a header that must appear exactly once
        values = headers.get(name, [])
        return values[0] if len(values) == 1 else None

    if method != "GET":  # "The method of the request MUST be GET"
        return 405
    if version != "HTTP/1.1":  # "the HTTP version MUST be at least 1.1"
        return 400
    if one("host") is None:
        return 400
    if "websocket" not in _tokens(one("upgrade") or ""):
        return 400
    if "upgrade" not in _tokens(", ".join(headers.get("connection", []))):
        return 400
    if not is_valid_key(one("sec-websocket-key") or ""):
        return 400
    if one("sec-websocket-version") != "13":  # 426 and "Sec-WebSocket-Version: 13"
        return 426
    return 101


def status_for_without_426(request: bytes) -> int:
    """Wrong: treats an unsupported version like any other bad header (400, not 426)."""
    status = status_for(request)
    return 400 if status == 426 else status


def status_for_without_405(request: bytes) -> int:
    """Wrong: answers 400 to a method that is not GET (RFC 9110 §15.5.6: 405 Method Not Allowed)."""
    status = status_for(request)
    return 400 if status == 405 else status


def status_for_case_sensitive(request: bytes) -> int:
    """Wrong: looks headers up with the spelling of RFC 6455's examples only."""
    _method, _version, headers = _parse(request, case_sensitive=True)
    needed = ["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"]
    if any(name not in headers for name in needed):
        return 400
    return status_for(request)


def status_for_connection_equal(request: bytes) -> int:
    """Wrong: requires Connection to be exactly 'Upgrade'."""
    _method, _version, headers = _parse(request)
    if [value.lower() for value in headers.get("connection", [])] != ["upgrade"]:
        return 400
    return status_for(request)


SOLUTIONS: dict[str, Any] = {
    "01.accept-key": accept_key_by_hand,
    "01.is-valid-key": is_valid_key,
    "01.connection-upgrade": has_upgrade_token,
    "01.status-for": status_for,
}

WRONG_ANSWERS: dict[str, list[Callable[..., Any]]] = {
    "01.accept-key": [
        accept_key_without_guid,
        accept_key_hex,
        accept_key_guid_first,
        accept_key_of_decoded_key,
    ],
    "01.is-valid-key": [is_valid_key_by_length, is_valid_key_lenient],
    "01.connection-upgrade": [
        has_upgrade_token_equal,
        has_upgrade_token_substring,
        has_upgrade_token_no_strip,
    ],
    "01.status-for": [
        status_for_without_426,
        status_for_without_405,
        status_for_case_sensitive,
        status_for_connection_equal,
    ],
}
