"""The grammar of Sec-WebSocket-Extensions (RFC 6455 §9.1): wslib.extensions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslib.extensions import parse_extensions, serialize_extensions


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        # Chromium's offer: a parameter without a value
        (
            "permessage-deflate; client_max_window_bits",
            [("permessage-deflate", (("client_max_window_bits", None),))],
        ),
        # Firefox's offer
        ("permessage-deflate", [("permessage-deflate", ())]),
        # several offers, quoted value, whitespace around everything, empty elements
        (
            ' , permessage-deflate ;server_max_window_bits = "10" ;client_no_context_takeover, '
            "permessage-deflate,, x-webkit-deflate-frame ",
            [
                (
                    "permessage-deflate",
                    (("server_max_window_bits", "10"), ("client_no_context_takeover", None)),
                ),
                ("permessage-deflate", ()),
                ("x-webkit-deflate-frame", ()),
            ],
        ),
        # a quoted-pair: \1 stands for 1
        ('a; b="1\\2"', [("a", (("b", "12"),))]),
        # duplicates are the extension's business, not the grammar's
        ("a; b; b=1", [("a", (("b", None), ("b", "1")))]),
        ("", []),
        (" ,, ", []),
    ],
)
def test_parse_extensions(value: str, parsed: list[object]) -> None:
    assert parse_extensions(value) == parsed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("; a", "extension name"),
        ("a;", "parameter name"),
        ("a; ;b", "parameter name"),
        ("a; b=", "a token or a quoted string"),
        ('a; b="10', "quoted string closed"),
        ('a; b="1 0"', "not a token once unquoted"),
        ('a; b=""', "not a token once unquoted"),
        ("a b", "',' or ';'"),
        ("a; b=1 2", "',' or ';'"),
        ("a; b=(1)", "a token or a quoted string"),
        ("a=1", "',' or ';'"),
    ],
)
def test_parse_extensions_refuses_what_breaks_the_grammar(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"RFC 6455 §9\.1") as info:
        parse_extensions(value)
    assert message in str(info.value)


def test_serialize_extensions() -> None:
    assert (
        serialize_extensions(
            [
                ("permessage-deflate", (("server_no_context_takeover", None),)),
                ("permessage-deflate", (("client_max_window_bits", "10"),)),
            ]
        )
        == "permessage-deflate; server_no_context_takeover, "
        "permessage-deflate; client_max_window_bits=10"
    )
    with pytest.raises(ValueError, match="not a token"):
        serialize_extensions([("a b", ())])
    with pytest.raises(ValueError, match="not a token"):
        serialize_extensions([("a", (("b", "1 0"),))])


TOKENS = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}", fullmatch=True)
EXTENSIONS = st.lists(
    st.tuples(
        TOKENS,
        st.lists(st.tuples(TOKENS, st.none() | TOKENS), max_size=4).map(tuple),
    ),
    max_size=4,
)


@given(EXTENSIONS)
def test_serialize_then_parse_is_the_identity(extensions: list[tuple[str, object]]) -> None:
    assert parse_extensions(serialize_extensions(extensions)) == extensions  # type: ignore[arg-type]
