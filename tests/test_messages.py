"""Messages (RFC 6455 §5.4, §5.6): fragmentation, reassembly, incremental UTF-8 checks."""

from __future__ import annotations

import itertools
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslib import (
    Frame,
    InvalidPayloadData,
    InvalidState,
    MessageAssembler,
    Opcode,
    PayloadTooBig,
    ProtocolError,
    StreamReader,
)
from wslib.messages import MAX_FRAGMENTS, fragment


def feed_all(assembler: MessageAssembler, frames: list[Frame]) -> list[str | bytes]:
    messages = []
    for frame in frames:
        message = assembler.feed(frame)
        if message is not None:
            messages.append(message)
    return messages


def test_single_frame_messages() -> None:
    assembler = MessageAssembler()
    assert assembler.feed(Frame(Opcode.TEXT, b"Hello")) == "Hello"
    assert assembler.feed(Frame(Opcode.BINARY, b"\x00\xff")) == b"\x00\xff"
    assert assembler.feed(Frame(Opcode.TEXT, b"")) == ""
    assert assembler.feed(Frame(Opcode.BINARY, b"")) == b""


def test_rfc_fragmented_hello() -> None:
    # RFC 6455 §5.7: "Hel" (01 03 48 65 6c) then "lo" (80 02 6c 6f)
    reader = StreamReader()
    reader.feed_data(bytes.fromhex("010348656c80026c6f"))
    assembler = MessageAssembler()
    results = []
    for _ in range(2):
        parser = Frame.parse(reader.read_exact, mask=False)
        with pytest.raises(StopIteration) as done:
            next(parser)
        results.append(assembler.feed(done.value.value))
    assert results == [None, "Hello"]
    assert type(results[1]) is str


def test_control_frames_between_fragments_are_the_callers_job() -> None:
    frames = [
        Frame(Opcode.BINARY, b"one ", fin=False),
        Frame(Opcode.PING, b"are you there?"),
        Frame(Opcode.CONT, b"two ", fin=False),
        Frame(Opcode.PONG, b""),
        Frame(Opcode.CONT, b"three"),
    ]
    assembler = MessageAssembler()
    messages, pings = [], []
    for frame in frames:
        if frame.opcode.is_control:  # what a connection does: answer it, do not assemble it
            pings.append(frame)
            continue
        message = assembler.feed(frame)
        if message is not None:
            messages.append(message)
    assert messages == [b"one two three"]
    assert [f.opcode for f in pings] == [Opcode.PING, Opcode.PONG]


@pytest.mark.parametrize("opcode", [Opcode.CLOSE, Opcode.PING, Opcode.PONG])
def test_feeding_a_control_frame_is_a_programming_error(opcode: Opcode) -> None:
    assembler = MessageAssembler()
    assembler.feed(Frame(Opcode.TEXT, b"Hel", fin=False))
    with pytest.raises(InvalidState, match="control frame"):
        assembler.feed(Frame(opcode, b""))
    # the message in progress is untouched
    assert assembler.feed(Frame(Opcode.CONT, b"lo")) == "Hello"


def test_continuation_without_a_start() -> None:
    with pytest.raises(ProtocolError, match="no message to continue") as exc:
        MessageAssembler().feed(Frame(Opcode.CONT, b"lo"))
    assert exc.type is ProtocolError and exc.value.close_code == 1002


def test_continuation_after_a_finished_message() -> None:
    assembler = MessageAssembler()
    assert assembler.feed(Frame(Opcode.TEXT, b"done")) == "done"
    with pytest.raises(ProtocolError, match="no message to continue"):
        assembler.feed(Frame(Opcode.CONT, b"more"))


@pytest.mark.parametrize("second", [Opcode.TEXT, Opcode.BINARY])
@pytest.mark.parametrize("first", [Opcode.TEXT, Opcode.BINARY])
def test_new_message_before_the_previous_one_finished(first: Opcode, second: Opcode) -> None:
    assembler = MessageAssembler()
    assert assembler.feed(Frame(first, b"abc", fin=False)) is None
    assert assembler.in_progress
    with pytest.raises(ProtocolError, match="unfinished") as exc:
        assembler.feed(Frame(second, b"def"))
    assert exc.type is ProtocolError


def test_code_point_split_across_fragments_is_fine() -> None:
    euro = "€".encode()  # e2 82 ac
    assembler = MessageAssembler()
    assert assembler.feed(Frame(Opcode.TEXT, b"price: " + euro[:1], fin=False)) is None
    assert assembler.feed(Frame(Opcode.CONT, euro[1:2], fin=False)) is None
    assert assembler.feed(Frame(Opcode.CONT, euro[2:] + b"5")) == "price: €5"


@pytest.mark.parametrize(
    "bad",
    [
        b"\xff",  # never valid in UTF-8
        b"\xc0\xaf",  # overlong encoding of "/"
        b"\xed\xa0\x80",  # a UTF-16 surrogate
        b"\xf4\x90\x80\x80",  # above U+10FFFF
        b"\xe2\x28",  # a lead byte followed by a non-continuation
        b"\x80",  # a continuation byte with no lead byte
    ],
)
def test_invalid_utf8_fails_on_the_fragment_where_it_appears(bad: bytes) -> None:
    assembler = MessageAssembler()
    assert assembler.feed(Frame(Opcode.TEXT, b"fine so far ", fin=False)) is None
    with pytest.raises(InvalidPayloadData, match="not valid UTF-8") as exc:
        # not the last fragment: the error must not wait for FIN
        assembler.feed(Frame(Opcode.CONT, b"x" + bad + b"more", fin=False))
    assert exc.value.close_code == 1007


@pytest.mark.parametrize("prefix", [b"\xed\xa0", b"\xf4\x90", b"\xc0", b"\xe0\x80"])
def test_invalid_prefix_fails_before_the_sequence_is_complete(prefix: bytes) -> None:
    # These starts can never become valid UTF-8: fail now, do not wait for the next fragment.
    with pytest.raises(InvalidPayloadData):
        MessageAssembler().feed(Frame(Opcode.TEXT, b"a" + prefix, fin=False))


def test_incomplete_code_point_at_the_end_fails() -> None:
    assembler = MessageAssembler()
    assert assembler.feed(Frame(Opcode.TEXT, b"caf\xc3", fin=False)) is None  # may continue
    with pytest.raises(InvalidPayloadData):
        assembler.feed(Frame(Opcode.CONT, b""))  # ... but the message ends there
    with pytest.raises(InvalidPayloadData):
        MessageAssembler().feed(Frame(Opcode.TEXT, b"caf\xc3"))


def test_binary_is_not_checked_for_utf8() -> None:
    assert MessageAssembler().feed(Frame(Opcode.BINARY, b"\xff\xfe")) == b"\xff\xfe"


def test_max_size_fails_as_soon_as_it_is_exceeded() -> None:
    assembler = MessageAssembler(max_size=10)
    assert assembler.feed(Frame(Opcode.BINARY, b"12345", fin=False)) is None
    assert assembler.feed(Frame(Opcode.CONT, b"67890", fin=False)) is None  # exactly 10: fine
    with pytest.raises(PayloadTooBig, match="11 bytes") as exc:
        assembler.feed(Frame(Opcode.CONT, b"!", fin=False))  # not the last fragment
    assert exc.value.close_code == 1009
    # the limit is per message: after a reset, a new message may use it all
    assert not assembler.in_progress
    assert assembler.feed(Frame(Opcode.TEXT, b"0123456789")) == "0123456789"


def test_max_size_counts_text_in_bytes() -> None:
    with pytest.raises(PayloadTooBig):
        MessageAssembler(max_size=3).feed(Frame(Opcode.TEXT, "éé".encode()))  # 2 chars, 4 bytes


def test_no_limit() -> None:
    assert MessageAssembler(max_size=None).feed(Frame(Opcode.BINARY, bytes(2**21))) == bytes(2**21)


# --- what a message in progress may cost: bytes, and frames (RFC 6455 §10.4) ----------------------


def test_max_fragments_counts_the_frames_of_one_message() -> None:
    assembler = MessageAssembler(max_fragments=3)
    assert assembler.feed(Frame(Opcode.BINARY, b"a", fin=False)) is None
    assert assembler.feed(Frame(Opcode.CONT, b"", fin=False)) is None
    assert assembler.feed(Frame(Opcode.CONT, b"b")) == b"ab"  # exactly 3 frames: fine
    assert assembler.feed(Frame(Opcode.TEXT, b"x", fin=False)) is None
    assert assembler.feed(Frame(Opcode.CONT, b"", fin=False)) is None
    assert assembler.feed(Frame(Opcode.CONT, b"", fin=False)) is None
    with pytest.raises(PayloadTooBig, match="4 frames") as exc:
        assembler.feed(Frame(Opcode.CONT, b"", fin=True))  # even the last one
    assert exc.value.close_code == 1009
    assert not assembler.in_progress  # the broken message is forgotten


def test_max_fragments_has_a_documented_default() -> None:
    assert MessageAssembler().max_fragments == MAX_FRAGMENTS
    assert 1000 <= MAX_FRAGMENTS <= 100_000
    assembler = MessageAssembler()
    frames = [Frame(Opcode.BINARY, b"", fin=False)]
    frames += [Frame(Opcode.CONT, b"", fin=False)] * (MAX_FRAGMENTS - 2) + [Frame(Opcode.CONT, b"")]
    assert feed_all(assembler, frames) == [b""]
    assembler.feed(Frame(Opcode.BINARY, b"", fin=False))
    with pytest.raises(PayloadTooBig):
        for _ in range(MAX_FRAGMENTS):
            assembler.feed(Frame(Opcode.CONT, b"", fin=False))


def test_max_fragments_none_means_no_count_limit() -> None:
    assembler = MessageAssembler(max_fragments=None)
    assembler.feed(Frame(Opcode.BINARY, b"", fin=False))
    for _ in range(3 * MAX_FRAGMENTS):
        assembler.feed(Frame(Opcode.CONT, b"", fin=False))
    assert assembler.feed(Frame(Opcode.CONT, b"end")) == b"end"


@pytest.mark.parametrize("opcode", [Opcode.BINARY, Opcode.TEXT])
def test_fragments_cost_no_bookkeeping(opcode: Opcode) -> None:
    # Without a count limit, 200,000 fragments (empty, and of one byte) must not grow memory by
    # more than their payload: no list entry per fragment.
    assembler = MessageAssembler(max_fragments=None)
    assembler.feed(Frame(opcode, b"", fin=False))
    empty = Frame(Opcode.CONT, b"", fin=False)
    one = Frame(Opcode.CONT, b"a", fin=False)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100_000):
            assembler.feed(empty)
            assembler.feed(one)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 100,000 bytes of payload (and a bytearray's spare room); a list of 200,000 entries alone
    # would take 1.6 MB
    assert grown < 400_000, grown
    assert assembler.feed(Frame(Opcode.CONT, b"")) == (
        "a" * 100_000 if opcode is Opcode.TEXT else b"a" * 100_000
    )


# --- checking a text frame's payload as it arrives ---------------------------------------------


def test_payload_checker_only_for_text() -> None:
    assembler = MessageAssembler()
    assert assembler.payload_checker(Opcode.BINARY) is None
    assert assembler.payload_checker(Opcode.CONT) is None  # no message in progress
    assert assembler.payload_checker(Opcode.TEXT) is not None
    assembler.feed(Frame(Opcode.BINARY, b"", fin=False))
    assert assembler.payload_checker(Opcode.CONT) is None  # continues a binary message
    assembler.feed(Frame(Opcode.CONT, b""))
    assembler.feed(Frame(Opcode.TEXT, b"", fin=False))
    assert assembler.payload_checker(Opcode.CONT) is not None  # continues a text message


def test_payload_checker_fails_at_the_first_invalid_byte() -> None:
    check = MessageAssembler().payload_checker(Opcode.TEXT)
    assert check is not None
    check(b"caf")
    check(b"\xc3")  # an unfinished character: wait for the next piece
    check(b"\xa9!")
    with pytest.raises(InvalidPayloadData) as exc:
        check(b"\xff")
    assert exc.value.close_code == 1007
    surrogate = MessageAssembler().payload_checker(Opcode.TEXT)
    assert surrogate is not None
    with pytest.raises(InvalidPayloadData, match="surrogate"):
        surrogate(b"\xed\xa0")


def test_payload_checker_of_a_continuation_knows_the_character_left_open() -> None:
    assembler = MessageAssembler()
    assembler.feed(Frame(Opcode.TEXT, "x€".encode()[:2], fin=False))  # "x" + E2, 2 bytes missing
    check = assembler.payload_checker(Opcode.CONT)
    assert check is not None
    check(b"\x82")  # the second byte of the euro sign: fine
    bad = assembler.payload_checker(Opcode.CONT)
    assert bad is not None
    with pytest.raises(InvalidPayloadData):
        bad(b"A")  # E2 cannot be followed by an ASCII letter
    # the checker only looks: the assembler itself is unchanged
    assert assembler.feed(Frame(Opcode.CONT, "€".encode()[1:])) == "x€"


def test_fragment() -> None:
    assert fragment("Hello", 3) == [
        Frame(Opcode.TEXT, b"Hel", fin=False),
        Frame(Opcode.CONT, b"lo"),
    ]
    assert fragment(b"abc", 10) == [Frame(Opcode.BINARY, b"abc")]
    assert fragment("", 5) == [Frame(Opcode.TEXT, b"")]
    assert [f.payload for f in fragment("€", 1)] == [b"\xe2", b"\x82", b"\xac"]
    with pytest.raises(ValueError):
        fragment("x", 0)


@given(st.text(max_size=300) | st.binary(max_size=300), st.integers(1, 50))
def test_fragment_then_assemble_is_the_identity(message: str | bytes, size: int) -> None:
    frames = fragment(message, size)
    assert all(len(f.payload) <= size for f in frames)
    assert [f.fin for f in frames] == [False] * (len(frames) - 1) + [True]
    assembler = MessageAssembler()
    assert feed_all(assembler, frames) == [message]
    assert not assembler.in_progress


@given(
    st.lists(st.text(max_size=40) | st.binary(max_size=40), max_size=6),
    st.integers(1, 7),
    st.binary(min_size=4, max_size=4),
)
def test_messages_through_the_wire_and_back(
    messages: list[str | bytes], size: int, key: bytes
) -> None:
    # fragment, serialize as a client, parse as a server, assemble: the same messages
    wire = b"".join(
        f.serialize(mask=True, mask_key=key) for m in messages for f in fragment(m, size)
    )
    reader = StreamReader()
    reader.feed_data(wire)
    reader.feed_eof()
    assembler = MessageAssembler()
    received: list[str | bytes] = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=True)
        with pytest.raises(StopIteration) as done:
            next(parser)
        message = assembler.feed(done.value.value)
        if message is not None:
            received.append(message)
    assert received == messages


@given(st.binary(max_size=60), st.integers(1, 10))
def test_utf8_verdict_does_not_depend_on_where_fragments_are_cut(data: bytes, size: int) -> None:
    try:
        expected: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        expected = None
    frames = [
        Frame(f.opcode if f.opcode is Opcode.CONT else Opcode.TEXT, f.payload, fin=f.fin)
        for f in fragment(data, size)
    ]
    try:
        result = feed_all(MessageAssembler(), frames)
    except InvalidPayloadData:
        assert expected is None
    else:
        assert result == [expected]


CONTINUATIONS = [
    bytes(tail) for k in range(4) for tail in itertools.product([0x80, 0x90, 0xA0, 0xBF], repeat=k)
]


def can_still_become_utf8(prefix: bytes) -> bool:
    """Reference: some ending of 0-3 continuation bytes makes ``prefix`` valid UTF-8."""
    for tail in CONTINUATIONS:
        try:
            (prefix + tail).decode("utf-8")
        except UnicodeDecodeError:
            continue
        return True
    return False


@given(st.binary(max_size=12) | st.text(max_size=4).map(lambda t: t.encode()[:-1] + b"\xed\xa0"))
def test_fails_on_the_first_byte_that_cannot_be_utf8(data: bytes) -> None:
    # one byte per fragment: the error comes exactly with the first impossible byte
    assembler = MessageAssembler()
    first_bad = next(
        (i for i in range(len(data)) if not can_still_become_utf8(data[: i + 1])), None
    )
    for i in range(len(data)):
        frame = Frame(Opcode.TEXT if i == 0 else Opcode.CONT, data[i : i + 1], fin=False)
        if i == first_bad:
            with pytest.raises(InvalidPayloadData):
                assembler.feed(frame)
            return
        assert assembler.feed(frame) is None
    assert first_bad is None
