"""permessage-deflate: wslib's codec against websockets', and the memory it costs per connection.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_deflate.py            # throughput and ratio (about 10 s)
    .venv/bin/python benchmarks/bench_deflate.py --quick    # a few seconds, noisier
    .venv/bin/python benchmarks/bench_deflate.py --memory   # resident memory per connection

**Throughput and ratio.** For JSON chat messages, English-like text and random bytes of 125 B to
1 MiB, a stream of distinct messages of one kind goes through a sender and a receiver with
context takeover (the default of both libraries), window bits 12, memLevel 5 and level 6 (the
defaults of both). It prints, per payload and size: the compression ratio (bytes on the wire /
bytes of the message; the same zlib does the work in both libraries, so it should match), MB/s
of message bytes compressed and inflated by wslib (:class:`wslib.deflate.PerMessageDeflate`) and
websockets (``websockets.extensions.permessage_deflate.PerMessageDeflate``), then wslib's speed
divided by websockets' (1.00× = as fast). Raw MB/s depend on the machine; the ratios travel
better. Speed is never asserted in the tests: the script judges nothing.

**Memory** (``--memory``): :func:`wslib.lab.compression.memory_per_connection` in a fresh
interpreter per setting: 1,000 server-side :class:`wslib.protocol.Connection` objects, each fed
the same 20 compressed JSON messages (1-2 KiB) from one client and answering each, then the
resident memory of the process (``/proc/self/statm``) before and after, divided by 1,000. The
objects are sans-I/O: this is the protocol's and zlib's state, without the threads and socket
buffers that every connection costs with or without compression. The table in
:func:`wslib.serve`'s docstring comes from this.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from websockets.extensions.permessage_deflate import PerMessageDeflate as WsDeflate
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode as WsOpcode

from wslib.deflate import DeflateConfig, DeflateParameters, PerMessageDeflate
from wslib.frames import Opcode
from wslib.lab.compression import memory_in_subprocess

KiB = 1024
MiB = 1024 * KiB
SIZES = [125, 1 * KiB, 16 * KiB, 128 * KiB, 1 * MiB]
WORDS = (
    "the a of to and in is it you that he was for on are with as his they be at one have this "
    "from or had by hot word but what some we can out other were all there when up use your how "
    "said an each she which do their time if will way about many then them write would like so "
    "these her long make thing see him two has look more day could go come did number sound no "
    "most people my over know water than call first who may down side been now find"
).split()


def json_payload(size: int, rng: random.Random) -> bytes:
    """JSON chat messages, as many as fit in ``size`` bytes (a list of them, cut at ``size``)."""
    parts: list[str] = []
    length = 0
    while length < size:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        message = {
            "id": rng.randint(1, 10**6),
            "user": rng.choice(["ada", "alan", "grace"]),
            "room": "general",
            "text": text,
            "ts": 1_700_000_000 + rng.random(),
        }
        parts.append(json.dumps(message))
        length += len(parts[-1]) + 2
    return ("[" + ", ".join(parts) + "]").encode()[:size]


def text_payload(size: int, rng: random.Random) -> bytes:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words).encode()[:size]


def random_payload(size: int, rng: random.Random) -> bytes:
    return rng.randbytes(size)


PAYLOADS: dict[str, Callable[[int, random.Random], bytes]] = {
    "json": json_payload,
    "text": text_payload,
    "random": random_payload,
}


# --- the two codecs, behind the same two calls --------------------------------------------------


class WslibPair:
    name = "wslib"

    def __init__(self) -> None:
        params = DeflateParameters(server_max_window_bits=12, client_max_window_bits=12)
        config = DeflateConfig()
        self.sender = PerMessageDeflate.negotiated(params, server=True, config=config)
        self.receiver = PerMessageDeflate.negotiated(params, server=False, config=config)

    def compress(self, data: bytes) -> Any:
        return self.sender.encode(Opcode.BINARY, data, True)

    def decompress(self, frame: Any) -> bytes:
        return self.receiver.decode(frame, None).payload

    @staticmethod
    def wire(frame: Any) -> int:
        return len(frame.payload)


class WebsocketsPair:
    name = "websockets"

    def __init__(self) -> None:
        settings = {"memLevel": 5}
        self.sender = WsDeflate(False, False, 12, 12, settings)
        self.receiver = WsDeflate(False, False, 12, 12, settings)

    def compress(self, data: bytes) -> Any:
        return self.sender.encode(WsFrame(WsOpcode.BINARY, data))

    def decompress(self, frame: Any) -> bytes:
        return bytes(self.receiver.decode(frame).data)

    @staticmethod
    def wire(frame: Any) -> int:
        return len(frame.data)


def measure(pair_type: Any, messages: list[bytes]) -> tuple[float, float, float]:
    """(ratio, MB/s compressing, MB/s inflating) for the stream of ``messages``."""
    pair = pair_type()
    start = time.perf_counter()
    frames = [pair.compress(m) for m in messages]
    compressing = time.perf_counter() - start
    start = time.perf_counter()
    out = [pair.decompress(f) for f in frames]
    inflating = time.perf_counter() - start
    assert out == messages, pair.name  # a benchmark of a broken codec measures nothing
    total = sum(map(len, messages))
    wire = sum(pair.wire(f) for f in frames)
    return wire / total, total / compressing / 1e6, total / inflating / 1e6


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure every payload and size; return one dict per (payload, size)."""
    budget = 1 * MiB if quick else 4 * MiB  # message bytes per measurement
    results = []
    for kind, make in PAYLOADS.items():
        for size in SIZES:
            rng = random.Random(f"{kind}-{size}")
            count = max(4, min(2000, budget // size))
            messages = [make(size, rng) for _ in range(count)]
            row: dict[str, Any] = {"payload": kind, "size": size, "messages": count}
            best: dict[str, tuple[float, float, float]] = {}
            for _ in range(1 if quick else 3):  # best of 3: the least disturbed run
                for pair in (WslibPair, WebsocketsPair):
                    ratio, c, d = measure(pair, messages)
                    old = best.get(pair.name, (ratio, 0.0, 0.0))
                    best[pair.name] = (ratio, max(old[1], c), max(old[2], d))
            for name, (ratio, c, d) in best.items():
                row[name] = {"ratio": ratio, "compress_MBps": c, "inflate_MBps": d}
            results.append(row)
    return results


def print_results(results: list[dict[str, Any]]) -> None:
    head = (
        f"{'payload':<8}{'size':>9}  {'ratio':>6} {'ratio ws':>8}  {'compress MB/s':>22}  "
        f"{'inflate MB/s':>22}"
    )
    print(head)
    print(f"{'':<8}{'':>9}  {'':>6} {'':>8}  {'wslib':>10} {'websockets':>11}  "
          f"{'wslib':>10} {'websockets':>11}")  # fmt: skip
    for r in results:
        w, s = r["wslib"], r["websockets"]
        print(
            f"{r['payload']:<8}{r['size']:>9}  {w['ratio']:>6.3f} {s['ratio']:>8.3f}  "
            f"{w['compress_MBps']:>10.1f} {s['compress_MBps']:>11.1f}  "
            f"{w['inflate_MBps']:>10.1f} {s['inflate_MBps']:>11.1f}"
        )
    print()
    print("wslib / websockets (speed; 1.00x = as fast):")
    print(f"{'payload':<8}{'size':>9}  {'compress':>9}  {'inflate':>9}")
    for r in results:
        w, s = r["wslib"], r["websockets"]
        print(
            f"{r['payload']:<8}{r['size']:>9}  "
            f"{w['compress_MBps'] / s['compress_MBps']:>8.2f}x  "
            f"{w['inflate_MBps'] / s['inflate_MBps']:>8.2f}x"
        )


# --- memory per connection ----------------------------------------------------------------------


#: name, server config (None: no compression), what the client offers
MEMORY_SETTINGS: list[tuple[str, DeflateConfig | None]] = [
    ("compression=None", None),
    ("window bits 15, memLevel 8 (zlib)", DeflateConfig(15, 15, mem_level=8)),
    ("window bits 12, memLevel 5 (default)", DeflateConfig()),
    ("window bits 9, memLevel 1", DeflateConfig(9, 9, mem_level=1)),
    (
        "no context takeover both ways",
        DeflateConfig(server_no_context_takeover=True, client_no_context_takeover=True),
    ),
]


def run_memory() -> list[tuple[str, float]]:
    """Each setting measured in a fresh process, so that one does not reuse another's memory."""
    return [(name, memory_in_subprocess(config)) for name, config in MEMORY_SETTINGS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer messages, one round")
    parser.add_argument("--memory", action="store_true", help="resident memory per connection")
    args = parser.parse_args(argv)
    if args.memory:
        print(f"{'settings':<40}{'KiB per connection':>20}")
        for name, kib in run_memory():
            print(f"{name:<40}{kib:>20.1f}")
        return 0
    print_results(run(quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
