"""WebSocket URIs, without I/O: ``ws://`` or ``wss://host[:port][/path][?query]`` (RFC 6455 §3).

Both clients (:func:`wslib.connect`, :func:`wslib.asyncio.connect`) split the URL with
:func:`parse_uri` and send its ``authority`` as the ``Host`` header.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from .exceptions import InvalidURI

__all__ = ["WebSocketURI", "parse_uri"]


@dataclass(frozen=True)
class WebSocketURI:
    """The parts of a ``ws://`` or ``wss://`` URL that the handshake needs (RFC 6455 §3)."""

    host: str
    port: int
    resource_name: str  # the path and query: "/chat?room=1"
    secure: bool = False  # wss://: TLS first (RFC 6455 §3: "secure" flag)

    @property
    def authority(self) -> str:
        """The ``Host`` header: the port only when not the default, 80 or 443 (RFC 6455 §4.1)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.secure else 80) else f"{host}:{self.port}"


def parse_uri(uri: str) -> WebSocketURI:
    """Split a ``ws://`` or ``wss://host[:port][/path][?query]`` URL (RFC 6455 §3).

    The default port is 80 for ``ws://`` and 443 for ``wss://`` (§3). Raises
    :class:`~wslib.exceptions.InvalidURI` for another scheme, a missing host, user info, or a
    fragment (§3: "Fragment identifiers are meaningless in the context of WebSocket URIs and
    MUST NOT be used").
    """
    try:
        parts = urllib.parse.urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise InvalidURI(f"{uri!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise InvalidURI(f"{uri!r} is not a ws:// or wss:// URL (RFC 6455 §3)")
    if not parts.hostname:
        raise InvalidURI(f"{uri!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidURI(f"{uri!r} has user info, which a WebSocket URI cannot carry")
    if parts.fragment or uri.endswith("#"):
        raise InvalidURI(f"{uri!r} has a fragment, which MUST NOT be used (RFC 6455 §3)")
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    # Request paths are ASCII: escape anything else as the RFC 3986 percent-encoding.
    resource = urllib.parse.quote(resource, safe="/?&=%:@!$'()*+,;~-._")
    secure = parts.scheme == "wss"
    if port is None:
        port = 443 if secure else 80
    return WebSocketURI(parts.hostname, port, resource, secure)
