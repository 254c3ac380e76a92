"""Throughput of masking and of frame parse/serialize: wslib against websockets and wsproto.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_frames.py                 # full run (about 30 s)
    .venv/bin/python benchmarks/bench_frames.py --quick         # a few seconds, noisier
    .venv/bin/python benchmarks/bench_frames.py --json out.json # also save the measurements

It prints one table of MB/s per operation, implementation and payload size, then the same
measurements as ratios: wslib's speed divided by each peer's, operation by operation and size by
size (2.00× means wslib did twice the work per second; 0.50× half). Raw MB/s depend on the
machine; the ratios, measured in the same process a moment apart, travel better.

Notebook 02 loads this file with :mod:`importlib` (it is not a package) and calls
``run(quick=True)``, so the notebook and the script measure exactly the same code.
Speed is never asserted in the tests, and the script judges nothing: it prints what it measured.

What is measured, all in one process and one run:

- mask: XOR a payload with a 4-byte key. "per-byte loop" is the article's loop
  (``data[i] ^ key[i % 4]``), websockets has a pure-Python fallback (``websockets.utils``) and a
  C extension (``websockets.speedups``), wsproto uses ``bytes.translate`` on four strided slices
  (``wsproto.frame_protocol.XorMaskerSimple``).
- parse: a server decodes one masked binary frame, fed in one piece (header, key, unmasking).
  websockets is measured twice: as installed (its parser calls the C ``apply_mask``) and with the
  pure-Python ``apply_mask`` swapped in, which is what it runs where the C extension is missing.
- serialize: a client encodes one masked binary frame with a fresh random key.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import struct
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

KiB = 1024
MiB = 1024 * KiB
SIZES = [16, 125, 4 * KiB, 64 * KiB, 1 * MiB, 16 * MiB]
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # the masking key of RFC 6455 §5.7's examples

# The per-byte loop runs at a few MB/s: above this size it would take seconds per call.
PER_BYTE_LIMIT = {"quick": 64 * KiB, "full": 1 * MiB}

Result = dict[str, Any]


# --- the implementations -----------------------------------------------------------------------


def mask_per_byte(data: bytes, key: bytes) -> bytes:
    """The article's unmasking loop, in Python 3: one XOR per byte."""
    out = bytearray()
    for i in range(len(data)):
        out.append(data[i] ^ key[i % 4])
    return bytes(out)


def maskers() -> dict[str, Callable[[bytes, bytes], bytes]]:
    import websockets.speedups
    import websockets.utils
    from wsproto.frame_protocol import XorMaskerSimple

    import wslib

    def wsproto_mask(data: bytes, key: bytes) -> bytes:
        return bytes(XorMaskerSimple(key).process(bytearray(data)))

    return {
        "per-byte loop": mask_per_byte,
        "wslib": wslib.apply_mask,
        "websockets (pure Python)": websockets.utils.apply_mask,
        "websockets (C extension)": websockets.speedups.apply_mask,
        "wsproto": wsproto_mask,
    }


@contextlib.contextmanager
def websockets_pure_python() -> Iterator[None]:
    """Make websockets' frame code use its pure-Python apply_mask, as without the C extension."""
    import websockets.frames
    import websockets.utils

    saved = websockets.frames.apply_mask  # type: ignore[attr-defined]
    websockets.frames.apply_mask = websockets.utils.apply_mask  # type: ignore[attr-defined]
    try:
        yield
    finally:
        websockets.frames.apply_mask = saved  # type: ignore[attr-defined]


def parsers() -> dict[str, Callable[[bytes], bytes]]:
    """Each function decodes one complete masked frame (server side) and returns its payload."""
    import websockets.frames
    import websockets.streams
    from wsproto.frame_protocol import FrameProtocol

    import wslib
    from wslib.frames import Frame

    def parse_wslib(data: bytes) -> bytes:
        reader = wslib.StreamReader()
        reader.feed_data(data)
        parser = Frame.parse(reader.read_exact, mask=True)
        try:
            next(parser)
        except StopIteration as done:
            return bytes(done.value.payload)
        raise RuntimeError("incomplete frame")

    def parse_websockets(data: bytes) -> bytes:
        reader = websockets.streams.StreamReader()
        reader.feed_data(data)
        parser = websockets.frames.Frame.parse(reader.read_exact, mask=True)
        try:
            next(parser)
        except StopIteration as done:
            return bytes(done.value.data)
        raise RuntimeError("incomplete frame")

    def parse_websockets_pure(data: bytes) -> bytes:
        with websockets_pure_python():
            return parse_websockets(data)

    def parse_wsproto(data: bytes) -> bytes:
        protocol = FrameProtocol(client=False, extensions=[])
        protocol.receive_bytes(data)
        frame = next(protocol.received_frames())
        return bytes(frame.payload)  # type: ignore[arg-type]

    return {
        "wslib": parse_wslib,
        "websockets (pure Python)": parse_websockets_pure,
        "websockets (C extension)": parse_websockets,
        "wsproto": parse_wsproto,
    }


def serializers() -> dict[str, Callable[[bytes], bytes]]:
    """Each function encodes one masked binary frame (client side) with a fresh random key."""
    import websockets.frames
    from wsproto.frame_protocol import FrameProtocol

    from wslib.frames import Frame, Opcode

    def serialize_wslib(payload: bytes) -> bytes:
        return Frame(Opcode.BINARY, payload).serialize(mask=True)

    def serialize_websockets(payload: bytes) -> bytes:
        frame = websockets.frames.Frame(websockets.frames.Opcode.BINARY, payload)
        return frame.serialize(mask=True)

    def serialize_websockets_pure(payload: bytes) -> bytes:
        with websockets_pure_python():
            return serialize_websockets(payload)

    def serialize_wsproto(payload: bytes) -> bytes:
        return bytes(FrameProtocol(client=True, extensions=[]).send_data(payload))

    return {
        "wslib": serialize_wslib,
        "websockets (pure Python)": serialize_websockets_pure,
        "websockets (C extension)": serialize_websockets,
        "wsproto": serialize_wsproto,
    }


# --- inputs ------------------------------------------------------------------------------------


def masked_frame(payload: bytes, key: bytes = KEY) -> bytes:
    """A client's binary frame (FIN set, MASK set), built by hand so no library is favoured."""
    n = len(payload)
    if n <= 125:
        header = struct.pack("!BB", 0x82, 0x80 | n)
    elif n <= 0xFFFF:
        header = struct.pack("!BBH", 0x82, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x82, 0x80 | 127, n)
    import websockets.speedups

    return header + key + websockets.speedups.apply_mask(payload, key)


# --- measuring ---------------------------------------------------------------------------------


def seconds_per_call(call: Callable[[], object], budget: float, repeats: int = 7) -> float:
    """Best time of one call, over ``repeats`` batches of calls lasting about budget / repeats.

    The minimum, as :mod:`timeit` advises: other processes only ever make a batch slower.
    A call longer than the whole budget is timed once.
    """
    start = time.perf_counter()
    call()  # warm up, and learn roughly how long one call takes
    once = time.perf_counter() - start
    number = max(1, int(budget / repeats / max(once, 1e-9)))
    if once * number * repeats > 2 * budget:
        repeats = 1
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, (time.perf_counter() - start) / number)
    return min(best, once)


def record(op: str, impl: str, size: int, seconds: float | None, note: str = "") -> Result:
    mbps = size / seconds / 1e6 if seconds else None
    return {"op": op, "impl": impl, "size": size, "seconds": seconds, "mbps": mbps, "note": note}


def run(
    *,
    quick: bool = False,
    sizes: list[int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Result]:
    """Measure every implementation at every size; return one record per measurement.

    ``quick`` gives each measurement a shorter time budget and caps the per-byte loop at
    64 KiB instead of 1 MiB (at 16 MiB it would take seconds per call in either mode).
    """
    sizes = sizes or SIZES
    budget = 0.03 if quick else 0.4
    limit = PER_BYTE_LIMIT["quick" if quick else "full"]
    rng = random.Random(2011)
    results: list[Result] = []
    say = progress or (lambda _text: None)

    payloads = {n: rng.randbytes(n) for n in sizes}
    frames = {n: masked_frame(payloads[n]) for n in sizes}

    for impl, mask in maskers().items():
        say(f"mask: {impl}")
        for n in sizes:
            if impl == "per-byte loop" and n > limit:
                results.append(record("mask", impl, n, None, f"skipped above {limit} B"))
                continue
            data = payloads[n]
            assert mask(data, KEY) == frames[n][-n:], impl
            seconds = seconds_per_call(partial(mask, data, KEY), budget)
            results.append(record("mask", impl, n, seconds))

    for impl, parse in parsers().items():
        say(f"parse: {impl}")
        for n in sizes:
            frame = frames[n]
            assert parse(frame) == payloads[n], impl
            seconds = seconds_per_call(partial(parse, frame), budget)
            results.append(record("parse", impl, n, seconds))

    for impl, serialize in serializers().items():
        say(f"serialize: {impl}")
        for n in sizes:
            payload = payloads[n]
            assert len(serialize(payload)) == len(frames[n]), impl
            seconds = seconds_per_call(partial(serialize, payload), budget)
            results.append(record("serialize", impl, n, seconds))
    return results


# --- reporting ---------------------------------------------------------------------------------


def size_label(n: int) -> str:
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    if n >= KiB and n % KiB == 0:
        return f"{n // KiB} KiB"
    return f"{n} B"


def lookup(results: list[Result], op: str, impl: str, size: int) -> float | None:
    for r in results:
        if (r["op"], r["impl"], r["size"]) == (op, impl, size):
            return r["mbps"]  # type: ignore[no-any-return]
    return None


def format_table(results: list[Result]) -> str:
    """A Markdown table: one row per (operation, implementation), one column per size, MB/s."""
    sizes = sorted({r["size"] for r in results})
    rows = list(dict.fromkeys((r["op"], r["impl"]) for r in results))
    head = ["operation", "implementation", *(size_label(n) for n in sizes)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op, impl in rows:
        cells = []
        for n in sizes:
            mbps = lookup(results, op, impl, n)
            cells.append("skipped" if mbps is None else f"{mbps:,.1f}")
        lines.append(f"| {op} | {impl} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The implementations wslib is compared with, for each operation, in the order printed.
PEERS = [
    "per-byte loop",
    "websockets (pure Python)",
    "websockets (C extension)",
    "wsproto",
]


def ratio(results: list[Result], op: str, impl: str, peer: str, size: int) -> float | None:
    """``impl``'s speed divided by ``peer``'s for ``op`` at ``size``; None if one was skipped."""
    mine, theirs = lookup(results, op, impl, size), lookup(results, op, peer, size)
    return mine / theirs if mine and theirs else None


def format_ratios(results: list[Result], impl: str = "wslib") -> str:
    """A Markdown table of ``impl``'s speed divided by each peer's, one column per size."""
    sizes = sorted({r["size"] for r in results})
    ops = list(dict.fromkeys(r["op"] for r in results))
    head = ["operation", f"{impl} ÷", *(size_label(n) for n in sizes)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op in ops:
        for peer in PEERS:
            found = [ratio(results, op, impl, peer, n) for n in sizes]
            if not any(r is not None for r in found):
                continue  # this peer does not do this operation
            cells = ["skipped" if r is None else f"{r:,.2f}×" for r in found]
            lines.append(f"| {op} | {peer} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short time budget (a few seconds)")
    parser.add_argument("--json", metavar="PATH", help="also write the measurements as JSON")
    args = parser.parse_args(argv)

    import platform

    import websockets
    import wsproto

    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"websockets {getattr(websockets, '__version__', '?')}, "
        f"wsproto {getattr(wsproto, '__version__', '?')}"
        f"{', quick run' if args.quick else ''}",
        flush=True,
    )
    start = time.perf_counter()
    results = run(quick=args.quick, progress=lambda text: print("  " + text, file=sys.stderr))
    print(f"measured in {time.perf_counter() - start:.1f} s; MB/s (10^6 bytes per second):\n")
    print(format_table(results))
    print()
    print("The same, as ratios: wslib's speed divided by each peer's (above 1: wslib is faster):\n")
    print(format_ratios(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
