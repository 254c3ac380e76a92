"""Masking (RFC 6455 §5.3), the ladder: per-byte loop, big integer, translate, numpy, C.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_masking.py            # about 20 s
    .venv/bin/python benchmarks/bench_masking.py --quick    # a few seconds, noisier
    .venv/bin/python benchmarks/bench_masking.py --json out.json

Each rung XORs a payload with a 4-byte key and gives the same bytes (checked before timing):

- **per-byte loop**: one Python step per byte, the RFC's definition word for word;
- **big integer**: the payload and the repeated key as two huge integers, one ``^``
  (``wslib.apply_mask``'s trick for small payloads, without numpy);
- **translate**: four strided slices, each XORed with one key byte through a 256-entry table
  (``wslib.apply_mask``'s trick for large payloads, without numpy);
- **numpy, in place**: a ``bytearray`` that the caller owns, seen as 8-byte words and XORed
  where it lies (notebook 02's three lines, for lengths that are a multiple of 8);
- **wslib in place**: ``wslib.apply_mask_in_place``, what the server does with a payload it just
  read: the tricks below ``NUMPY_FROM`` bytes, numpy from there on;
- **wslib copy**: ``wslib.apply_mask``, which returns new ``bytes`` (from ``NUMPY_FROM`` on: a
  copy in, the in-place XOR, a copy out; fresh memory costs page faults, which is why the server
  unmasks in place);
- **websockets C**: python-websockets' C extension (``websockets.speedups.apply_mask``), 16 bytes
  per instruction (SIMD), returning new bytes.

It prints MB/s per rung and size, the ratio ``wslib in place / websockets C``, and where numpy
starts to beat the pure-Python tricks in a tight loop. ``wslib.masking.NUMPY_FROM`` is higher than
that crossover: it was measured in the echo server (``benchmarks/bench_server.py``), where numpy's
code is cold at each message. Speed is never asserted, here or in the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

KiB = 1024
MiB = 1024 * KiB
SIZES = [125, 4 * KiB, 64 * KiB, 1 * MiB]
CROSSOVER_SIZES = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # RFC 6455 §5.7's key
BUDGET_S = {"quick": 0.05, "full": 0.4}  # per rung and size, best of 5 repeats
PER_BYTE_LIMIT = 64 * KiB  # the loop runs at a few MB/s: not above this size

Result = dict[str, Any]


def per_byte_loop(data: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3 word for word: octet i XOR octet i MOD 4 of the key."""
    return bytes(octet ^ key[i % 4] for i, octet in enumerate(data))


def big_integer(data: bytes, key: bytes) -> bytes:
    """Two huge integers, one XOR."""
    n = len(data)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        n, "little"
    )


_TABLES = [bytes(b ^ k for b in range(256)) for k in range(256)]


def translate(data: bytes, key: bytes) -> bytes:
    """Four strided slices, each XORed with one key byte by a lookup table."""
    out = bytearray(len(data))
    for j in range(4):
        out[j::4] = data[j::4].translate(_TABLES[key[j]])
    return bytes(out)


def numpy_in_place(buffer: bytearray, key: bytes) -> None:
    """The payload as 8-byte words, XORed where it lies (``len(buffer)`` a multiple of 8)."""
    import numpy

    words = numpy.frombuffer(buffer, dtype=numpy.uint64)
    words ^= numpy.frombuffer(key * 2, dtype=numpy.uint64)[0]


def rungs() -> dict[str, tuple[Callable[[Any, bytes], Any], bool]]:
    """name -> (function, works in place on a bytearray)."""
    from websockets.speedups import apply_mask as websockets_c

    import wslib

    return {
        "per-byte loop": (per_byte_loop, False),
        "big integer": (big_integer, False),
        "translate": (translate, False),
        "numpy, in place": (numpy_in_place, True),
        "wslib in place": (wslib.apply_mask_in_place, True),
        "wslib copy": (wslib.apply_mask, False),
        "websockets C": (websockets_c, False),
    }


def best_seconds(call: Callable[[], Any], budget: float) -> float:
    """The best time of one call, over 5 repeats of as many calls as fit in budget / 5."""
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(budget / 5 / once))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def run(quick: bool = False, sizes: list[int] = SIZES) -> list[Result]:
    """MB/s of every rung at every size (the loop only up to 64 KiB); checked equal first."""
    budget = BUDGET_S["quick" if quick else "full"]
    results: list[Result] = []
    for size in sizes:
        data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        expected = per_byte_loop(data, KEY)
        for name, (function, in_place) in rungs().items():
            if name == "per-byte loop" and size > PER_BYTE_LIMIT:
                continue
            if name == "numpy, in place" and size % 8:
                continue
            if in_place:
                buffer = bytearray(data)
                function(buffer, KEY)
                assert buffer == expected, name
                seconds = best_seconds(lambda f=function, b=buffer: f(b, KEY), budget)
            else:
                assert function(data, KEY) == expected, name
                seconds = best_seconds(lambda f=function, d=data: f(d, KEY), budget)
            results.append(
                {"impl": name, "size": size, "us": seconds * 1e6, "mbps": size / seconds / 1e6}
            )
    return results


def crossover(quick: bool = False) -> list[Result]:
    """The pure-Python tricks against numpy in place, in a tight loop (numpy's code stays hot)."""
    from wslib import masking

    budget = BUDGET_S["quick" if quick else "full"] / 2
    results: list[Result] = []
    for size in CROSSOVER_SIZES:
        data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        buffer = bytearray(data)
        trick = big_integer if size < masking.SMALL else translate
        pure = best_seconds(lambda t=trick, d=data: t(d, KEY), budget)
        vector = best_seconds(lambda b=buffer: numpy_in_place(b, KEY), budget)
        results.append({"size": size, "pure_us": pure * 1e6, "numpy_us": vector * 1e6})
    return results


def size_label(size: int) -> str:
    if size >= MiB:
        return f"{size // MiB} MiB"
    if size >= KiB:
        return f"{size // KiB} KiB"
    return f"{size} B"


def format_table(results: list[Result]) -> str:
    sizes = sorted({r["size"] for r in results})
    names = [name for name in rungs() if any(r["impl"] == name for r in results)]
    lines = ["MB/s" + "".join(f"{size_label(s):>12}" for s in sizes)]
    by = {(r["impl"], r["size"]): r["mbps"] for r in results}
    for name in names:
        cells = [f"{by[name, s]:>12,.0f}" if (name, s) in by else f"{'-':>12}" for s in sizes]
        lines.append(f"{name:<16}" + "".join(cells))
    ratio = [
        f"{by['wslib in place', s] / by['websockets C', s]:>12.2f}"
        if ("websockets C", s) in by
        else f"{'-':>12}"
        for s in sizes
    ]
    lines.append(f"{'wslib in place/C':<16}" + "".join(ratio))
    return "\n".join(lines).replace("MB/s", f"{'MB/s':<16}", 1)


def format_crossover(results: list[Result]) -> str:
    lines = [f"{'size':>8} {'pure Python µs':>15} {'numpy in place µs':>18}  faster"]
    for r in results:
        faster = "numpy" if r["numpy_us"] < r["pure_us"] else "pure Python"
        lines.append(f"{r['size']:>6} B {r['pure_us']:>15.2f} {r['numpy_us']:>18.2f}  {faster}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run, noisier")
    parser.add_argument("--json", metavar="PATH", help="also write the measurements as JSON")
    args = parser.parse_args()
    from wslib.masking import NUMPY_FROM

    start = time.perf_counter()
    results = run(quick=args.quick)
    print(format_table(results))
    print(f"\nwhere numpy starts to pay in a tight loop (wslib.masking.NUMPY_FROM = {NUMPY_FROM}):")
    near = crossover(quick=args.quick)
    print(format_crossover(near))
    print(f"\n({time.perf_counter() - start:.1f} s, Python {sys.version.split()[0]})")
    if args.json:
        Path(args.json).write_text(json.dumps({"mask": results, "crossover": near}, indent=2))


if __name__ == "__main__":
    main()
