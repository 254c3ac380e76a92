"""wslib against real peers: websocket-client and wsdump, websockets (sync and asyncio), Chromium.

Both directions: those clients against ``wslib.serve``, and ``wslib.connect`` against a
``websockets`` server. Text, binary, 0 B to 2 MiB, fragmented messages, ping/pong, close with a
code and a reason. No mocks: every peer is the real library, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket  # websocket-client
import websockets.asyncio.client
import websockets.exceptions
import websockets.sync.client
import websockets.sync.server

import wslib
from wslib.lab.tools import CHROMIUM_FLAGS, chromium

from .test_server import both, no_thread_left, running, url, wait_for

__all__ = ["no_thread_left"]  # fixtures, imported to apply here too

pytestmark = [pytest.mark.timeout(60)]

SIZES = [0, 1, 125, 126, 65535, 65536, 2**20, 2**21]  # every length encoding, up to 2 MiB
BIG = 2**21 + 16  # max_size that lets 2 MiB through


def closing_handler(log: list[Any], path: str | None = None) -> Any:
    """A handler that echoes, answers "close me" with close(4001, ...), and logs how it ended
    (only for connections to ``path``, when given)."""

    def handler(conn: wslib.ServerConnection) -> None:
        try:
            for message in conn:
                if message == "close me":
                    conn.close(4001, "as you wish")
                elif message == "ping me":
                    event = conn.ping(b"from the server")
                    conn.send(f"pong received: {event.wait(5)}")
                elif message == "fragments please":
                    conn.send(["frag", "men", "ted"])
                else:
                    conn.send(message)
        except wslib.ConnectionClosedError:
            pass
        if path is None or conn.path == path:
            log.append((conn.close_code, conn.close_reason))

    return handler


# --- websocket-client -----------------------------------------------------------------------------


@both
def test_websocket_client_text_binary_and_sizes(kind: str) -> None:
    with running(max_size=BIG, kind=kind) as server:
        ws = websocket.create_connection(url(server), timeout=10)
        try:
            ws.send("123")
            ws.send("456")  # the article's test: two messages on one connection
            assert (ws.recv(), ws.recv()) == ("123", "456")
            ws.send("Grüße 👋")
            assert ws.recv() == "Grüße 👋"
            for size in SIZES:
                payload = os.urandom(size)
                ws.send_binary(payload)
                opcode, data = ws.recv_data()
                assert (opcode, data) == (websocket.ABNF.OPCODE_BINARY, payload), size
        finally:
            ws.close()


@both
def test_websocket_client_fragments_ping_and_close_both_ways(kind: str) -> None:
    log: list[Any] = []
    with running(closing_handler(log), kind=kind) as server:
        ws = websocket.create_connection(url(server), timeout=10)
        # client -> server: a fragmented text message with a ping in the middle
        ws.send_frame(websocket.ABNF.create_frame("Hel", websocket.ABNF.OPCODE_TEXT, fin=0))
        ws.ping("in between")
        ws.send_frame(websocket.ABNF.create_frame("lo", websocket.ABNF.OPCODE_CONT, fin=1))
        opcode, data = ws.recv_data(control_frame=True)
        assert (opcode, data) == (websocket.ABNF.OPCODE_PONG, b"in between")
        assert ws.recv() == "Hello"
        # server -> client: fragments, and a ping (websocket-client answers it in recv)
        ws.send("fragments please")
        assert ws.recv() == "fragmented"
        ws.send("ping me")
        assert ws.recv() == "pong received: True"
        # the client closes with a code and a reason
        ws.close(status=4000, reason=b"client leaves")
    assert wait_for(lambda: bool(log))
    assert log == [(4000, "client leaves")]

    log.clear()
    with running(closing_handler(log), kind=kind) as server:
        ws = websocket.create_connection(url(server), timeout=10)
        ws.send("close me")  # the server closes with a code and a reason
        frame = ws.recv_frame()  # the raw frame: websocket-client does not answer it by itself
        assert frame.opcode == websocket.ABNF.OPCODE_CLOSE
        assert frame.data == (4001).to_bytes(2, "big") + b"as you wish"
        ws.send_close(4001, b"as you wish")  # echo it, as RFC 6455 §5.5.1 suggests
        ws.shutdown()
        assert wait_for(lambda: bool(log))
    assert log == [(4001, "as you wish")]


@pytest.mark.parametrize(
    "payload", [b"", b"x", b"\x00\xff\x80 not UTF-8", bytes(range(125))], ids=len
)
@both
def test_pong_has_the_exact_payload_of_the_ping_on_the_wire(payload: bytes, kind: str) -> None:
    """A raw socket, bytes written by hand from RFC 6455 §5.2: a masked ping, then the exact
    bytes of the unmasked pong that must come back (§5.5.3: "identical Application data")."""
    key = b"\x37\xfa\x21\x3d"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    ping = bytes([0x89, 0x80 | len(payload)]) + key + masked
    expected = bytes([0x8A, len(payload)]) + payload
    with running(kind=kind) as server:
        ws = websocket.create_connection(url(server), timeout=10)
        try:
            sock = ws.sock
            assert sock is not None
            sock.sendall(ping)

            def read(n: int) -> bytes:
                got = b""
                while len(got) < n:
                    chunk = sock.recv(n - len(got))
                    assert chunk, f"the server closed after {got!r}"
                    got += chunk
                return got

            head = read(2)  # the header says how long the payload is: read exactly that
            assert head[1] < 126, head
            assert head + read(head[1]) == expected
        finally:
            ws.close()


@both
def test_wsdump_command_line(kind: str) -> None:
    wsdump = Path(sys.executable).parent / "wsdump"
    if not wsdump.exists():
        found = shutil.which("wsdump")
        if found is None:
            pytest.skip("wsdump (from websocket-client) is not installed")
        wsdump = Path(found)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    with running(kind=kind) as server:
        result = subprocess.run(
            [str(wsdump), "--raw", "--verbose", "--eof-wait", "1", url(server)],
            input="123\n456\n",
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
    lines = result.stdout.splitlines()
    assert "text: 123" in lines, result
    assert "text: 456" in lines, result


# --- the websockets library -----------------------------------------------------------------------


@both
def test_websockets_sync_client(kind: str) -> None:
    log: list[Any] = []
    with running(closing_handler(log), max_size=BIG, kind=kind) as server:
        with websockets.sync.client.connect(url(server), max_size=BIG, open_timeout=10) as ws:
            ws.send("héllo")
            assert ws.recv(timeout=5) == "héllo"
            for size in SIZES:
                payload = os.urandom(size)
                ws.send(payload)
                assert ws.recv(timeout=10) == payload, size
            ws.send(["frag", "ments"])  # websockets sends an iterable as fragments
            assert ws.recv(timeout=5) == "fragments"
            ws.send("fragments please")
            assert ws.recv(timeout=5) == "fragmented"
            assert ws.ping(b"sync").wait(5)
            ws.send("ping me")
            assert ws.recv(timeout=5) == "pong received: True"
            ws.close(4000, "sync client leaves")
        assert wait_for(lambda: bool(log))
        assert log == [(4000, "sync client leaves")]
        with websockets.sync.client.connect(url(server)) as ws:
            ws.send("close me")
            with pytest.raises(websockets.exceptions.ConnectionClosedError) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd is not None
            assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "as you wish")


@both
def test_websockets_asyncio_client(kind: str) -> None:
    log: list[Any] = []

    async def session(port: int) -> list[Any]:
        results: list[Any] = []
        async with websockets.asyncio.client.connect(f"ws://127.0.0.1:{port}/", max_size=BIG) as ws:
            await ws.send("async")
            results.append(await ws.recv())
            await ws.send(b"\x00" * 2**21)
            results.append(len(await ws.recv()))
            # websockets resolves this future only for a pong whose payload is b"async ping"
            # (RFC 6455 §5.5.3: "identical Application data"), with the round-trip time.
            pong = await ws.ping(b"async ping")
            latency = await asyncio.wait_for(pong, 5)
            results.append(isinstance(latency, float) and 0 <= latency < 5)
            await ws.send("fragments please")
            results.append(await ws.recv())
            await ws.close(4002, "async client leaves")
        return results

    with running(closing_handler(log), max_size=BIG, kind=kind) as server:
        results = asyncio.run(asyncio.wait_for(session(server.port), 30))
        assert results == ["async", 2**21, True, "fragmented"]
        assert wait_for(lambda: bool(log))
    assert log == [(4002, "async client leaves")]


@pytest.fixture
def websockets_server() -> Iterator[tuple[int, list[Any]]]:
    """A websockets threaded server: echoes; "close me" closes 4003; "ping me" pings first."""
    log: list[Any] = []

    def handler(ws: websockets.sync.server.ServerConnection) -> None:
        try:
            for message in ws:
                if message == "close me":
                    ws.close(4003, "websockets says bye")
                elif message == "ping me":
                    ws.send(f"pong received: {ws.ping(b'from websockets').wait(5)}")
                elif message == "fragments please":
                    ws.send(["web", "sock", "ets"])
                else:
                    ws.send(message)
        finally:
            log.append((ws.close_code, ws.close_reason))

    with websockets.sync.server.serve(handler, "127.0.0.1", 0, max_size=BIG) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            yield server.socket.getsockname()[1], log
        finally:
            server.shutdown()
            thread.join(10)
            assert not thread.is_alive()


def test_wslib_connect_to_a_websockets_server(websockets_server: tuple[int, list[Any]]) -> None:
    port, log = websockets_server
    with wslib.connect(f"ws://127.0.0.1:{port}/", max_size=BIG) as conn:
        conn.send("text")
        assert conn.recv(timeout=5) == "text"
        for size in SIZES:
            payload = os.urandom(size)
            conn.send(payload)
            assert conn.recv(timeout=10) == payload, size
        conn.send(["Hel", "lo"])
        assert conn.recv(timeout=5) == "Hello"
        conn.send("fragments please")
        assert conn.recv(timeout=5) == "websockets"
        assert conn.ping(b"wslib").wait(5)
        conn.send("ping me")  # websockets pings us; our reader thread answers
        assert conn.recv(timeout=5) == "pong received: True"
        conn.close(4004, "wslib leaves")
    assert wait_for(lambda: bool(log))
    assert log == [(4004, "wslib leaves")]

    with wslib.connect(f"ws://127.0.0.1:{port}/") as conn:
        conn.send("close me")
        with pytest.raises(wslib.ConnectionClosedError) as info:
            conn.recv(timeout=5)
        assert (info.value.code, info.value.reason) == (4003, "websockets says bye")
        assert (conn.close_code, conn.close_reason) == (4003, "websockets says bye")


def test_wslib_connect_with_a_subprotocol_to_websockets() -> None:
    def handler(ws: websockets.sync.server.ServerConnection) -> None:
        ws.send(ws.subprotocol or "none")

    with websockets.sync.server.serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=["chat"],  # type: ignore[list-item]
    ) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            port = server.socket.getsockname()[1]
            with wslib.connect(f"ws://127.0.0.1:{port}/", subprotocols=["chat"]) as conn:
                assert conn.subprotocol == "chat"
                assert list(conn) == ["chat"]
        finally:
            server.shutdown()
            thread.join(10)


# --- headless Chromium ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    tool = chromium()
    driver_path = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.access("/usr/bin/chromedriver", os.X_OK) else None
    )
    if not tool:
        pytest.skip(f"chromium is not available: {tool.advice}")
    if driver_path is None:
        pytest.skip("chromedriver is not installed (Debian: apt-get install chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = tool.detail
    for arg in CHROMIUM_FLAGS:
        options.add_argument(arg)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download anything
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
        driver.set_page_load_timeout(20)
        driver.set_script_timeout(20)
        try:
            yield driver
        finally:
            driver.quit()


@both
def test_chromium_uses_the_page_served_at_get_slash(browser: Any, kind: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with running(kind=kind) as server:
        browser.get(f"http://127.0.0.1:{server.port}/")
        wait = WebDriverWait(browser, 10)
        wait.until(lambda d: d.find_element(By.ID, "status").text == "open")
        box = browser.find_element(By.ID, "message")
        for text in ("hello from Chromium", "second message"):
            box.send_keys(text)
            browser.find_element(By.ID, "send").click()
            wait.until(lambda d, t=text: f"< {t}" in d.find_element(By.ID, "log").text)
        assert wait_for(lambda: len(server.connections) == 1)
        origin = server.connections[0].request_headers.get("Origin")
        assert origin == f"http://127.0.0.1:{server.port}"
    # the server went away: the page saw the close code 1001
    wait.until(lambda d: d.find_element(By.ID, "status").text == "closed")
    assert "close: code 1001" in browser.find_element(By.ID, "log").text


SCRIPT = """
const [port, done] = [arguments[0], arguments[arguments.length - 1]];
const ws = new WebSocket("ws://127.0.0.1:" + port + "/js");
ws.binaryType = "arraybuffer";
const got = [];
ws.onopen = () => {
  ws.send("text from JS");
  ws.send(new Uint8Array(70000).fill(7));
  ws.send("close me");
};
ws.onmessage = (e) => got.push(typeof e.data === "string" ? e.data : e.data.byteLength);
ws.onclose = (e) => done({got: got, code: e.code, reason: e.reason, clean: e.wasClean});
"""


@both
def test_chromium_javascript_exchange_and_server_close(browser: Any, kind: str) -> None:
    log: list[Any] = []
    with running(closing_handler(log, "/js"), kind=kind) as server:
        browser.get(f"http://127.0.0.1:{server.port}/")  # any page of that origin
        result = browser.execute_async_script(SCRIPT, server.port)
        assert result == {
            "got": ["text from JS", 70000],
            "code": 4001,
            "reason": "as you wish",
            "clean": True,
        }
        assert wait_for(lambda: bool(log))
    assert log == [(4001, "as you wish")]


@both
def test_chromium_closes_with_code_and_reason(browser: Any, kind: str) -> None:
    log: list[Any] = []
    with running(closing_handler(log, "/js"), kind=kind) as server:
        browser.get(f"http://127.0.0.1:{server.port}/")
        result = browser.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            const ws = new WebSocket("ws://127.0.0.1:" + arguments[0] + "/js");
            ws.onopen = () => ws.send("echo me");
            ws.onmessage = (e) => ws.close(4005, "browser leaves after " + e.data);
            ws.onclose = (e) => done([e.code, e.reason]);
            """,
            server.port,
        )
        assert result == [4005, "browser leaves after echo me"]
        assert wait_for(lambda: bool(log))
    assert log == [(4005, "browser leaves after echo me")]
