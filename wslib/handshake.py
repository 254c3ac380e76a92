"""The opening handshake (RFC 6455 §4) and its signature, ``Sec-WebSocket-Accept`` (§1.3)."""

from __future__ import annotations

import base64
import hashlib
import secrets

__all__ = ["GUID", "accept_key", "generate_key"]

#: RFC 6455 §1.3: a fixed string that the server appends to the client's key.
#: A server that does not know WebSocket cannot produce the right answer by accident.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    """Compute ``Sec-WebSocket-Accept`` from ``Sec-WebSocket-Key`` (RFC 6455 §1.3, §4.2.2).

    The key and the GUID are concatenated, hashed with SHA-1, and the 20-byte digest is
    base64-encoded::

        >>> accept_key("dGhlIHNhbXBsZSBub25jZQ==")
        's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    """
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def generate_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64-encoded (RFC 6455 §4.1).

    "The nonce MUST be selected randomly for each connection": a CSPRNG, never a fixed value.
    """
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")
