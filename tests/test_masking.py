"""Masking (RFC 6455 §5.3): wslib.apply_mask against the per-byte definition."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslib import apply_mask, masking
from wslib.masking import NUMPY_FROM, SMALL, apply_mask_in_place


def reference(data: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3, word for word: octet i is XORed with octet i MOD 4 of the key."""
    return bytes(octet ^ key[i % 4] for i, octet in enumerate(data))


KEY = bytes.fromhex("37fa213d")


def test_rfc_example() -> None:
    # RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d
    assert apply_mask(b"Hello", KEY) == bytes.fromhex("7f9f4d5158")


@pytest.mark.parametrize("length", range(71))
def test_every_small_length(length: int) -> None:
    data = random.Random(length).randbytes(length)
    assert apply_mask(data, KEY) == reference(data, KEY)


@pytest.mark.parametrize(
    "length",
    [
        *range(NUMPY_FROM - 9, NUMPY_FROM + 10),
        *[SMALL - 5, SMALL - 1, SMALL, SMALL + 1, SMALL + 3, 4096, 65535, 65536, 65537],
    ],
)
def test_lengths_around_the_switches_between_the_tricks(length: int) -> None:
    data = random.Random(length).randbytes(length)
    assert apply_mask(data, KEY) == reference(data, KEY)


@pytest.mark.parametrize("offset", range(8))
@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 63, 64, 65, SMALL + 7])
def test_alignment_of_memoryview_and_bytearray_slices(offset: int, length: int) -> None:
    backing = random.Random(offset * 1000 + length).randbytes(offset + length + 8)
    expected = reference(backing[offset : offset + length], KEY)
    assert apply_mask(memoryview(backing)[offset : offset + length], KEY) == expected
    assert apply_mask(bytearray(backing)[offset : offset + length], KEY) == expected
    # the key itself may come from a slice too (as it does in a parser)
    key_backing = b"\x00" * offset + KEY
    assert apply_mask(backing[offset : offset + length], memoryview(key_backing)[offset:]) == (
        expected
    )


def test_non_contiguous_and_multibyte_memoryviews() -> None:
    backing = bytes(range(200))
    strided = memoryview(backing)[::3]
    assert apply_mask(strided, KEY) == reference(bytes(strided), KEY)
    words = memoryview(backing[:64]).cast("I")  # 16 items of 4 bytes: masks the 64 bytes
    assert apply_mask(words, KEY) == reference(backing[:64], KEY)


def test_result_is_bytes() -> None:
    assert type(apply_mask(bytearray(b"abc"), KEY)) is bytes
    assert type(apply_mask(b"a" * (SMALL * 2), KEY)) is bytes


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde"])
def test_key_must_be_four_bytes(key: bytes) -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        apply_mask(b"data", key)


@given(st.binary(max_size=3 * SMALL), st.binary(min_size=4, max_size=4))
def test_matches_the_definition(data: bytes, key: bytes) -> None:
    assert apply_mask(data, key) == reference(data, key)


@given(st.binary(max_size=3 * SMALL), st.binary(min_size=4, max_size=4))
def test_masking_twice_is_the_identity(data: bytes, key: bytes) -> None:
    # XOR is its own inverse: the same function masks (client) and unmasks (server)
    assert apply_mask(apply_mask(data, key), key) == data


@given(st.binary(max_size=3 * SMALL), st.binary(min_size=4, max_size=4))
def test_agrees_with_websockets(data: bytes, key: bytes) -> None:
    from websockets.speedups import apply_mask as websockets_c
    from websockets.utils import apply_mask as websockets_python

    assert apply_mask(data, key) == websockets_python(data, key) == websockets_c(data, key)


# --- without numpy: the pure-Python tricks alone -------------------------------------------------


@pytest.fixture
def no_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """wslib.masking as it runs where numpy does not import."""
    monkeypatch.setattr(masking, "numpy", None)


@pytest.mark.usefixtures("no_numpy")
@pytest.mark.parametrize("length", [0, 1, 5, 64, NUMPY_FROM, SMALL - 1, SMALL, SMALL + 3, 65537])
def test_the_pure_python_tricks_alone(length: int) -> None:
    data = random.Random(length).randbytes(length)
    assert apply_mask(data, KEY) == reference(data, KEY)
    buffer = bytearray(data)
    apply_mask_in_place(buffer, KEY)
    assert buffer == reference(data, KEY)


def test_numpy_is_there() -> None:
    # wslib declares numpy as a dependency: the fast path is the one that runs
    assert masking.numpy is not None


# --- in place ------------------------------------------------------------------------------------

#: numpy's threshold in the tests below: numpy's path on small buffers too, at every length.
LOW = 16


@contextmanager
def numpy_from(threshold: int) -> Iterator[None]:
    """Move wslib.masking's switch to numpy (hypothesis does not mix with monkeypatch)."""
    saved = masking.NUMPY_FROM
    masking.NUMPY_FROM = threshold
    try:
        yield
    finally:
        masking.NUMPY_FROM = saved


@pytest.fixture
def numpy_early() -> Iterator[None]:
    with numpy_from(LOW):
        yield


@pytest.mark.usefixtures("numpy_early")
@pytest.mark.parametrize("length", range(300))
def test_in_place_every_length(length: int) -> None:
    data = random.Random(length).randbytes(length)
    buffer = bytearray(data)
    apply_mask_in_place(buffer, KEY)
    assert buffer == reference(data, KEY)
    assert apply_mask(data, KEY) == reference(data, KEY)


@pytest.mark.parametrize("length", [NUMPY_FROM - 1, NUMPY_FROM, NUMPY_FROM + 1, NUMPY_FROM + 7])
def test_in_place_around_the_real_threshold(length: int) -> None:
    data = random.Random(length).randbytes(length)
    buffer = bytearray(data)
    apply_mask_in_place(memoryview(buffer)[3:], KEY)
    assert buffer == data[:3] + reference(data[3:], KEY)


@pytest.mark.usefixtures("numpy_early")
@pytest.mark.parametrize("length", [*range(LOW - 2, LOW + 17), 4099, 65536 + 5])
@pytest.mark.parametrize("offset", range(16))
def test_in_place_every_alignment(length: int, offset: int) -> None:
    # A payload at any offset of a larger buffer (after a frame header of 2 to 14 bytes): the
    # words numpy XORs start at 8-byte boundaries, the bytes around them are done apart, and
    # nothing outside the slice changes.
    rng = random.Random(length * 100 + offset)
    before, data, after = rng.randbytes(offset), rng.randbytes(length), rng.randbytes(11)
    buffer = bytearray(before + data + after)
    apply_mask_in_place(memoryview(buffer)[offset : offset + length], KEY)
    assert buffer == before + reference(data, KEY) + after


@given(
    st.binary(max_size=4000),
    st.binary(min_size=4, max_size=4),
    st.integers(min_value=0, max_value=15),
    st.sampled_from([LOW, 1024, NUMPY_FROM]),
)
def test_in_place_matches_the_definition(
    data: bytes, key: bytes, offset: int, threshold: int
) -> None:
    buffer = bytearray(bytes(offset) + data)
    with numpy_from(threshold):
        apply_mask_in_place(memoryview(buffer)[offset:], bytearray(key))
    assert buffer == bytes(offset) + reference(data, key)


def test_in_place_twice_is_the_identity() -> None:
    data = random.Random(1).randbytes(70000)
    buffer = bytearray(data)
    apply_mask_in_place(buffer, KEY)
    assert buffer != data
    apply_mask_in_place(buffer, KEY)
    assert buffer == data


@pytest.mark.parametrize("length", [10, NUMPY_FROM])
def test_in_place_refuses_bytes_and_bad_keys(length: int) -> None:
    with pytest.raises(TypeError, match="writable"):
        apply_mask_in_place(b"x" * length, KEY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="4 bytes"):
        apply_mask_in_place(bytearray(length), b"abc")


@given(st.binary(min_size=LOW, max_size=3000), st.binary(min_size=4, max_size=4))
def test_numpy_agrees_with_websockets(data: bytes, key: bytes) -> None:
    from websockets.speedups import apply_mask as websockets_c

    buffer = bytearray(data)
    with numpy_from(LOW):
        apply_mask_in_place(buffer, key)
        assert buffer == apply_mask(data, key) == websockets_c(data, key)
