"""Reference solutions to notebook 12's exercises, and plausible wrong answers the checks reject.

For instructors. ``tests/test_exercises.py`` proves that each check accepts ``SOLUTIONS[name]``
and rejects every answer in ``WRONG_ANSWERS[name]``.
"""

from __future__ import annotations

import ssl
import struct
from typing import Any

# --- 12.nonce -------------------------------------------------------------------------------------
# RFC 8446 §5.3: the 64-bit sequence number in network order, padded on the left with zeros to
# the IV's length (12 bytes), XORed with the IV.


def nonce(iv: bytes, seq: int) -> bytes:
    padded = bytes(len(iv) - 8) + struct.pack("!Q", seq)
    return bytes(a ^ b for a, b in zip(iv, padded, strict=True))


def nonce_appended(iv: bytes, seq: int) -> bytes:
    """IV then sequence number (TLS 1.2's AES-GCM explicit nonce is close to this)."""
    return iv + struct.pack("!Q", seq)


def nonce_little_endian(iv: bytes, seq: int) -> bytes:
    return bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "little"), strict=True))


def nonce_padded_right(iv: bytes, seq: int) -> bytes:
    padded = struct.pack("!Q", seq) + bytes(4)
    return bytes(a ^ b for a, b in zip(iv, padded, strict=True))


# --- 12.record-bytes ------------------------------------------------------------------------------
# 5 (record header) + 2/4/10 (frame header) + 4 (mask key) + n + 1 (inner type) + 16 (tag).


def record_bytes(n: int) -> int:
    extended = 0 if n <= 125 else 2 if n <= 0xFFFF else 8
    return 5 + 2 + extended + 4 + n + 1 + 16


def record_bytes_no_tag(n: int) -> int:
    extended = 0 if n <= 125 else 2 if n <= 0xFFFF else 8
    return 5 + 2 + extended + 4 + n + 1


def record_bytes_unmasked(n: int) -> int:
    """As if the server sent it: no masking key."""
    extended = 0 if n <= 125 else 2 if n <= 0xFFFF else 8
    return 5 + 2 + extended + n + 1 + 16


def record_bytes_short_length(n: int) -> int:
    """Forgets the extended payload length."""
    return 5 + 2 + 4 + n + 1 + 16


# --- 12.trust -------------------------------------------------------------------------------------


def make_context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


def make_context_unverified(ca_file: str) -> ssl.SSLContext:
    """The fix every forum suggests, and the wrong one: it turns verification off."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def make_context_system_store(ca_file: str) -> ssl.SSLContext:
    """Forgets to load the CA: the system's store does not know it."""
    return ssl.create_default_context()


SOLUTIONS: dict[str, Any] = {
    "12.nonce": nonce,
    "12.record-bytes": record_bytes,
    "12.trust": make_context,
}

WRONG_ANSWERS: dict[str, list[Any]] = {
    "12.nonce": [nonce_appended, nonce_little_endian, nonce_padded_right],
    "12.record-bytes": [record_bytes_no_tag, record_bytes_unmasked, record_bytes_short_length],
    "12.trust": [make_context_unverified, make_context_system_store],
}
