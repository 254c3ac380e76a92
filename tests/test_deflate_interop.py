"""permessage-deflate against real peers: the ``websockets`` library (server and client, with and
without context takeover, reduced windows), headless Chromium, and websocket-client (which does not
offer it, and must still work uncompressed)."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest
import websocket  # websocket-client
import websockets.sync.client
import websockets.sync.server
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

import wslib
from wslib.deflate import DeflateConfig

from .test_interop import browser
from .test_server import no_thread_left, running, url

__all__ = ["browser", "no_thread_left"]  # fixtures, imported to apply here too

pytestmark = [pytest.mark.timeout(60)]

BIG = 2**21
#: JSON chat messages, text, zeros and noise, 0 B to 1 MiB
MESSAGES: list[str | bytes] = [
    "",
    "Hello",
    json.dumps({"user": "ada", "text": "hello " * 40, "room": "general"}),
    json.dumps({"user": "ada", "text": "hello " * 40, "room": "general"}),  # again: takeover
    "é" * 5000,
    bytes(70000),
    os.urandom(1000),
    os.urandom(2**20),
]

#: (wslib's config, websockets' factory arguments): one negotiation of each kind
SETTINGS: list[tuple[DeflateConfig, dict[str, Any]]] = [
    (DeflateConfig(), {}),
    (DeflateConfig(15, 15), {"server_max_window_bits": 15, "client_max_window_bits": 15}),
    (
        DeflateConfig(15, 15, True, True),
        {"server_no_context_takeover": True, "client_no_context_takeover": True},
    ),
    (DeflateConfig(9, 9), {"server_max_window_bits": 9, "client_max_window_bits": 9}),
    (
        DeflateConfig(10, 11, False, True),
        {"server_max_window_bits": 10, "client_max_window_bits": 11},
    ),
]
IDS = ["defaults", "15-bits", "no-context-takeover", "9-bits", "mixed"]


def compressed_frames(lines: list[str]) -> int:
    """How many frames of a trace went out or came in with RSV1 set."""
    return sum(" rsv=100 " in line for line in lines)


@pytest.mark.parametrize(("config", "theirs"), SETTINGS, ids=IDS)
def test_websockets_client_against_wslib_server(
    config: DeflateConfig, theirs: dict[str, Any]
) -> None:
    lines: list[str] = []
    factory = ClientPerMessageDeflateFactory(**theirs, compress_settings={"memLevel": 5})
    with running(max_size=BIG, compression=config, trace=lines.append) as server:
        with websockets.sync.client.connect(
            url(server), max_size=BIG, compression=None, extensions=[factory], open_timeout=10
        ) as ws:
            assert [type(e).__name__ for e in ws.protocol.extensions] == ["PerMessageDeflate"]
            for message in MESSAGES:
                ws.send(message)
                assert ws.recv(timeout=10) == message
            ws.send(["frag", "ment", "ed"])  # websockets compresses fragments in one stream
            assert ws.recv(timeout=10) == "fragmented"
            assert server.connections[0].protocol.deflate is not None
    assert compressed_frames(lines) >= 2 * 6  # in and out


@pytest.mark.parametrize(("config", "theirs"), SETTINGS, ids=IDS)
def test_wslib_client_against_websockets_server(
    config: DeflateConfig, theirs: dict[str, Any]
) -> None:
    def handler(ws: websockets.sync.server.ServerConnection) -> None:
        for message in ws:
            if message == "fragments please":
                ws.send(["web", "sock", "ets"])
            else:
                ws.send(message)

    factory = ServerPerMessageDeflateFactory(**theirs, compress_settings={"memLevel": 5})
    with websockets.sync.server.serve(
        handler, "127.0.0.1", 0, max_size=BIG, compression=None, extensions=[factory]
    ) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        lines: list[str] = []
        try:
            port = server.socket.getsockname()[1]
            with wslib.connect(
                f"ws://127.0.0.1:{port}/", max_size=BIG, compression=config, trace=lines.append
            ) as conn:
                assert "permessage-deflate" in conn.response_headers["Sec-WebSocket-Extensions"]
                assert conn.protocol.deflate is not None
                for message in MESSAGES:
                    conn.send(message)
                    assert conn.recv(timeout=10) == message
                conn.send(["Hel", "lo"])
                assert conn.recv(timeout=5) == "Hello"
                conn.send("fragments please")
                assert conn.recv(timeout=5) == "websockets"
        finally:
            server.shutdown()
            thread.join(10)
    assert compressed_frames(lines) >= 2 * 6


def test_websockets_default_offer_and_answer_interoperate() -> None:
    """websockets' own defaults (compression="deflate") on either side, against wslib's."""
    with running(max_size=BIG, compression="deflate") as server:
        with websockets.sync.client.connect(url(server), max_size=BIG) as ws:
            ws.send(MESSAGES[2])
            assert ws.recv(timeout=5) == MESSAGES[2]
            assert ws.protocol.extensions


def test_a_bomb_from_websockets_is_refused_with_1009() -> None:
    """A real peer sends a message that inflates over wslib's max_size: close 1009."""
    with running(max_size=2**16, compression="deflate") as server:
        with websockets.sync.client.connect(url(server), max_size=BIG) as ws:
            ws.send(bytes(2**20))  # 1 KiB on the wire, 1 MiB inflated
            with pytest.raises(websockets.exceptions.ConnectionClosedError) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009


def test_websocket_client_still_works_uncompressed() -> None:
    lines: list[str] = []
    with running(compression="deflate", trace=lines.append) as server:
        ws = websocket.create_connection(url(server), timeout=10)
        try:
            ws.send("no compression here")
            assert ws.recv() == "no compression here"
            assert server.connections[0].protocol.deflate is None
        finally:
            ws.close()
    assert compressed_frames(lines) == 0
    assert not any("Sec-WebSocket-Extensions" in line for line in lines)


CHROMIUM_SCRIPT = """
const [port, done] = [arguments[0], arguments[arguments.length - 1]];
const ws = new WebSocket("ws://127.0.0.1:" + port + "/");
ws.binaryType = "arraybuffer";
const got = [];
const chat = JSON.stringify({user: "ada", text: "hello ".repeat(40)});
ws.onopen = () => {
  ws.send(chat);
  ws.send(chat);
  ws.send(new Uint8Array(70000).fill(7));
  ws.send("é".repeat(5000));
};
ws.onmessage = (e) => {
  got.push(typeof e.data === "string" ? e.data.length : e.data.byteLength);
  if (got.length === 4) ws.close(1000);
};
ws.onclose = (e) => done({got: got, code: e.code, extensions: ws.extensions});
"""


def test_chromium_against_wslib_with_compression(browser: Any) -> None:
    lines: list[str] = []
    with running(compression="deflate", trace=lines.append) as server:
        browser.get(f"http://127.0.0.1:{server.port}/")
        result = browser.execute_async_script(CHROMIUM_SCRIPT, server.port)
        chat = len(json.dumps({"user": "ada", "text": "hello " * 40}, separators=(",", ":")))
        assert result == {
            "got": [chat, chat, 70000, 5000],
            "code": 1000,
            "extensions": (
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
            ),
        }
    assert compressed_frames(lines) >= 8


# --- the asyncio layer negotiates and compresses the same way ------------------------------------


def test_asyncio_server_and_client_with_permessage_deflate() -> None:
    import asyncio

    import websockets.sync.client

    import wslib.asyncio

    async def echo_async(conn: Any) -> None:
        async for message in conn:
            await conn.send(message)

    text = '{"user": "alice", "text": "hello"}' * 50

    async def main() -> None:
        async with wslib.asyncio.serve(echo_async, compression="deflate") as server:
            url = f"ws://127.0.0.1:{server.port}/"
            async with wslib.asyncio.connect(url, compression="deflate") as conn:
                assert "permessage-deflate" in conn.response.headers["Sec-WebSocket-Extensions"]
                await conn.send(text)
                assert await conn.recv(timeout=5) == text

            def other() -> tuple[str, object]:  # websockets' client, which compresses by default
                with websockets.sync.client.connect(url) as ws:
                    ws.send(text)
                    answer = ws.recv(timeout=5)
                    return ws.response.headers["Sec-WebSocket-Extensions"], answer

            extensions, answer = await asyncio.to_thread(other)
            assert extensions.startswith("permessage-deflate") and answer == text

    asyncio.run(asyncio.wait_for(main(), 30))
