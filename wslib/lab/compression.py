"""Notebook 11's instruments: compressed chat captured, Chromium's offer, memory, bombs.

- :data:`CHAT` : the JSON chat messages the notebook compresses, the same every time (seeded).
- :func:`chat_capture` : one ``wslib.serve(compression="deflate")`` echo server and three
  ``wslib.connect`` clients sending :data:`CHAT`: without compression, with permessage-deflate
  and context takeover, and without context takeover, under a live capture (the shipped
  ``deflate-chat.pcap``); :func:`chat_wire_bytes` reads the bytes per message back from it.
- :func:`chromium_offer` : the handshake request of headless Chromium (which always offers
  ``permessage-deflate; client_max_window_bits``), as the server received it (the shipped
  ``chromium-deflate-offer.json``).
- :func:`memory_per_connection` : resident memory of N server-side connections for one
  :class:`~wslib.deflate.DeflateConfig`, and :func:`memory_in_subprocess` to measure it in a
  fresh interpreter (``benchmarks/bench_deflate.py --memory`` and the notebook's plot).
- :func:`deflate_bomb` : DEFLATE data that inflates to many times its size, built fast.
"""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import tracemalloc
import zlib
from typing import Any

from ..deflate import DeflateConfig, DeflateParameters, PerMessageDeflate
from ..protocol import Connection, Side, TextMessage
from ..sync.client import connect
from ..sync.server import ServerConnection, serve
from .capture import Capture, capture
from .scenario import Scenario
from .tools import CHROMIUM_FLAGS, chromedriver, chromium, without_proxy_variables

__all__ = [
    "CHAT",
    "CLIENTS",
    "SCENARIOS",
    "chat_capture",
    "chat_wire_bytes",
    "chromium_offer",
    "deflate_bomb",
    "memory_in_subprocess",
    "memory_per_connection",
]


def _chat(count: int = 8, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    words = "hello the server is up again did you see my message about the deploy yes".split()
    users = ["ada", "grace", "alan"]
    return [
        json.dumps(
            {
                "type": "message",
                "room": "general",
                "user": rng.choice(users),
                "text": " ".join(rng.choice(words) for _ in range(rng.randint(4, 12))),
                "ts": 1_760_000_000 + 7 * i,
            }
        )
        for i in range(count)
    ]


#: JSON chat messages, ~120 bytes each, similar keys: what a chat app sends.
CHAT: list[str] = _chat()

#: The three clients of :func:`chat_capture`, in the order they connect.
CLIENTS: dict[str, DeflateConfig | None] = {
    "no compression": None,
    "deflate, context takeover": DeflateConfig(),
    "deflate, no context takeover": DeflateConfig(
        server_no_context_takeover=True, client_no_context_takeover=True
    ),
}


def _echo(conn: ServerConnection) -> None:
    for message in conn:
        conn.send(message)


def chat_capture() -> Capture:
    """Capture :data:`CHAT` sent by each of :data:`CLIENTS` to one echo server (needs capture
    privileges): three TCP connections, in the order of :data:`CLIENTS`."""
    with (
        without_proxy_variables(),
        serve(_echo, compression="deflate") as server,
        capture([server.port], timeout=30, grace=0.5) as cap,
    ):
        for config in CLIENTS.values():
            with connect(f"ws://127.0.0.1:{server.port}/", compression=config) as conn:
                for message in CHAT:
                    conn.send(message)
                    if conn.recv(timeout=10) != message:
                        raise RuntimeError("the echo server sent back something else")
    return cap


def chat_wire_bytes(conversations: list[Any]) -> dict[str, list[int]]:
    """From the dissected ``deflate-chat`` capture: the payload bytes on the wire of each
    client→server message, per client of :data:`CLIENTS` (the connections in order)."""
    found: dict[str, list[int]] = {}
    websockets = [c for c in conversations if c.kind == "websocket"]
    for name, conv in zip(CLIENTS, websockets, strict=True):
        found[name] = [f.length for f in conv.frames if f.direction == "c2s" and f.opcode == 1]
    return found


CHROMIUM_SCRIPT = """
const [port, done] = [arguments[0], arguments[arguments.length - 1]];
const ws = new WebSocket("ws://127.0.0.1:" + port + "/chat");
ws.onopen = () => ws.send(JSON.stringify({type: "hello"}));
ws.onmessage = () => { ws.close(1000); };
ws.onclose = (e) => done({code: e.code, extensions: ws.extensions});
ws.onerror = () => done({error: "the connection failed"});
"""


def chromium_offer(timeout: float = 20.0) -> dict[str, Any]:
    """Open a WebSocket from headless Chromium to ``wslib.serve(compression="deflate")``.

    Returns the request head as the server received it (``"request"``, text with CRLF), what
    the page saw in ``WebSocket.extensions`` and the close code. Raises RuntimeError when
    Chromium or chromedriver is missing.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_tool = chromium(), chromedriver()
    if not browser or not driver_tool:
        raise RuntimeError(f"Chromium and chromedriver are needed: {browser.advice}")
    heads: list[bytes] = []

    def handler(conn: ServerConnection) -> None:
        if conn.path == "/chat":
            heads.append(conn.request.serialize())
        _echo(conn)

    options = webdriver.ChromeOptions()
    options.binary_location = browser.detail
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download anything
    with without_proxy_variables(), serve(handler, compression="deflate") as server:
        chrome = webdriver.Chrome(options=options, service=Service(driver_tool.detail))
        try:
            chrome.set_page_load_timeout(timeout)
            chrome.set_script_timeout(timeout)
            chrome.get(f"http://127.0.0.1:{server.port}/")  # a page of the same origin
            seen = chrome.execute_async_script(CHROMIUM_SCRIPT, server.port)
            version = chrome.capabilities.get("browserVersion", "")
        finally:
            chrome.quit()
    if not heads:
        raise RuntimeError(f"Chromium's WebSocket did not reach the server: {seen}")
    return {"request": heads[0].decode("latin-1"), "browser": f"Chromium {version}", **seen}


# --- memory ---------------------------------------------------------------------------------------


def _rss() -> int:
    """Resident memory of this process in bytes (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_per_connection(
    config: DeflateConfig | None, count: int = 1000, *, allocated: bool = False
) -> float:
    """KiB of memory per server-side :class:`~wslib.protocol.Connection` after 20 JSON messages
    (1-2 KiB) each way: the protocol's and zlib's state, without thread or socket.

    Each connection is fed the same client bytes (one client's stream, made once) and answers
    every message. By default the resident memory (RSS, Linux ``/proc``) before and after,
    divided by ``count``; ``allocated=True`` counts what was allocated instead
    (:mod:`tracemalloc`, which sees zlib's buffers too): no ``/proc`` needed, steady with
    few connections, and larger than RSS, which counts only the pages written to.
    """
    rng = random.Random(7)
    messages = []
    for _ in range(20):
        size = rng.randint(1024, 2048)
        batch: list[dict[str, Any]] = []
        while len(json.dumps(batch)) < size:
            batch.append(json.loads(rng.choice(CHAT)) | {"id": rng.randint(1, 10**6)})
        messages.append(json.dumps(batch))
    params = None
    client_codec = None
    if config is not None:
        params = DeflateParameters(
            config.server_no_context_takeover,
            config.client_no_context_takeover,
            config.server_max_window_bits,
            config.client_max_window_bits,
        )
        client_codec = PerMessageDeflate.negotiated(params, server=False, config=config)
    client = Connection(Side.CLIENT, deflate=client_codec, mask_key_generator=lambda: b"abcd")
    for message in messages:
        client.send_text(message)
    wire = b"".join(client.data_to_send())
    del client
    gc.collect()
    if allocated:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if allocated else _rss()
    servers = []
    try:
        for _ in range(count):
            codec = None
            if config is not None and params is not None:
                codec = PerMessageDeflate.negotiated(params, server=True, config=config)
            server = Connection(Side.SERVER, deflate=codec)
            server.receive_data(wire)
            for event in server.events_received():
                if isinstance(event, TextMessage):
                    server.send_text(event.data)
            server.data_to_send()
            servers.append(server)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] if allocated else _rss()
    finally:
        if allocated:
            tracemalloc.stop()
    return (after - before) / len(servers) / 1024


def memory_in_subprocess(config: DeflateConfig | None, count: int = 1000) -> float:
    """:func:`memory_per_connection` in a fresh interpreter, so that memory freed by an earlier
    measurement cannot be reused and hide what this one costs."""
    arg = "None" if config is None else repr(config)
    code = (
        "from wslib.deflate import DeflateConfig\n"
        "from wslib.lab.compression import memory_per_connection\n"
        f"print(memory_per_connection({arg}, {count}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return float(done.stdout.strip())


# --- bombs ----------------------------------------------------------------------------------------


def deflate_bomb(mib: int) -> bytes:
    """DEFLATE data (as permessage-deflate sends it, without ``00 00 ff ff``) that inflates to
    ``mib`` MiB of zeros, about a thousandth of that on the wire.

    1 MiB of zeros is compressed once, ending with a full flush (``Z_FULL_FLUSH``: the next
    block refers to nothing before it), and the result repeated ``mib`` times.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return (block * mib)[:-4]


def _chromium_offer_results() -> dict[str, Any]:
    return chromium_offer()


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "deflate-chat",
            "The same 8 JSON chat messages from three clients to one echo server: without "
            "compression, with permessage-deflate (context takeover: the later messages shrink), "
            "and without context takeover (RSV1, every message compressed alone).",
            'three `wslib.connect(compression=...)` → `wslib.serve(compression="deflate")`',
            chat_capture,
            seconds=3.0,
        ),
        Scenario(
            "chromium-deflate-offer",
            "Headless Chromium's WebSocket handshake request (its "
            "`Sec-WebSocket-Extensions` offer) as the server received it, and what the page saw "
            "in `WebSocket.extensions`.",
            'headless Chromium (Selenium) → `wslib.serve(compression="deflate")`',
            _chromium_offer_results,
            seconds=5.0,
            suffix=".json",
        ),
    )
}
