from __future__ import annotations

from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslib import StreamReader

from .conftest import run_parser

T = TypeVar("T")


def test_read_exact_waits_for_enough_bytes() -> None:
    reader = StreamReader()
    gen = reader.read_exact(5)
    next(gen)  # nothing buffered: it pauses
    reader.feed_data(b"Hel")
    next(gen)  # still not enough
    reader.feed_data(b"lo, world")
    with pytest.raises(StopIteration) as done:
        next(gen)
    assert done.value.value == b"Hello"
    assert bytes(reader.buffer) == b", world"


def test_read_exact_shows_progress_while_waiting() -> None:
    reader = StreamReader()
    pieces: list[bytes] = []
    gen = reader.read_exact(6, pieces.append)
    next(gen)
    assert pieces == []  # nothing arrived yet
    reader.feed_data(b"We")
    next(gen)
    reader.feed_data(b"bS")
    next(gen)
    assert pieces == [b"We", b"bS"]  # each piece once, as it arrived
    reader.feed_data(b"ocket and more")
    with pytest.raises(StopIteration) as done:
        next(gen)
    assert done.value.value == b"WebSoc"
    assert pieces == [b"We", b"bS"]  # the piece that completes the read is not shown


def test_read_exact_progress_can_stop_the_read() -> None:
    reader = StreamReader()

    def refuse(piece: bytes) -> None:
        raise ValueError(piece)

    gen = reader.read_exact(1000, refuse)
    next(gen)
    reader.feed_data(b"bad")
    with pytest.raises(ValueError, match="bad"):
        next(gen)


def test_read_line_includes_the_terminator() -> None:
    reader = StreamReader()
    reader.feed_data(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert run_parser(reader.read_line(100)) == b"GET / HTTP/1.1\r\n"
    assert run_parser(reader.read_line(100)) == b"Host: x\r\n"


def test_read_line_limit_is_enforced_before_the_line_ends() -> None:
    reader = StreamReader()
    gen = reader.read_line(8)
    next(gen)
    reader.feed_data(b"0123456789")  # no newline yet, already over the limit
    with pytest.raises(RuntimeError, match="longer than 8"):
        next(gen)


def test_read_line_limit_counts_the_terminator() -> None:
    reader = StreamReader()
    reader.feed_data(b"12345678\r\n")
    with pytest.raises(RuntimeError):
        run_parser(reader.read_line(8))


def test_eof_before_enough_bytes() -> None:
    reader = StreamReader()
    reader.feed_data(b"ab")
    reader.feed_eof()
    with pytest.raises(EOFError):
        run_parser(reader.read_exact(3))
    with pytest.raises(EOFError):
        run_parser(reader.read_line(10))


def test_feed_after_eof_is_an_error() -> None:
    reader = StreamReader()
    reader.feed_eof()
    with pytest.raises(EOFError):
        reader.feed_data(b"x")


def test_at_eof() -> None:
    reader = StreamReader()
    gen = reader.at_eof()
    next(gen)
    reader.feed_data(b"x")
    with pytest.raises(StopIteration) as done:
        next(gen)
    assert done.value.value is False
    reader.discard()
    reader.feed_eof()
    assert run_parser(reader.at_eof()) is True


def test_negative_read_is_refused() -> None:
    with pytest.raises(ValueError):
        run_parser(StreamReader().read_exact(-1))


@given(st.binary(max_size=200), st.lists(st.integers(1, 50), max_size=30))
def test_any_chunking_gives_the_same_bytes(data: bytes, cuts: list[int]) -> None:
    reader = StreamReader()
    gen = reader.read_exact(len(data))
    pos = 0
    result = None
    chunks = []
    for cut in cuts:
        chunks.append(data[pos : pos + cut])
        pos += cut
    chunks.append(data[pos:])
    try:
        next(gen)
        for chunk in chunks:
            reader.feed_data(chunk)
            next(gen)
    except StopIteration as done:
        result = done.value
    assert result == data


def test_read_exact_owned_hands_over_the_buffer_or_copies() -> None:
    reader = StreamReader()
    reader.feed_data(b"abcdef")
    first = run_parser(reader.read_exact_owned(2))  # more follows: a copy
    assert first == bytearray(b"ab")
    first[0] = ord("X")  # the caller's to change: the reader's bytes stay as they were
    assert reader.buffer == bytearray(b"cdef")
    buffer = reader.buffer
    rest = run_parser(reader.read_exact_owned(4))  # exactly what is buffered: handed over
    assert rest is buffer
    assert reader.buffer == bytearray() and reader.buffer is not buffer
    reader.feed_data(b"gh")
    assert run_parser(reader.read_exact(2)) == b"gh"
    assert rest == bytearray(b"cdef")


def test_read_exact_owned_waits_and_sees_progress() -> None:
    reader = StreamReader()
    pieces: list[bytes] = []
    parser = reader.read_exact_owned(5, pieces.append)
    reader.feed_data(b"ab")
    next(parser)
    reader.feed_data(b"cdeXY")
    with pytest.raises(StopIteration) as done:
        next(parser)
    assert done.value.value == bytearray(b"abcde")
    assert pieces == [b"ab"]
    assert reader.buffer == bytearray(b"XY")
    reader.feed_eof()
    with pytest.raises(EOFError):
        run_parser(reader.read_exact_owned(3))
