"""Origins (RFC 6454) and the server's check of the ``Origin`` header (RFC 6455 §4.2.1, §10.2).

A browser sends ``Origin`` with every WebSocket handshake: the page's scheme, host and port, such as
``https://chat.example.com``. It also sends the page's **cookies** for the WebSocket's host, and no
CORS rule stops a page of *another* origin from opening a WebSocket to your server: the handshake
goes through, with the logged-in user's cookies (*cross-site WebSocket hijacking*). The server is
the only one that can refuse it, by checking ``Origin`` (RFC 6455 §10.2: "servers that are not
intended to process input from any web page but only for certain sites SHOULD verify the |Origin|
field is an origin they expect").

Checking it right means comparing **origins**, not strings (RFC 6454 §5): two origins are the same
when scheme, host and port are the same. So, for an allowed ``https://example.com``:

=====================================  ========  ==============================================
``Origin`` header                      allowed?  why
=====================================  ========  ==============================================
``https://example.com``                yes       the same origin
``https://example.com:443``            yes       443 is https's default port: the same origin
``https://EXAMPLE.com``                yes       host names are case-insensitive
``http://example.com``                 no        another scheme is another origin
``https://example.com:8443``           no        another port is another origin
``https://example.com.evil.net``       no        a prefix match would let this in
``https://evil-example.com``           no        a suffix match would let this in
``null``                               no        an *opaque* origin: a sandboxed iframe, a
                                                 ``file:`` or ``data:`` page; "null" cannot tell
                                                 them apart, so never allow it
``https://example.com/`` or a path     no        not an origin (malformed): browsers never send it
(no ``Origin`` header)                 policy    not a browser page (browsers always send one):
                                                 allowed only if ``None`` is in the list
=====================================  ========  ==============================================

In the *allowed* list, a trailing ``/`` is forgiven (people paste URLs) and the same rules apply.
:func:`parse_origin` reads one origin; :class:`OriginPolicy` holds an allowed list and checks a
header value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .exceptions import InvalidOrigin

__all__ = ["DEFAULT_PORTS", "Origin", "OriginPolicy", "parse_origin"]

#: The default port of each scheme a page can have (RFC 6454 §4: the port is "the default port
#: for the scheme" when the URI has none).
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# scheme "://" host [ ":" port ], host a name, an IPv4 address or [an IPv6 address].
_ORIGIN = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


@dataclass(frozen=True)
class Origin:
    """An origin: ``scheme``, ``host`` (lowercase) and ``port`` (the default one filled in).

    The opaque origin ``null`` is ``Origin("null", "", 0)`` (:attr:`opaque`). ``str()`` gives the
    ASCII serialization (RFC 6454 §6.2): the default port left out.
    """

    scheme: str
    host: str
    port: int

    @property
    def opaque(self) -> bool:
        return self.scheme == "null"

    def __str__(self) -> str:
        if self.opaque:
            return "null"
        if self.port == DEFAULT_PORTS.get(self.scheme):
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


NULL = Origin("null", "", 0)


def parse_origin(text: str, *, allow_trailing_slash: bool = False) -> Origin:
    """Read one serialized origin: ``scheme://host[:port]``, or ``null``.

    Scheme and host are compared without case, so both are lowercased; a missing port is the
    scheme's default. Raises :class:`ValueError` (with the reason) for anything else: a path or
    query, user info, spaces inside, a port out of range, an unknown scheme without a port,
    a non-ASCII host (browsers send the punycode form, ``xn--...``). ``allow_trailing_slash``
    forgives one ``/`` at the end (for a configured list, not for a header).
    """
    value = text.strip(" \t")  # the header's optional whitespace (RFC 9110 §5.6.3)
    if value == "null":
        return NULL
    if allow_trailing_slash and value.endswith("/") and value.count("/") == 3:
        value = value[:-1]
    if not value.isascii():
        raise ValueError(f"{text!r}: not ASCII (a host is sent in its punycode form, xn--...)")
    match = _ORIGIN.fullmatch(value)
    if match is None:
        if "://" in value and "/" in value.split("://", 1)[1]:
            raise ValueError(f"{text!r} has a path: an origin is scheme://host[:port] only")
        if "@" in value:
            raise ValueError(f"{text!r} has user info: an origin is scheme://host[:port] only")
        raise ValueError(f"{text!r} is not an origin (scheme://host[:port], or null)")
    scheme, host = match["scheme"].lower(), match["host"].lower()
    if "@" in host:
        raise ValueError(f"{text!r} has user info: an origin is scheme://host[:port] only")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{text!r}: {host} is not an IPv6 address") from None
    if match["port"] is not None:
        port = int(match["port"])
        if not 0 < port < 65536:
            raise ValueError(f"{text!r}: port {port} is out of range")
    elif scheme in DEFAULT_PORTS:
        port = DEFAULT_PORTS[scheme]
    else:
        raise ValueError(f"{text!r}: scheme {scheme!r} has no default port, give one")
    return Origin(scheme, host, port)


class OriginPolicy:
    """Which ``Origin`` values a server accepts: a list of origins, and ``None`` for "no Origin".

    ``OriginPolicy(["https://example.com", None])`` accepts pages of https://example.com (on
    port 443 however written) and clients that send no Origin (not browsers: command-line tools,
    other servers). ``"null"`` in the list accepts every opaque origin, any sandboxed iframe or
    local file on any machine: the constructor refuses it unless ``allow_null=True``. Raises
    :class:`ValueError` for an entry that is not an origin, at once rather than at the first
    handshake.
    """

    def __init__(self, allowed: Iterable[str | None], *, allow_null: bool = False) -> None:
        self.allow_missing = False
        self.origins: set[Origin] = set()
        for entry in allowed:
            if entry is None:
                self.allow_missing = True
                continue
            origin = parse_origin(entry, allow_trailing_slash=True)
            if origin.opaque and not allow_null:
                raise ValueError(
                    "'null' in origins would accept every sandboxed iframe and local file, on "
                    "any machine; pass allow_null=True if that is really what you mean"
                )
            self.origins.add(origin)

    def check(self, header: str | None) -> None:
        """Raise :class:`~wslib.exceptions.InvalidOrigin` (HTTP 403) unless ``header`` (the
        ``Origin`` value, None when absent) is allowed."""
        if header is None:
            if not self.allow_missing:
                raise InvalidOrigin(
                    f"no Origin header is not allowed here; allowed: {self.describe()} "
                    "(a browser always sends Origin)"
                )
            return
        try:
            origin = parse_origin(header)
        except ValueError as exc:
            raise InvalidOrigin(f"malformed Origin: {exc}") from None
        if origin not in self.origins:
            raise InvalidOrigin(
                f"Origin {str(origin)!r} is not allowed here; allowed: {self.describe()}"
            )

    def allows(self, header: str | None) -> bool:
        """Whether :meth:`check` would accept ``header``."""
        try:
            self.check(header)
        except InvalidOrigin:
            return False
        return True

    def describe(self) -> str:
        names = sorted(str(o) for o in self.origins)
        if self.allow_missing:
            names.append("no Origin")
        return ", ".join(names) or "none"

    def __repr__(self) -> str:
        return f"OriginPolicy([{self.describe()}])"
