"""The ``Sec-WebSocket-Extensions`` header: a list of extensions with parameters (RFC 6455 §9.1).

A client offers extensions in its handshake, a server answers with those it accepted. Both use
the same grammar (RFC 6455 §9.1)::

    Sec-WebSocket-Extensions = extension-list
    extension-list = 1#extension
    extension = extension-token *( ";" extension-param )
    extension-token = registered-token
    registered-token = token
    extension-param = token [ "=" (token | quoted-string) ]
        ;When using the quoted-string syntax variant, the value
        ;after quoted-string unescaping MUST conform to the
        ;'token' ABNF.

Chromium's offer, for example, is one extension with one parameter without a value::

    >>> parse_extensions("permessage-deflate; client_max_window_bits")
    [('permessage-deflate', (('client_max_window_bits', None),))]

The same name may appear several times: each is a separate offer, in order of preference
(RFC 7692 §5: "A client may also offer multiple PMCE choices to the server"). Parameters with a
value keep it as a string (quotes removed); what the values mean is up to the extension
(:mod:`wslib.deflate` for permessage-deflate). This module is only the grammar: no socket, no
meaning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Extension", "Param", "parse_extensions", "serialize_extensions"]

#: One parameter: its name and its value, ``None`` for a parameter without one.
Param = tuple[str, str | None]
#: One element of the list: the extension's name and its parameters, in order.
Extension = tuple[str, tuple[Param, ...]]

# RFC 9110 §5.6.2: token = 1*tchar
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
_QUOTED = re.compile(r'"((?:[\t !#-\[\]-~]|\\[\t !-~])*)"')
_OWS = re.compile(r"[ \t]*")


def _quote(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


class _Scanner:
    """Reads the header left to right; every mistake raises ValueError saying where."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.pos = 0

    def skip_ows(self) -> None:
        match = _OWS.match(self.value, self.pos)
        assert match is not None  # [ \t]* always matches
        self.pos = match.end()

    def peek(self) -> str:
        return self.value[self.pos : self.pos + 1]

    def error(self, expected: str) -> ValueError:
        found = self.value[self.pos :] or "the end of the header"
        return ValueError(
            f"expected {expected} at character {self.pos} of {_quote(self.value)}, found "
            f"{_quote(found) if self.value[self.pos :] else found} (RFC 6455 §9.1)"
        )

    def token(self, what: str) -> str:
        match = _TOKEN.match(self.value, self.pos)
        if match is None:
            raise self.error(what)
        self.pos = match.end()
        return match.group()

    def param_value(self) -> str:
        if self.peek() != '"':
            return self.token("a token or a quoted string as the parameter's value")
        match = _QUOTED.match(self.value, self.pos)
        if match is None:
            raise self.error("a quoted string closed by '\"'")
        self.pos = match.end()
        # RFC 9110 §5.6.4: a quoted-pair is a backslash and the character it stands for
        unquoted = re.sub(r"\\(.)", r"\1", match.group(1))
        # RFC 6455 §9.1: "the value after quoted-string unescaping MUST conform to the 'token'
        # ABNF"
        if not _TOKEN.fullmatch(unquoted):
            raise ValueError(
                f"quoted value {_quote(match.group())} in {_quote(self.value)} is not a token "
                "once unquoted: RFC 6455 §9.1 requires a token inside the quotes"
            )
        return unquoted


def parse_extensions(value: str) -> list[Extension]:
    """Parse a ``Sec-WebSocket-Extensions`` value into ``(name, params)`` pairs (RFC 6455 §9.1).

    Several header lines are one list: join them with ``", "`` first (RFC 9110 §5.3). Empty
    elements (``"a, , b"``) are skipped as RFC 9110 §5.6.1 asks of a recipient; an empty list
    gives ``[]``. Anything else that breaks the grammar raises :class:`ValueError` with the
    position: a missing name, a ``;`` without a parameter, an unterminated quoted string, a
    quoted value that is not a token. Duplicate or unknown parameters are *not* errors here:
    they are the extension's business (RFC 7692 §7 declines such an offer).

        >>> parse_extensions('permessage-deflate; server_max_window_bits="10", x-foo')
        [('permessage-deflate', (('server_max_window_bits', '10'),)), ('x-foo', ())]
    """
    scanner = _Scanner(value)
    extensions: list[Extension] = []
    while True:
        scanner.skip_ows()
        if scanner.peek() == ",":  # an empty element: RFC 9110 §5.6.1 lets a recipient skip it
            scanner.pos += 1
            continue
        if not scanner.peek():
            return extensions
        name = scanner.token("an extension name (a token)")
        params: list[Param] = []
        scanner.skip_ows()
        while scanner.peek() == ";":
            scanner.pos += 1
            scanner.skip_ows()
            param = scanner.token("a parameter name (a token) after ';'")
            scanner.skip_ows()
            param_value: str | None = None
            if scanner.peek() == "=":
                scanner.pos += 1
                scanner.skip_ows()
                param_value = scanner.param_value()
                scanner.skip_ows()
            params.append((param, param_value))
        extensions.append((name, tuple(params)))
        if scanner.peek() not in (",", ""):
            raise scanner.error("',' or ';' or the end of the header")


def serialize_extensions(extensions: Iterable[Extension]) -> str:
    """Write ``(name, params)`` pairs as a header value, the inverse of :func:`parse_extensions`.

        >>> serialize_extensions([("permessage-deflate", (("client_max_window_bits", "12"),))])
        'permessage-deflate; client_max_window_bits=12'

    Values are written as tokens (every value RFC 7692 defines is one). Raises
    :class:`ValueError` for a name or value that is not a token.
    """
    elements = []
    for name, params in extensions:
        parts = [name]
        for param, param_value in params:
            parts.append(param if param_value is None else f"{param}={param_value}")
        for part in parts:
            for piece in part.split("="):
                if not _TOKEN.fullmatch(piece):
                    raise ValueError(f"{_quote(piece)} is not a token (RFC 6455 §9.1)")
        elements.append("; ".join(parts))
    return ", ".join(elements)
