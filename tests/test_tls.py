"""wss:// end to end: wslib.tls's contexts and key log, wslib.serve/connect with ssl=, real peers.

Peers: wslib's own client and server, websocket-client and the ``websockets`` library (both
ways), headless Chromium trusting the local CA's key. The CA is a throwaway one
(:mod:`wslib.lab.certs`), made for each test module in a temporary directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket  # websocket-client
import websockets.sync.client
import websockets.sync.server

import wslib
from wslib.lab.certs import LocalCA, spki_sha256
from wslib.sync.client import parse_uri
from wslib.tls import (
    KEYLOG_ENV,
    CertificateVerificationError,
    client_context,
    keylog_path,
)

from .test_server import echo, no_thread_left, wait_for

__all__ = ["no_thread_left"]  # fixtures, imported to apply here too

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def ca() -> Iterator[LocalCA]:
    with LocalCA() as local_ca:
        yield local_ca


def wss(server: wslib.Server, host: str = "localhost", path: str = "/") -> str:
    return f"wss://{host}:{server.port}{path}"


# --- URLs and contexts ----------------------------------------------------------------------------


def test_wss_uri_defaults_to_port_443_and_omits_it_from_host() -> None:
    target = parse_uri("wss://example.com/chat")
    assert (target.port, target.secure, target.authority) == (443, True, "example.com")
    assert parse_uri("wss://example.com:8443/").authority == "example.com:8443"
    assert parse_uri("ws://example.com:443/").authority == "example.com:443"


def test_client_context_verifies_by_default() -> None:
    ctx = client_context()
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname


def test_keylog_path_prefers_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(KEYLOG_ENV, raising=False)
    assert keylog_path() is None
    monkeypatch.setenv(KEYLOG_ENV, str(tmp_path / "env.log"))
    assert keylog_path() == str(tmp_path / "env.log")
    assert keylog_path(tmp_path / "mine.log") == str(tmp_path / "mine.log")


def test_ssl_with_a_ws_url_is_a_mistake(ca: LocalCA) -> None:
    with pytest.raises(ValueError, match="wss://"):
        wslib.connect("ws://127.0.0.1:9/", ssl=ca.client_context())


def test_spki_hash_is_base64_sha256(ca: LocalCA) -> None:
    assert len(__import__("base64").b64decode(ca.spki)) == 32
    assert spki_sha256(ca.server_cert_pem) == ca.spki


# --- wslib to wslib -------------------------------------------------------------------------------


def test_wslib_wss_echo_both_hosts(ca: LocalCA) -> None:
    with wslib.serve(echo, ssl=ca.server_context()) as server:
        assert "wss://" in repr(server)
        for host in ("localhost", "127.0.0.1"):
            with wslib.connect(wss(server, host), ssl=ca.client_context()) as conn:
                assert isinstance(conn.socket, ssl.SSLSocket)
                conn.send("123")
                conn.send("456")
                assert (conn.recv(timeout=5), conn.recv(timeout=5)) == ("123", "456")
                big = os.urandom(300_000)  # many TLS records for one message
                conn.send(big)
                assert conn.recv(timeout=5) == big
            assert conn.close_code == 1000


def test_server_close_reaches_a_wss_client(ca: LocalCA) -> None:
    with wslib.serve(echo, ssl=ca.server_context()) as server:
        conn = wslib.connect(wss(server), ssl=ca.client_context())
        assert wait_for(lambda: len(server.connections) == 1)
    with pytest.raises(wslib.ConnectionClosedOK):
        conn.recv(timeout=5)
    assert conn.close_code == 1001


def test_keylog_records_both_sides(ca: LocalCA, tmp_path: Path) -> None:
    server_log, client_log = tmp_path / "server.keys", tmp_path / "client.keys"
    with wslib.serve(echo, ssl=ca.server_context(keylog=server_log)) as server:
        with wslib.connect(wss(server), ssl=ca.client_context(keylog=client_log)) as conn:
            conn.send("x")
            assert conn.recv(timeout=5) == "x"
    client_lines = client_log.read_text().splitlines()
    server_lines = server_log.read_text().splitlines()
    # TLS 1.3 (the default between two OpenSSL 3 peers): the four traffic secrets, both sides
    labels = {line.split()[0] for line in client_lines if not line.startswith("#")}
    assert {"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= labels
    assert {line for line in client_lines if not line.startswith("#")} == {
        line for line in server_lines if not line.startswith("#")
    }


def test_default_client_context_honours_sslkeylogfile(
    ca: LocalCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEYLOG_ENV, str(tmp_path / "env.keys"))
    with wslib.serve(echo, ssl=ca.server_context()) as server:
        ctx = client_context(cafile=ca.ca_pem)
        with wslib.connect(wss(server), ssl=ctx) as conn:
            conn.send("x")
            assert conn.recv(timeout=5) == "x"
    assert "CLIENT_TRAFFIC_SECRET_0" in (tmp_path / "env.keys").read_text()


# --- failures: one clear error, no hang, one log line ---------------------------------------------


def test_untrusted_certificate_names_the_cause_and_the_fix(ca: LocalCA) -> None:
    with wslib.serve(echo, ssl=ca.server_context()) as server:
        with pytest.raises(CertificateVerificationError) as info:
            # the system's trust store does not know our throwaway CA
            wslib.connect(wss(server), ssl=client_context())
    message = str(info.value)
    assert "local issuer" in info.value.reason  # the chain ends at a CA nobody trusts here
    assert "trust the CA" in message and "cafile=" in message
    assert "CERT_NONE" not in message and "verify=False" not in message


def test_wrong_host_name_names_the_cause(ca: LocalCA) -> None:
    other = LocalCA(hosts=("example.org",))
    try:
        with wslib.serve(echo, ssl=other.server_context()) as server:
            with pytest.raises(CertificateVerificationError, match=r"mismatch|not valid for"):
                wslib.connect(wss(server), ssl=other.client_context())
    finally:
        other.cleanup()


def test_wss_client_to_a_plain_server_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wslib")
    with wslib.serve(echo) as server:
        start = time.monotonic()
        with pytest.raises(ConnectionError, match="plain ws:// server"):
            wslib.connect(f"wss://127.0.0.1:{server.port}/", ssl=client_context(), timeout=10)
        assert time.monotonic() - start < 9  # it did not wait for the timeout
        assert wait_for(lambda: any("TLS handshake" in r.message for r in caplog.records))
    lines = [r for r in caplog.records if "TLS" in r.message]
    assert len(lines) == 1 and lines[0].exc_info is None


def test_plain_http_to_the_tls_port_gets_a_400_in_plain_text(
    ca: LocalCA, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wslib")
    with wslib.serve(echo, ssl=ca.server_context()) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert b"use wss://" in answer
        # ws:// (wslib's client) to the TLS port: the 400 is a clear InvalidResponse
        with pytest.raises(wslib.InvalidResponse, match="400"):
            wslib.connect(f"ws://127.0.0.1:{server.port}/")
    lines = [r for r in caplog.records if "TLS port" in r.message]
    assert len(lines) == 2 and all(r.exc_info is None for r in lines)


def test_silent_client_on_the_tls_port_is_cut_at_open_timeout(ca: LocalCA) -> None:
    with wslib.serve(echo, ssl=ca.server_context(), open_timeout=0.5) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
            start = time.monotonic()
            assert sock.recv(100) == b""  # the server ended the connection
            assert time.monotonic() - start < 5


def test_tls_handshake_counts_against_open_timeout_on_the_client(ca: LocalCA) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="TLS handshake"):
            wslib.connect(f"wss://localhost:{port}/", ssl=ca.client_context(), timeout=0.5)
        assert time.monotonic() - start < 5


def test_server_close_wakes_a_pending_tls_handshake(ca: LocalCA) -> None:
    server = wslib.serve(echo, ssl=ca.server_context(), open_timeout=30)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(b"\x16\x03\x01")
        time.sleep(0.2)  # the connection thread is in the TLS handshake now
        start = time.monotonic()
        server.close()
        assert time.monotonic() - start < 10
    finally:
        sock.close()


# --- real peers -----------------------------------------------------------------------------------


def test_websocket_client_over_wss(ca: LocalCA) -> None:
    with wslib.serve(echo, ssl=ca.server_context()) as server:
        ws = websocket.create_connection(
            wss(server), timeout=10, sslopt={"ca_certs": str(ca.ca_pem)}
        )
        try:
            ws.send("123")
            ws.send("456")
            assert (ws.recv(), ws.recv()) == ("123", "456")
            payload = os.urandom(100_000)
            ws.send_binary(payload)
            assert ws.recv() == payload
        finally:
            ws.close()


def test_websockets_client_over_wss(ca: LocalCA) -> None:
    with wslib.serve(echo, ssl=ca.server_context()) as server:
        with websockets.sync.client.connect(
            wss(server), ssl=ca.client_context(), open_timeout=10
        ) as ws:
            ws.send("123")
            assert ws.recv(timeout=5) == "123"
            ws.send(b"\x00" * 70_000)
            assert ws.recv(timeout=5) == b"\x00" * 70_000
        assert ws.close_code == 1000


def test_wslib_client_to_a_websockets_tls_server(ca: LocalCA) -> None:
    def handler(ws: Any) -> None:
        for message in ws:
            ws.send(message)

    with websockets.sync.server.serve(handler, "127.0.0.1", 0, ssl=ca.server_context()) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.socket.getsockname()[1]
            with wslib.connect(f"wss://localhost:{port}/", ssl=ca.client_context()) as conn:
                conn.send("hello over TLS")
                assert conn.recv(timeout=5) == "hello over TLS"
                conn.send(b"\x01" * 200_000)
                assert conn.recv(timeout=5) == b"\x01" * 200_000
            assert conn.close_code == 1000
        finally:
            server.shutdown()
            thread.join(10)


# --- nginx terminating TLS in front of a plain ws:// server -------------------------------------


def test_nginx_terminates_tls_in_front_of_a_plain_server(ca: LocalCA) -> None:
    proxy_module = pytest.importorskip("wslib.lab.proxy")
    if not proxy_module.nginx_available():
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light)")
    seen: list[tuple[bool, str | None]] = []

    def handler(conn: wslib.ServerConnection) -> None:
        seen.append((isinstance(conn.socket, ssl.SSLSocket), conn.request_headers.get("Host")))
        echo(conn)

    with (
        wslib.serve(handler) as server,
        proxy_module.Nginx(server.port, tls=ca.server_pem) as proxy,
    ):
        assert proxy.url.startswith("wss://localhost:")
        assert "ssl_certificate" in proxy.config
        with wslib.connect(proxy.url, ssl=ca.client_context()) as conn:
            conn.send("123")
            assert conn.recv(timeout=5) == "123"
        ws = websocket.create_connection(proxy.url, timeout=10, sslopt={"ca_certs": str(ca.ca_pem)})
        try:
            ws.send("456")
            assert ws.recv() == "456"
        finally:
            ws.close()
        # without trusting the CA, the public leg refuses, with the cause
        with pytest.raises(CertificateVerificationError):
            wslib.connect(proxy.url, ssl=client_context())
    # the server behind nginx spoke plain ws:// (TLS ended at nginx)
    assert seen == [(False, "localhost")] * 2  # nginx sets Host: $host


# --- headless Chromium, trusting the local CA's key ---------------------------------------------

CHROMIUM_SCRIPT = """
const [url, done] = [arguments[0], arguments[arguments.length - 1]];
const ws = new WebSocket(url);
const got = [];
ws.onopen = () => { ws.send("from Chromium over TLS"); ws.send("close me"); };
ws.onmessage = (e) => got.push(e.data);
ws.onerror = () => got.push("error");
ws.onclose = (e) => done({got: got, code: e.code, clean: e.wasClean});
"""


def test_chromium_opens_wss_to_wslib(ca: LocalCA, tmp_path: Path) -> None:
    from wslib.lab.tools import CHROMIUM_FLAGS, chromium

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
    # Trust this one key, nothing else (and without touching any trust store). Chromium honours
    # the SPKI list only with its own profile directory.
    options.add_argument(f"--ignore-certificate-errors-spki-list={ca.spki}")
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")

    def handler(conn: wslib.ServerConnection) -> None:
        for message in conn:
            if message == "close me":
                conn.close(4001, "as you wish")
            else:
                conn.send(message)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download anything
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.set_page_load_timeout(20)
        driver.set_script_timeout(20)
        with wslib.serve(handler, ssl=ca.server_context()) as server:
            driver.get(f"https://localhost:{server.port}/")  # the demo page, over https
            result = driver.execute_async_script(CHROMIUM_SCRIPT, wss(server, path="/js"))
    finally:
        driver.quit()
    assert result == {"got": ["from Chromium over TLS"], "code": 4001, "clean": True}


# --- a TLS record that arrives in two pieces, far apart -------------------------------------------


class SplittingRelay:
    """A TCP relay from the client to a server that, once told, cuts the next piece the server
    sends in two: 10 bytes (the start of a TLS record), then the rest ``pause`` seconds later."""

    def __init__(self, upstream: int, pause: float) -> None:
        self.upstream, self.pause = upstream, pause
        self.split_next = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.sockets: list[socket.socket] = [self.listener]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
        self.sockets += [client, server]
        for src, dst, split in ((client, server, False), (server, client, True)):
            thread = threading.Thread(target=self._pump, args=(src, dst, split), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _pump(self, src: socket.socket, dst: socket.socket, split: bool) -> None:
        src.settimeout(10)
        try:
            while data := src.recv(65536):
                if split and self.split_next.is_set() and len(data) > 10:
                    self.split_next.clear()
                    dst.sendall(data[:10])
                    time.sleep(self.pause)
                    data = data[10:]
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        for thread in [self.thread, *self.threads]:
            thread.join(10)


def test_a_record_split_over_a_long_pause_is_not_mistaken_for_eof(ca: LocalCA) -> None:
    # Regression: poll() says "readable" at the record's first bytes; recv() on the TLS socket
    # then waits for the whole record and times out after close_timeout. That timeout was
    # taken for the end of the connection (1006); the reader must wait again instead.
    with wslib.serve(echo, ssl=ca.server_context()) as server:
        relay = SplittingRelay(server.port, pause=1.0)
        try:
            with wslib.connect(
                f"wss://localhost:{relay.port}/", ssl=ca.client_context(), close_timeout=0.3
            ) as conn:
                relay.split_next.set()
                conn.send("arrives in two pieces")
                assert conn.recv(timeout=10) == "arrives in two pieces"
        finally:
            relay.close()
