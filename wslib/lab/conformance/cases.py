"""The cases, category by category, written from RFC 6455 (as data: see :mod:`.model`).

Eight categories, numbered like the sections of a report: 1 framing, 2 ping/pong, 3 reserved
bits, 4 reserved opcodes, 5 fragmentation, 6 UTF-8, 7 limits, 8 closing. Every case is played
against an *echo* peer: a server that sends each message back as it came (text as text, binary
as binary), or a client that does the same. :data:`CASES` holds them all, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ...deflate import DeflateConfig
from ...frames import RSV1, RSV2, RSV3, Opcode
from .model import Case, End, Event, Expect, Frame, Pause, Send, Step

__all__ = [
    "CASES",
    "CATEGORIES",
    "EXTENSION_CASES",
    "EXTENSION_CATEGORIES",
    "compressed",
    "deflated",
    "select",
]

TEXT, BINARY, CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
PING, PONG, CLOSE = Opcode.PING, Opcode.PONG, Opcode.CLOSE

#: The categories in report order, with the RFC sections they exercise.
CATEGORIES: dict[str, str] = {
    "framing": "§5.2",
    "ping/pong": "§5.5.2, §5.5.3",
    "reserved bits": "§5.2",
    "reserved opcodes": "§5.2",
    "fragmentation": "§5.4",
    "utf-8": "§5.6, §8.1",
    "limits": "§10.4",
    "closing": "§5.5.1, §7.4",
}

RESERVED_OPCODES = (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)
RSV_COMBOS = tuple(range(1, 8))  # RSV1..RSV3 as a 3-bit number: 1 = RSV3 ... 4 = RSV1


def _rsv(n: int) -> int:
    """The 3-bit number ``n`` (RSV1 RSV2 RSV3) as bits of the first byte."""
    return (RSV1 if n & 4 else 0) | (RSV2 if n & 2 else 0) | (RSV3 if n & 1 else 0)


def _b(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def text(data: str | bytes, *, fin: bool = True, rsv: int = 0) -> Frame:
    return Frame(TEXT, _b(data), fin, rsv)


def binary(data: bytes, *, fin: bool = True, rsv: int = 0) -> Frame:
    return Frame(BINARY, data, fin, rsv)


def cont(data: str | bytes, *, fin: bool = True, rsv: int = 0) -> Frame:
    return Frame(CONT, _b(data), fin, rsv)


def ping(data: str | bytes = b"", **kw: object) -> Frame:
    return Frame(PING, _b(data), **kw)  # type: ignore[arg-type]


def pong(data: str | bytes = b"", **kw: object) -> Frame:
    return Frame(PONG, _b(data), **kw)  # type: ignore[arg-type]


def close(code: int | None = 1000, reason: str | bytes = b"", **kw: object) -> Frame:
    payload = b"" if code is None else code.to_bytes(2, "big") + _b(reason)
    return Frame(CLOSE, payload, **kw)  # type: ignore[arg-type]


def send(
    *frames: Frame, chunk: int | None = None, cut: Iterable[int] = (), delay: float = 0.0
) -> Send:
    return Send(tuple(frames), chunk, tuple(cut), delay)


def t(data: str | bytes) -> Event:
    return ("text", _b(data))


def b(data: bytes) -> Event:
    return ("binary", data)


def p(data: str | bytes = b"") -> Event:
    return ("pong", _b(data))


def echo(*events: Event, **kw: object) -> Expect:
    return Expect(tuple(events), End.CLEAN, **kw)  # type: ignore[arg-type]


def fail(*codes: int, before: tuple[Event, ...] = (), fast: bool = False) -> Expect:
    """Fail with ``codes``; a valid message ``before`` the error should be echoed first (OK),
    and failing without echoing it is NON-STRICT."""
    return Expect(before, End.FAIL, codes, lenient=((),) if before else (), fast=fast)


def pattern(n: int) -> bytes:
    """``n`` bytes of every value, in order: a payload that catches off-by-one and masking bugs."""
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def letters(n: int) -> bytes:
    return (b"abcdefghijklmnopqrstuvwxyz0123456789" * (n // 36 + 1))[:n]


class _Builder:
    def __init__(self) -> None:
        self.cases: list[Case] = []

    def add(
        self,
        id: str,
        category: str,
        rfc: str,
        title: str,
        steps: Step | Iterable[Step],
        expect: Expect,
        **kw: object,
    ) -> None:
        steps = (steps,) if isinstance(steps, Send | Pause) else tuple(steps)
        self.cases.append(Case(id, category, rfc, title, steps, expect, **kw))  # type: ignore[arg-type]


def _framing(add: _Builder) -> None:
    cat, rfc = "framing", "§5.2"
    lengths = (0, 1, 125, 126, 127, 128, 65535, 65536, 65537)
    for i, n in enumerate(lengths, 1):
        add.add(
            f"1.1.{i}",
            cat,
            rfc,
            f"text message of {n} bytes",
            send(text(letters(n))),
            echo(t(letters(n))),
        )
    for i, n in enumerate(lengths, 1):
        add.add(
            f"1.2.{i}",
            cat,
            rfc,
            f"binary message of {n} bytes",
            send(binary(pattern(n))),
            echo(b(pattern(n))),
        )
    chunked = [
        (
            "125-byte text, one byte per write",
            send(text(letters(125)), chunk=1),
            echo(t(letters(125))),
        ),
        (
            "126-byte binary (16-bit length split), one byte per write",
            send(binary(pattern(126)), chunk=1),
            echo(b(pattern(126))),
        ),
        (
            "65,536-byte binary (64-bit length), 7 bytes per write",
            send(binary(pattern(65536)), chunk=7),
            echo(b(pattern(65536))),
        ),
        (
            "70,000-byte text in writes of 1,000 bytes",
            send(text(letters(70000)), chunk=1000),
            echo(t(letters(70000))),
        ),
        (
            "two text frames in one write",
            send(text("first"), text("second")),
            echo(t("first"), t("second")),
        ),
        (
            "ten text messages in one write",
            send(*(text(f"message {i}") for i in range(10))),
            echo(*(t(f"message {i}") for i in range(10))),
        ),
        (
            "'Hello', one byte per write, 10 ms apart",
            send(text("Hello"), chunk=1, delay=0.01),
            echo(t("Hello")),
        ),
        (
            "a ping and a text in one write, one byte per write",
            send(ping("p"), text("after ping"), chunk=1),
            echo(p("p"), t("after ping")),
        ),
    ]
    for i, (title, step, expect) in enumerate(chunked, 1):
        add.add(f"1.3.{i}", cat, "§5.2, §5.4", title, step, expect)
    either = Expect((t("Hello"),), End.EITHER)
    note = (
        "§5.2 says the minimal number of bytes MUST be used, a rule for the sender; what a "
        "receiver does with a longer form is left open."
    )
    add.add(
        "1.4.1",
        cat,
        rfc,
        "5-byte text with a 16-bit length",
        send(Frame(TEXT, b"Hello", length_form=16)),
        either,
        note=note,
    )
    add.add(
        "1.4.2",
        cat,
        rfc,
        "5-byte text with a 64-bit length",
        send(Frame(TEXT, b"Hello", length_form=64)),
        either,
        note=note,
    )
    add.add(
        "1.4.3",
        cat,
        rfc,
        "200-byte binary with a 64-bit length",
        send(Frame(BINARY, pattern(200), length_form=64)),
        Expect((b(pattern(200)),), End.EITHER),
        note=note,
    )
    add.add(
        "1.4.4",
        cat,
        rfc,
        "64-bit length with its most significant bit set",
        send(Frame(BINARY, b"Hello", length=(1 << 63) + 5)),
        fail(1002, 1009),
        note="§5.2: 'the most significant bit MUST be 0'.",
    )
    add.add(
        "1.5.1",
        cat,
        "§5.1",
        "a text frame with the wrong masking for its direction",
        send(Frame(TEXT, b"Hello", wrong_mask=True)),
        fail(1002),
        note="A server MUST close on an unmasked frame; a client on a masked one.",
    )
    add.add(
        "1.5.2",
        cat,
        "§5.1",
        "a ping with the wrong masking for its direction",
        send(Frame(PING, b"ping", wrong_mask=True)),
        fail(1002),
    )
    add.add(
        "1.5.3",
        cat,
        "§5.1",
        "a valid text, then one with the wrong masking, in one write",
        send(text("valid"), Frame(TEXT, b"Hello", wrong_mask=True)),
        fail(1002, before=(t("valid"),)),
    )


def _ping_pong(add: _Builder) -> None:
    cat = "ping/pong"
    for i, n in enumerate((0, 1, 2, 3, 4, 5, 8, 16, 32, 64, 100, 123, 124, 125), 1):
        add.add(
            f"2.1.{i}",
            cat,
            "§5.5.2, §5.5.3",
            f"ping with {n} bytes of payload",
            send(ping(letters(n))),
            echo(p(letters(n))),
        )
    binaries = [
        ("every byte value 0x00-0x7C", bytes(range(125))),
        ("125 zero bytes", bytes(125)),
        ("125 bytes 0xFF", b"\xff" * 125),
        ("invalid UTF-8 (a ping's payload is binary)", b"\xce\xba\xe1\xbd\xb9\xed\xa0\x80\xff"),
    ]
    for i, (what, data) in enumerate(binaries, 1):
        add.add(
            f"2.2.{i}",
            cat,
            "§5.5.2, §5.5.3",
            f"ping with a binary payload: {what}",
            send(ping(data)),
            echo(p(data)),
        )
    for i, n in enumerate((126, 127, 1000, 65536), 1):
        add.add(
            f"2.3.{i}",
            cat,
            "§5.5",
            f"ping with {n} bytes: too big for a control frame",
            send(ping(pattern(n))),
            fail(1002),
            note="§5.5: 'All control frames MUST have a payload length of 125 bytes or less'.",
        )
    unsolicited = [
        ("an empty unsolicited pong, then a text", send(pong(), text("after pong"))),
        (
            "an unsolicited pong with payload, then a text",
            send(pong("unsolicited"), text("after pong")),
        ),
        (
            "ten unsolicited pongs, then a text",
            send(*(pong(f"pong {i}") for i in range(10)), text("after pong")),
        ),
    ]
    for i, (title, step) in enumerate(unsolicited, 1):
        add.add(
            f"2.4.{i}",
            cat,
            "§5.5.3",
            title,
            step,
            echo(t("after pong")),
            note="§5.5.3: 'A response to an unsolicited Pong frame is not expected.'",
        )
    add.add(
        "2.5.1",
        cat,
        "§5.4, §5.5.2",
        "a ping between two text fragments",
        send(text("frag1-", fin=False), ping("in between"), cont("frag2")),
        echo(p("in between"), t("frag1-frag2")),
    )
    add.add(
        "2.5.2",
        cat,
        "§5.4, §5.5.2",
        "a ping between two binary fragments",
        send(binary(b"\x00\x01", fin=False), ping(b"\xff"), cont(b"\x02")),
        echo(p(b"\xff"), b(b"\x00\x01\x02")),
    )
    add.add(
        "2.5.3",
        cat,
        "§5.4, §5.5.2",
        "two pings between two fragments",
        send(text("a", fin=False), ping("1"), ping("2"), cont("b")),
        echo(p("1"), p("2"), t("ab"), also_ok=((p("2"), t("ab")),)),
    )
    add.add(
        "2.5.4",
        cat,
        "§5.4, §5.5.2",
        "a ping between each of five fragments, 50 ms apart",
        [
            send(text("f0", fin=False), ping("0")),
            Pause(0.05),
            send(cont("f1", fin=False), ping("1")),
            Pause(0.05),
            send(cont("f2", fin=False), ping("2")),
            Pause(0.05),
            send(cont("f3", fin=False), ping("3")),
            Pause(0.05),
            send(cont("f4")),
        ],
        echo(p("0"), p("1"), p("2"), p("3"), t("f0f1f2f3f4")),
    )
    add.add(
        "2.6.1",
        cat,
        "§5.4, §5.5.3",
        "a pong between two fragments",
        send(text("frag1-", fin=False), pong("in between"), cont("frag2")),
        echo(t("frag1-frag2")),
    )
    add.add(
        "2.7.1",
        cat,
        "§5.5.3",
        "ten pings in one write",
        send(*(ping(f"ping {i}") for i in range(10))),
        echo(*(p(f"ping {i}") for i in range(10)), also_ok=((p("ping 9"),),)),
        note="§5.5.3 lets a peer answer only the most recent of several pings.",
    )
    add.add(
        "2.8.1",
        cat,
        "§5.5.2",
        "a ping, one byte per write",
        send(ping("slowly"), chunk=1),
        echo(p("slowly")),
    )
    add.add(
        "2.9.1",
        cat,
        "§5.5.2, §5.5.1",
        "a ping then a close, in one write",
        send(ping("before close"), close(1000)),
        Expect((p("before close"),), End.ANSWER, (1000,)),
    )
    add.add("2.10.1", cat, "§5.5", "a pong with 126 bytes", send(pong(pattern(126))), fail(1002))
    add.add(
        "2.10.2",
        cat,
        "§5.5",
        "a fragmented ping (FIN clear, then a continuation)",
        send(ping("frag", fin=False), cont("ment")),
        fail(1002),
        note="§5.5: control frames 'MUST NOT be fragmented'.",
    )
    add.add(
        "2.10.3",
        cat,
        "§5.5",
        "a fragmented pong",
        send(pong("frag", fin=False), cont("ment")),
        fail(1002),
    )


def _reserved_bits(add: _Builder) -> None:
    cat, rfc = "reserved bits", "§5.2"
    note = "§5.2: RSV1-3 'MUST be 0 unless an extension is negotiated'; the suite negotiates none."
    kinds: list[tuple[str, str, Callable[[int], Frame]]] = [
        ("3.1", "text", lambda r: text("Hello", rsv=r)),
        ("3.2", "binary", lambda r: binary(b"\x00\xff", rsv=r)),
        ("3.3", "ping", lambda r: ping("Hello", rsv=r)),
        ("3.4", "pong", lambda r: pong("Hello", rsv=r)),
        ("3.5", "close", lambda r: close(1000, rsv=r)),
    ]
    for prefix, kind, make in kinds:
        for n in RSV_COMBOS:
            add.add(
                f"{prefix}.{n}",
                cat,
                rfc,
                f"{kind} frame with RSV bits {n:03b}",
                send(make(_rsv(n))),
                fail(1002),
                note=note,
            )
    for i, n in enumerate((4, 2, 1), 1):
        add.add(
            f"3.6.{i}",
            cat,
            rfc,
            f"a valid text, a text with RSV {n:03b}, then a ping, in one write",
            send(text("valid"), text("Hello", rsv=_rsv(n)), ping()),
            fail(1002, before=(t("valid"),)),
            note="The valid message arrived before the error: a strict peer delivers it.",
        )
    for i, n in enumerate((4, 2, 1), 1):
        add.add(
            f"3.7.{i}",
            cat,
            rfc,
            f"a continuation frame with RSV {n:03b}",
            send(text("frag", fin=False), cont("ment", rsv=_rsv(n))),
            fail(1002),
        )


def _reserved_opcodes(add: _Builder) -> None:
    cat, rfc = "reserved opcodes", "§5.2"
    note = "§5.2: 'If an unknown opcode is received, the receiving endpoint MUST _Fail_'."
    for i, op in enumerate(RESERVED_OPCODES, 1):
        add.add(
            f"4.1.{i}",
            cat,
            rfc,
            f"a frame with reserved opcode 0x{op:X}",
            send(Frame(op)),
            fail(1002),
            note=note,
        )
    for i, op in enumerate(RESERVED_OPCODES, 1):
        add.add(
            f"4.2.{i}",
            cat,
            rfc,
            f"a valid text, then opcode 0x{op:X} with a payload, in one write",
            send(text("valid"), Frame(op, b"reserved"), ping()),
            fail(1002, before=(t("valid"),)),
            note=note,
        )
    for i, op in enumerate(RESERVED_OPCODES, 1):
        add.add(
            f"4.3.{i}",
            cat,
            rfc,
            f"opcode 0x{op:X} between two text fragments",
            send(text("frag", fin=False), Frame(op, b"x"), cont("ment")),
            fail(1002),
            note=note,
        )


def _fragmentation(add: _Builder) -> None:
    cat, rfc = "fragmentation", "§5.4"
    ok: list[tuple[str, Step | list[Step], Expect]] = [
        (
            "text in two fragments",
            send(text("Hello, ", fin=False), cont("world")),
            echo(t("Hello, world")),
        ),
        (
            "binary in two fragments",
            send(binary(b"\x00\x01", fin=False), cont(b"\x02\x03")),
            echo(b(b"\x00\x01\x02\x03")),
        ),
        (
            "text in three fragments, the middle one empty",
            send(text("a", fin=False), cont("", fin=False), cont("b")),
            echo(t("ab")),
        ),
        (
            "text whose first fragment is empty",
            send(text("", fin=False), cont("full")),
            echo(t("full")),
        ),
        (
            "an empty text message in three empty fragments",
            send(text("", fin=False), cont("", fin=False), cont("")),
            echo(t("")),
        ),
        (
            "text in 100 one-byte fragments",
            send(text("x", fin=False), *(cont("x", fin=False) for _ in range(98)), cont("x")),
            echo(t("x" * 100)),
        ),
        (
            "binary in 10 fragments, one byte per write",
            send(
                binary(b"\x00", fin=False),
                *(cont(bytes([i]), fin=False) for i in range(1, 9)),
                cont(b"\x09"),
                chunk=1,
            ),
            echo(b(bytes(range(10)))),
        ),
        (
            "text in 4 fragments, 50 ms apart",
            [
                send(text("one ", fin=False)),
                Pause(0.05),
                send(cont("two ", fin=False)),
                Pause(0.05),
                send(cont("three ", fin=False)),
                Pause(0.05),
                send(cont("four")),
            ],
            echo(t("one two three four")),
        ),
        (
            "two fragmented messages back to back in one write",
            send(text("a", fin=False), cont("b"), binary(b"c", fin=False), cont(b"d")),
            echo(t("ab"), b(b"cd")),
        ),
    ]
    for i, (title, steps, expect) in enumerate(ok, 1):
        add.add(f"5.1.{i}", cat, rfc, title, steps, expect)
    bad = [
        (
            "a continuation frame (FIN set) with no message started",
            send(cont("orphan")),
            fail(1002),
        ),
        (
            "continuation frames (FIN clear, then set) with no message started",
            send(cont("orphan", fin=False), cont("orphan")),
            fail(1002),
        ),
        (
            "a complete text, then a continuation frame, in one write",
            send(text("complete"), cont("orphan")),
            fail(1002, before=(t("complete"),)),
        ),
        (
            "a fragmented text, finished, then one more continuation",
            send(text("a", fin=False), cont("b"), cont("c")),
            fail(1002, before=(t("ab"),)),
        ),
    ]
    for i, (title, steps, expect) in enumerate(bad, 1):
        add.add(
            f"5.2.{i}",
            cat,
            rfc,
            title,
            steps,
            expect,
            note="§5.4: a continuation frame only continues a message in progress.",
        )
    nested = [
        ("a text started, then another text (FIN set)", send(text("a", fin=False), text("b"))),
        (
            "a text started, then a binary started",
            send(text("a", fin=False), binary(b"b", fin=False)),
        ),
        ("a binary started, then a text (FIN set)", send(binary(b"a", fin=False), text("b"))),
        (
            "two texts started, then a continuation",
            send(text("a", fin=False), text("b", fin=False), cont("c")),
        ),
    ]
    for i, (title, steps) in enumerate(nested, 1):
        add.add(
            f"5.3.{i}",
            cat,
            rfc,
            title,
            steps,
            fail(1002),
            note="§5.4: the fragments of one message are not interleaved with another's.",
        )
    control = [
        ("a ping with FIN clear, then a continuation", send(ping("a", fin=False), cont("b"))),
        ("a pong with FIN clear, then a continuation", send(pong("a", fin=False), cont("b"))),
        ("a close with FIN clear, then a continuation", send(close(1000, fin=False), cont("b"))),
    ]
    for i, (title, steps) in enumerate(control, 1):
        add.add(
            f"5.4.{i}",
            cat,
            "§5.4, §5.5",
            title,
            steps,
            fail(1002),
            note="§5.5: control frames 'MUST NOT be fragmented'.",
        )
    add.add(
        "5.5.1",
        cat,
        rfc,
        "text fragments and a ping between them, one byte per write",
        send(text("frag1-", fin=False), ping("p"), cont("frag2"), chunk=1),
        echo(p("p"), t("frag1-frag2")),
    )


# Invalid UTF-8 (RFC 3629 §3-§4): each is refused by a strict decoder at the bytes shown.
INVALID_UTF8: list[tuple[str, bytes]] = [
    ("a lone continuation byte 0x80", b"\x80"),
    ("a lone continuation byte 0xBF", b"\xbf"),
    ("three continuation bytes", b"\x80\xbf\x80"),
    ("a 2-byte start without continuation", b"\xc3"),
    ("a 3-byte start then ASCII", b"\xe2\x82" + b"a"),
    ("a 4-byte start then ASCII", b"\xf0\x9d\x84" + b"a"),
    ("overlong '/' in 2 bytes (C0 AF)", b"\xc0\xaf"),
    ("overlong '/' in 3 bytes (E0 80 AF)", b"\xe0\x80\xaf"),
    ("overlong '/' in 4 bytes (F0 80 80 AF)", b"\xf0\x80\x80\xaf"),
    ("overlong NUL (C1 BF)", b"\xc1\xbf"),
    ("the surrogate U+D800 (ED A0 80)", b"\xed\xa0\x80"),
    ("the surrogate U+DFFF (ED BF BF)", b"\xed\xbf\xbf"),
    ("a surrogate pair in UTF-8 (ED A0 80 ED B0 80)", b"\xed\xa0\x80\xed\xb0\x80"),
    ("U+110000, above the last code point (F4 90 80 80)", b"\xf4\x90\x80\x80"),
    ("the byte F5", b"\xf5\x80\x80\x80"),
    ("the byte F8 (a 5-byte form)", b"\xf8\x88\x80\x80\x80"),
    ("the byte FC (a 6-byte form)", b"\xfc\x84\x80\x80\x80\x80"),
    ("the byte FE", b"\xfe"),
    ("the byte FF", b"\xff"),
    ("'κόσμε' then a surrogate", "κόσμε".encode() + b"\xed\xa0\x80"),
    ("'Hello' then FF then 'world'", b"Hello\xffworld"),
    ("valid text ending in a cut 3-byte character", b"price: \xe2\x82"),
    ("valid text ending in a cut 4-byte character", b"clef: \xf0\x9d\x84"),
    ("a 2-byte character whose second byte is ASCII", b"\xc3\x28"),
    ("a 3-byte character whose third byte is a start byte", b"\xe2\x82\xc3"),
]

VALID_UTF8: list[tuple[str, str]] = [
    ("the empty string", ""),
    ("ASCII", "Hello, world"),
    ("Greek 'κόσμε' (2-byte characters)", "κόσμε"),
    ("the euro sign (3 bytes)", "€"),
    ("a musical symbol (4 bytes)", "𝄞"),
    ("a byte order mark", "\ufeffBOM"),
    ("U+0080, the first 2-byte character", "\u0080"),
    ("U+07FF, the last 2-byte character", "\u07ff"),
    ("U+0800, the first 3-byte character", "\u0800"),
    ("U+D7FF, just before the surrogates", "\ud7ff"),
    ("U+E000, just after the surrogates", "\ue000"),
    ("U+FFFF, a noncharacter (valid UTF-8)", "\uffff"),
    ("U+10000, the first 4-byte character", "\U00010000"),
    ("U+10FFFF, the last code point", "\U0010ffff"),
    ("mixed scripts, 1-4 bytes per character", "aé€𝄞 Привет 你好 مرحبا"),
]


def _utf8(add: _Builder) -> None:
    cat, rfc = "utf-8", "§5.6, §8.1"
    for i, (what, s) in enumerate(VALID_UTF8, 1):
        add.add(f"6.1.{i}", cat, rfc, f"valid UTF-8: {what}", send(text(s)), echo(t(s)))
    kosme = "κόσμε".encode()
    add.add(
        "6.2.1",
        cat,
        rfc,
        "valid 'κόσμε' in one-byte fragments (characters split)",
        send(
            text(kosme[:1], fin=False),
            *(cont(kosme[i : i + 1], fin=False) for i in range(1, len(kosme) - 1)),
            cont(kosme[-1:]),
        ),
        echo(t(kosme)),
    )
    clef = "𝄞".encode()
    euro = "€".encode()
    for i, (data, k) in enumerate([(clef, 1), (clef, 2), (clef, 3), (euro, 1), (euro, 2)], 2):
        add.add(
            f"6.2.{i}",
            cat,
            rfc,
            f"a {len(data)}-byte character split {k}|{len(data) - k} across two fragments",
            send(text(data[:k], fin=False), cont(data[k:])),
            echo(t(data)),
        )
    note = "§8.1: invalid UTF-8 in a text message: the endpoint MUST _Fail_ (1007, §7.4.1)."
    for i, (what, data) in enumerate(INVALID_UTF8, 1):
        add.add(
            f"6.3.{i}", cat, rfc, f"invalid UTF-8: {what}", send(text(data)), fail(1007), note=note
        )
    slow = 0.4
    fast_note = (
        "Fail fast: the invalid bytes are already known before the last write; failing "
        "only once the message or frame is complete is NON-STRICT."
    )
    add.add(
        "6.4.1",
        cat,
        rfc,
        "invalid UTF-8 in the 2nd of 3 fragments, 0.4 s apart",
        [
            send(text("κόσμε", fin=False)),
            Pause(slow),
            send(cont(b"\xed\xa0\x80", fin=False)),
            Pause(slow),
            send(cont("edited")),
        ],
        fail(1007, fast=True),
        note=fast_note,
    )
    add.add(
        "6.4.2",
        cat,
        rfc,
        "a fragment ends in a cut character, the next starts with ASCII",
        [
            send(text(b"price \xe2\x82", fin=False)),
            Pause(slow),
            send(cont(b"a", fin=False)),
            Pause(slow),
            send(cont("end")),
        ],
        fail(1007, fast=True),
        note=fast_note,
    )
    add.add(
        "6.4.3",
        cat,
        rfc,
        "a message whose last fragment ends in a cut character",
        send(text("valid ", fin=False), cont(b"\xf0\x9d\x84")),
        fail(1007),
        note=note,
    )
    add.add(
        "6.4.4",
        cat,
        rfc,
        "a first fragment of one byte FF, then the rest 0.4 s later",
        [send(text(b"\xff", fin=False)), Pause(slow), send(cont("rest"))],
        fail(1007, fast=True),
        note=fast_note,
    )
    inner = "κόσμε".encode() + b"\xed\xa0\x80" + b"edited"
    add.add(
        "6.5.1",
        cat,
        rfc,
        "one frame with a surrogate early, the rest written 0.4 s later",
        send(text(inner), cut=(len(kosme) + 3,), delay=slow),
        fail(1007, fast=True),
        note=fast_note,
    )
    add.add(
        "6.5.2",
        cat,
        rfc,
        "one frame starting with FF, the rest written 0.4 s later",
        send(text(b"\xff" + letters(200)), cut=(1,), delay=slow),
        fail(1007, fast=True),
        note=fast_note,
    )
    add.add(
        "6.5.3",
        cat,
        rfc,
        "one 64 KiB frame with FF at byte 10, the rest 0.4 s later",
        send(text(letters(10) + b"\xff" + letters(65525)), cut=(11,), delay=slow),
        fail(1007, fast=True),
        note=fast_note,
    )
    add.add(
        "6.5.4",
        cat,
        rfc,
        "one frame with an overlong form early, written 3 pieces 0.3 s apart",
        send(text(b"ab\xc0\xaf" + letters(100)), cut=(4, 50), delay=0.3),
        fail(1007, fast=True),
        note=fast_note,
    )
    add.add(
        "6.6.1",
        cat,
        rfc,
        "a valid text, then an invalid one, in one write",
        send(text("valid"), text(b"\xff")),
        fail(1007, before=(t("valid"),)),
    )


def _limits(add: _Builder) -> None:
    cat, rfc = "limits", "§10.4"
    note = (
        "§10.4: an endpoint may limit message sizes; closing with 1009 instead of echoing is "
        "recorded as INFORMATIONAL."
    )
    sizes = [(64 << 10, 2.0), (256 << 10, 2.0), (1 << 20, 3.0), (4 << 20, 5.0), (16 << 20, 10.0)]
    for i, (n, timeout) in enumerate(sizes, 1):
        add.add(
            f"7.1.{i}",
            cat,
            rfc,
            f"a text message of {n >> 10:,} KiB",
            send(text(letters(n))),
            echo(t(letters(n)), limit_codes=(1009,)),
            timeout=timeout,
            solo=True,
            note=note,
        )
    for i, (n, timeout) in enumerate(sizes, 1):
        add.add(
            f"7.2.{i}",
            cat,
            rfc,
            f"a binary message of {n >> 10:,} KiB",
            send(binary(pattern(n))),
            echo(b(pattern(n)), limit_codes=(1009,)),
            timeout=timeout,
            solo=True,
            note=note,
        )
    frag_note = (
        "§5.4 sets no limit on fragments; a peer may bound what a message in progress "
        "costs (1009 or 1008: INFORMATIONAL)."
    )
    add.add(
        "7.3.1",
        cat,
        "§5.4, §10.4",
        "a text message in 1,000 one-byte fragments",
        send(text("y", fin=False), *(cont("y", fin=False) for _ in range(998)), cont("y")),
        echo(t("y" * 1000), limit_codes=(1008, 1009)),
        solo=True,
        note=frag_note,
    )
    add.add(
        "7.3.2",
        cat,
        "§5.4, §10.4",
        "a binary message in 10,000 one-byte fragments",
        send(binary(b"z", fin=False), *(cont(b"z", fin=False) for _ in range(9998)), cont(b"z")),
        echo(b(b"z" * 10000), limit_codes=(1008, 1009)),
        timeout=5.0,
        solo=True,
        note=frag_note,
    )
    add.add(
        "7.3.3",
        cat,
        "§5.4, §10.4",
        "a binary message: 1 byte, 100,000 empty continuations, then 1 byte",
        send(binary(b"<", fin=False), *(cont(b"", fin=False) for _ in range(100_000)), cont(b">")),
        echo(b(b"<>"), limit_codes=(1008, 1009)),
        timeout=5.0,
        solo=True,
        note=frag_note,
    )
    add.add(
        "7.3.4",
        cat,
        "§5.4, §10.4",
        "a 1 MiB binary message in 16 fragments of 64 KiB",
        send(
            binary(pattern(1 << 16), fin=False),
            *(cont(pattern(1 << 16), fin=False) for _ in range(14)),
            cont(pattern(1 << 16)),
        ),
        echo(b(pattern(1 << 16) * 16), limit_codes=(1009,)),
        timeout=3.0,
        solo=True,
        note=note,
    )


VALID_CLOSE_CODES = (
    1000,
    1001,
    1002,
    1003,
    1007,
    1008,
    1009,
    1010,
    1011,
    1012,
    1013,
    1014,
    3000,
    3999,
    4000,
    4999,
)
INVALID_CLOSE_CODES = (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999)


def _answer(code: int | None, *before: Event) -> Expect:
    return Expect(before, End.ANSWER, (code,))


def _closing(add: _Builder) -> None:
    cat = "closing"
    for i, code in enumerate(VALID_CLOSE_CODES, 1):
        note = (
            "1012-1014 are registered at IANA after RFC 6455 (service restart, try again "
            "later, bad gateway): valid."
            if 1012 <= code <= 1014
            else ""
        )
        add.add(
            f"8.1.{i}",
            cat,
            "§7.4",
            f"a close frame with the valid code {code}",
            send(close(code, "bye")),
            _answer(code),
            note=note,
        )
    for i, code in enumerate(INVALID_CLOSE_CODES, 1):
        add.add(
            f"8.2.{i}",
            cat,
            "§7.4",
            f"a close frame with the invalid code {code}",
            send(close(code, "bye")),
            fail(1002),
            note="§7.4: 0-999 are not used, 1004-1006 and 1015 MUST NOT be sent, 1016-2999 "
            "are reserved: a close frame carrying one is a protocol error.",
        )
    for i, code in enumerate((5000, 65535), 1):
        add.add(
            f"8.3.{i}",
            cat,
            "§7.4.2",
            f"a close frame with the code {code}, above 4999",
            send(close(code)),
            Expect(end=End.EITHER),
            note="RFC 6455 defines codes up to 4999 only; what to do with higher ones is "
            "left open.",
        )
    add.add(
        "8.4.1", cat, "§5.5.1", "an empty close frame (no code)", send(close(None)), _answer(None)
    )
    add.add(
        "8.4.2",
        cat,
        "§5.5.1",
        "a close frame with a 1-byte payload",
        send(Frame(CLOSE, b"\x03")),
        fail(1002),
        note="§5.5.1: the body, if any, starts with a 2-byte code.",
    )
    add.add(
        "8.4.3",
        cat,
        "§5.5.1",
        "a close frame with code 1000 and reason 'bye'",
        send(close(1000, "bye")),
        _answer(1000),
    )
    add.add(
        "8.4.4",
        cat,
        "§5.5.1",
        "a close frame with a 123-byte reason (the maximum)",
        send(close(1000, letters(123))),
        _answer(1000),
    )
    add.add(
        "8.4.5",
        cat,
        "§5.5",
        "a close frame with a 124-byte reason (126 bytes: too big)",
        send(close(1000, letters(124))),
        fail(1002),
    )
    add.add(
        "8.4.6",
        cat,
        "§5.5.1, §8.1",
        "a close frame whose reason is invalid UTF-8",
        send(close(1000, b"\xce\xba\xe1\xbd\xb9\xed\xa0\x80")),
        fail(1007),
    )
    add.add(
        "8.4.7",
        cat,
        "§5.5.1",
        "a close frame with a multibyte UTF-8 reason",
        send(close(1000, "κόσμε 𝄞")),
        _answer(1000),
    )
    add.add(
        "8.4.8",
        cat,
        "§5.5.1, §8.1",
        "a close frame whose reason ends in a cut character",
        send(close(1000, b"bye \xe2\x82")),
        fail(1007),
    )
    add.add(
        "8.5.1",
        cat,
        "§1.4, §5.5.1",
        "a text after the close frame",
        send(close(1000), text("after close")),
        _answer(1000),
        note="§1.4: after a close frame, the peer 'discards any further data'.",
    )
    add.add(
        "8.5.2",
        cat,
        "§1.4, §5.5.2",
        "a ping after the close frame",
        send(close(1000), ping("after close")),
        _answer(1000),
    )
    add.add(
        "8.5.3",
        cat,
        "§5.5.1",
        "two close frames in a row",
        send(close(1000), close(1001)),
        _answer(1000),
    )
    add.add(
        "8.5.4",
        cat,
        "§5.5.1",
        "a text and a close frame in one write",
        send(text("last words"), close(1000)),
        Expect((t("last words"),), End.ANSWER, (1000,), also_ok=((),)),
        note="Echoing the text is fine; so is not echoing it, when the close frame was "
        "answered first (§5.5.1: no data frames after a close frame).",
    )
    add.add(
        "8.6.1",
        cat,
        "§5.4, §5.5.1",
        "a close frame in the middle of a fragmented text",
        send(text("unfinished", fin=False), close(1000)),
        _answer(1000),
        note="§5.4: control frames MAY be injected between fragments; the message is lost.",
    )
    add.add(
        "8.6.2",
        cat,
        "§5.4, §5.5.1",
        "a close between fragments, then the last fragment",
        send(text("unfinished ", fin=False), close(1000), cont("message")),
        _answer(1000),
    )
    add.add(
        "8.7.1",
        cat,
        "§5.5.1",
        "a close frame, one byte per write",
        send(close(1000, "slowly"), chunk=1),
        _answer(1000),
    )
    add.add(
        "8.7.2",
        cat,
        "§5.5.1",
        "a close frame with code 3000 after 50 ms of silence",
        [Pause(0.05), send(close(3000))],
        _answer(3000),
    )


def _all() -> list[Case]:
    builder = _Builder()
    for part in (
        _framing,
        _ping_pong,
        _reserved_bits,
        _reserved_opcodes,
        _fragmentation,
        _utf8,
        _limits,
        _closing,
    ):
        part(builder)
    return builder.cases


#: Every case, in report order.
CASES: list[Case] = _all()


# --- permessage-deflate (RFC 7692): run only when asked for ---------------------------------------

#: The categories of extensions, run only when named (``categories=["compression"]``) or by
#: id (``cases=["12", "13"]``): a server without compression would fail every one of them.
EXTENSION_CATEGORIES: dict[str, str] = {"compression": "RFC 7692 §6, §7"}


def deflated(data: bytes) -> bytes:
    """``data`` as a permessage-deflate payload (RFC 7692 §7.2.1), compressed afresh with a
    512-byte window: valid whatever the negotiation (a sender may always use a smaller window,
    and start each message afresh), except a window of 256 bytes, which zlib cannot write."""
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, -9)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def compressed(opcode: Opcode, data: bytes, fragment: int | None = None) -> list[Frame]:
    """One compressed message as frames: the compressed payload cut in pieces of ``fragment``
    bytes, RSV1 on the first frame only (RFC 7692 §6.1)."""
    payload = deflated(data)
    size = fragment or max(1, len(payload))
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
    return [
        Frame(opcode if i == 0 else CONT, piece, i == len(pieces) - 1, RSV1 if i == 0 else 0)
        for i, piece in enumerate(pieces)
    ]


def _json_chat(n: int) -> bytes:
    line = b'{"type": "message", "room": "general", "user": "ada", "text": "hello, hello"}'
    return (line * (n // len(line) + 1))[:n]


#: 13.*: the offer/answer combinations (RFC 7692 §7.1), each played with the same messages.
DEFLATE_SETTINGS: list[tuple[str, DeflateConfig]] = [
    ("the defaults (12-bit windows)", DeflateConfig()),
    ("zlib's full windows (15 bits)", DeflateConfig(15, 15)),
    ("9-bit windows both ways", DeflateConfig(9, 9)),
    ("server_no_context_takeover", DeflateConfig(15, 15, server_no_context_takeover=True)),
    ("client_no_context_takeover", DeflateConfig(15, 15, client_no_context_takeover=True)),
    (
        "no context takeover both ways, 10-bit windows",
        DeflateConfig(10, 10, server_no_context_takeover=True, client_no_context_takeover=True),
    ),
    ("server 9 bits, client 15 bits", DeflateConfig(9, 15)),
    ("server 15 bits, client 9 bits", DeflateConfig(15, 9)),
]


def _compression(add: _Builder) -> None:
    cat, rfc = "compression", "RFC 7692 §7.2"
    default = DeflateConfig()
    # 12.1-12.3: messages of many sizes, whole, fragmented, and as text, binary, JSON
    sizes = (0, 16, 64, 256, 1024, 4096, 16384, 65536, 131072)
    kinds: tuple[tuple[str, Opcode, Callable[[int], bytes], Callable[[bytes], Event]], ...] = (
        ("text", TEXT, letters, t),
        ("binary", BINARY, pattern, b),
        ("JSON text", TEXT, _json_chat, t),
    )
    for k, (kind, opcode, make, event) in enumerate(kinds, start=1):
        for i, size in enumerate(sizes, start=1):
            data = make(size)
            add.add(
                f"12.{k}.{i}",
                cat,
                rfc,
                f"a compressed {kind} message of {size} bytes, twice",
                [send(*compressed(opcode, data)), send(*compressed(opcode, data))],
                echo(event(data), event(data)),
                deflate=default,
                solo=size >= 65536,
            )
    # 12.4: compressed messages in fragments of 1, 7, 64 and 1000 bytes of compressed payload
    data = _json_chat(20000)
    for i, fragment in enumerate((1, 7, 64, 1000), start=1):
        add.add(
            f"12.4.{i}",
            cat,
            rfc,
            f"20,000 bytes of JSON, compressed, in fragments of {fragment} bytes (RSV1 on the "
            "first only)",
            send(*compressed(TEXT, data, fragment)),
            echo(t(data)),
            deflate=default,
            timeout=5.0,
        )
    # 12.5: uncompressed messages (RSV1 clear) mixed with compressed ones, and a ping between
    # the fragments of a compressed message
    add.add(
        "12.5.1",
        cat,
        "RFC 7692 §6",
        "an uncompressed message (RSV1 clear) between two compressed ones",
        send(*compressed(TEXT, b"one"), text("two"), *compressed(TEXT, b"three")),
        echo(t("one"), t("two"), t("three")),
        deflate=default,
    )
    frames = compressed(BINARY, pattern(3000), 100)
    add.add(
        "12.5.2",
        cat,
        "RFC 7692 §6.1",
        "a ping between the fragments of a compressed message",
        send(*frames[:2], ping(b"between"), *frames[2:]),
        echo(p(b"between"), b(pattern(3000))),
        deflate=default,
    )
    # 12.6: what RFC 7692 forbids: RSV1 on a continuation or a control frame, broken DEFLATE
    first, *rest = compressed(TEXT, letters(3000), 10)
    add.add(
        "12.6.1",
        cat,
        "RFC 7692 §6.1",
        "RSV1 set on a continuation frame of a compressed message",
        send(first, Frame(CONT, rest[0].payload, False, RSV1), *rest[1:]),
        fail(1002),
        deflate=default,
    )
    add.add(
        "12.6.2",
        cat,
        "RFC 7692 §6.1",
        "RSV1 set on a ping",
        send(Frame(PING, b"x", True, RSV1)),
        fail(1002),
        deflate=default,
    )
    add.add(
        "12.6.3",
        cat,
        "RFC 7692 §7.2.2",
        "RSV1 set on data that is not DEFLATE",
        send(Frame(BINARY, b"\xff\xff\xff\xff", True, RSV1)),
        fail(1002, 1007),
        deflate=default,
    )
    # 13.*: every offer/answer combination, with messages that use the window and the takeover
    messages = [
        (TEXT, _json_chat(200), t),
        (TEXT, _json_chat(200), t),  # the same again: with context takeover, a few bytes
        (TEXT, letters(5000), t),
        (BINARY, pattern(1000), b),
    ]
    for k, (name, config) in enumerate(DEFLATE_SETTINGS, start=1):
        fragments: tuple[int | None, ...] = (None, 64)
        for i, cut in enumerate(fragments, start=1):
            how = "whole" if cut is None else f"in fragments of {cut} bytes"
            add.add(
                f"13.{k}.{i}",
                cat,
                "RFC 7692 §7.1",
                f"{name}: four compressed messages, {how}",
                send(*(f for op, m, _ in messages for f in compressed(op, m, cut))),
                echo(*(event(m) for _, m, event in messages)),
                deflate=config,
            )


def _extension_cases() -> list[Case]:
    builder = _Builder()
    _compression(builder)
    return builder.cases


#: The permessage-deflate cases (12.*, 13.*), run only when asked for.
EXTENSION_CASES: list[Case] = _extension_cases()


def select(
    cases: Iterable[str] | None = None, categories: Iterable[str] | None = None
) -> list[Case]:
    """The cases whose id matches one of ``cases`` (an id like ``2.3.1`` or a prefix like
    ``2.3`` or ``2``) and whose category is in ``categories``; ``None`` means all of
    :data:`CASES`. The permessage-deflate cases (:data:`EXTENSION_CASES`, 12.* and 13.*) come
    only when named, by category (``"compression"``) or by id."""
    wanted = None if cases is None else list(cases)
    cats = None if categories is None else set(categories)
    known = [*CATEGORIES, *EXTENSION_CATEGORIES]
    unknown = (cats or set()) - set(known)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}: choose from {known}")
    # The extension cases only when named: by their category, or by id
    extensions = [
        case
        for case in EXTENSION_CASES
        if (cats is not None and case.category in cats)
        or (wanted is not None and any(case.id.startswith(w.rstrip(".*")) for w in wanted))
    ]
    chosen = []
    for case in [*CASES, *extensions]:
        if cats is not None and case.category not in cats:
            continue
        if wanted is not None and not any(
            case.id == w or case.id.startswith(w.rstrip(".*") + ".") for w in wanted
        ):
            continue
        chosen.append(case)
    return chosen
