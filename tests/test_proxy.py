"""wslib.lab.proxy: real nginx in front of wslib.serve: recipe, broken variants, idle timeouts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

import wslib
from wslib.exercises.nb08 import MEASURED_STATUS
from wslib.lab import tools
from wslib.lab.proxy import (
    BROKEN,
    HeaderEcho,
    Nginx,
    ProxyError,
    ProxyUnavailable,
    client_heartbeat,
    forwarded_for,
    heartbeat_run,
    idle_run,
    nginx_available,
    nginx_config,
    try_recipe,
)

needs_nginx = pytest.mark.skipif(
    not nginx_available(), reason=f"nginx is not installed: {tools.nginx().advice}"
)


def _echo(conn: Any) -> None:
    for message in conn:
        conn.send(message)


@pytest.fixture
def seen() -> list[dict[str, str]]:
    return []


@pytest.fixture
def server(seen: list[dict[str, str]]) -> Iterator[wslib.Server]:
    def handler(conn: Any) -> None:
        seen.append({name.lower(): value for name, value in conn.request_headers.items()})
        _echo(conn)

    with wslib.serve(handler) as server:
        yield server


def _children() -> list[int]:
    """Our live child processes (Linux /proc), the way the notebook test looks for leftovers."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.append(int(pid))
    return found


# --- the configuration, without running nginx ---------------------------------------------------


def test_recipe_has_every_line_of_the_article() -> None:
    conf = nginx_config(8888, 8080, prefix="/tmp/x")
    for line in (
        "map $http_upgrade $connection_upgrade {",
        "default upgrade;",
        "''      close;",
        "server 127.0.0.1:8888;",
        "listen 127.0.0.1:8080;",
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "pid /tmp/x/nginx.pid;",
        "error_log /tmp/x/error.log info;",
    ):
        assert line in conf, line
    assert "proxy_read_timeout" not in conf  # nginx's default (60 s) unless asked


@pytest.mark.parametrize(
    ("broken", "missing", "added"),
    [
        ("no-http-1.1", "proxy_http_version 1.1;", None),
        ("no-upgrade", "proxy_set_header Upgrade", None),
        ("no-connection", "proxy_set_header Connection", None),
        (
            "connection-keep-alive",
            "proxy_set_header Connection $connection_upgrade;",
            "proxy_set_header Connection keep-alive;",
        ),
    ],
)
def test_each_broken_variant_changes_one_line(broken: str, missing: str, added: str | None) -> None:
    good = [line for line in nginx_config(1, 2, prefix="/p").splitlines() if line[:1] != "#"]
    bad = [
        line
        for line in nginx_config(1, 2, prefix="/p", broken=broken).splitlines()
        if line[:1] != "#"
    ]
    removed = [line for line in good if line not in bad]
    new = [line for line in bad if line not in good]
    assert len(removed) == 1 and missing in removed[0]
    assert new == ([f"            {added}"] if added else [])


def test_timeouts_in_nginx_units() -> None:
    conf = nginx_config(1, 2, read_timeout=10, send_timeout=1.5)
    assert "proxy_read_timeout 10s;" in conf
    assert "proxy_send_timeout 1500ms;" in conf


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no-http-1\.1"):
        nginx_config(1, 2, broken="no-host")
    assert set(BROKEN) == set(MEASURED_STATUS)


def test_missing_nginx_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tools.Tool("nginx", False, "not on PATH", "install it with `apt-get install x`.")
    monkeypatch.setattr(tools, "nginx", lambda: missing)
    assert not nginx_available()
    with pytest.raises(ProxyUnavailable) as info:
        Nginx(1234)
    message = str(info.value)
    assert message == "nginx is not installed: install it with `apt-get install x`."
    assert "\n" not in message


# --- with a real nginx ----------------------------------------------------------------------------


@needs_nginx
def test_recipe_proxies_a_websocket_echo(server: wslib.Server, seen: list[dict[str, str]]) -> None:
    with Nginx(server.port) as proxy:
        assert proxy.port not in (0, server.port)
        assert proxy.url == f"ws://127.0.0.1:{proxy.port}/"
        ws = websocket.create_connection(proxy.url, timeout=5)
        try:
            assert ws.getstatus() == 101
            assert ws.getheaders()["server"].startswith("nginx")
            for text in ("123", "456"):
                ws.send(text)
                assert ws.recv() == text
            ws.send_binary(b"\x00\xff")
            assert ws.recv() == b"\x00\xff"
        finally:
            ws.close()
    # Through nginx, the server saw the recipe's headers, set again by nginx.
    headers = seen[0]
    assert headers["upgrade"] == "websocket"
    assert headers["connection"] == "upgrade"
    assert headers["host"] == "127.0.0.1"  # $host: the client's Host without its port


@needs_nginx
def test_wslib_client_through_nginx(server: wslib.Server) -> None:
    with Nginx(server.port) as proxy, wslib.connect(proxy.url) as conn:
        conn.send("through nginx")
        assert conn.recv(timeout=5) == "through nginx"


@needs_nginx
def test_forwarded_for_reaches_the_handler(
    server: wslib.Server, seen: list[dict[str, str]]
) -> None:
    with Nginx(server.port) as proxy:
        websocket.create_connection(proxy.url, timeout=5).close()
        # A client may send its own X-Forwarded-For: nginx appends the address it sees.
        ws = websocket.create_connection(
            proxy.url, timeout=5, header=["X-Forwarded-For: 203.0.113.7"]
        )
        ws.close()
    assert seen[0]["x-real-ip"] == "127.0.0.1"
    assert seen[0]["x-forwarded-for"] == "127.0.0.1"
    assert seen[1]["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert seen[1]["x-real-ip"] == "127.0.0.1"  # $remote_addr: not what the client claims


@needs_nginx
@pytest.mark.parametrize(
    ("broken", "says"),
    [
        ("no-http-1.1", "HTTP/1.1"),  # nginx speaks HTTP/1.0 upstream
        ("no-upgrade", "'Upgrade: websocket', but it is missing"),  # a handshake attempt
        ("no-connection", "got 'close'"),  # nginx's default Connection: close
        ("connection-keep-alive", "got 'keep-alive'"),
    ],
)
def test_each_broken_variant_fails_as_measured(
    server: wslib.Server, broken: str, says: str
) -> None:
    # The statuses exercise 08.which-header expects are the ones measured here.
    status = MEASURED_STATUS[broken]
    with Nginx(server.port, broken=broken) as proxy:
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            websocket.create_connection(proxy.url, timeout=5)
    error = info.value
    assert error.status_code == status
    assert error.resp_headers["server"].startswith("nginx")  # nginx relays the server's answer
    assert error.resp_body is not None and says in error.resp_body.decode()
    # And the fixed recipe works against the same server.
    with Nginx(server.port) as proxy:
        websocket.create_connection(proxy.url, timeout=5).close()


@needs_nginx
def test_read_timeout_cuts_an_idle_connection() -> None:
    result, _ = idle_run(1.0, seconds=4, capture_ports=False)
    assert result["lived"] is not None and 0.9 <= result["lived"] <= 1.8, result
    assert result["client_error"].startswith("WebSocketConnectionClosedException")
    assert result["server_code"] == 1006  # no close frame: nginx just closed TCP
    assert any("upstream timed out" in line for line in result["error_log"])


@needs_nginx
@pytest.mark.parametrize("heartbeat", ["server", "client"])
def test_pings_below_the_timeout_keep_it_alive(heartbeat: str) -> None:
    result, _ = idle_run(1.0, heartbeat=heartbeat, interval=0.4, seconds=3, capture_ports=False)
    assert result["lived"] is None, result  # still open after three timeouts' worth of quiet
    assert result["pings" if heartbeat == "server" else "pongs"] >= 5
    assert result["server_code"] == 1000  # closed cleanly by the client at the end
    assert result["error_log"] == []


@needs_nginx
def test_nginx_is_always_stopped(server: wslib.Server) -> None:
    before = set(_children())
    with pytest.raises(RuntimeError, match="boom"):
        with Nginx(server.port) as proxy:
            pid = proxy.process.pid if proxy.process else 0
            assert pid in _children()
            raise RuntimeError("boom")
    assert not proxy.running
    assert set(_children()) <= before
    assert proxy.prefix is not None and not proxy.prefix.exists()  # its files are gone
    assert "exit" in proxy.error_log()  # the logs are kept after stop


@needs_nginx
def test_stop_kills_an_nginx_that_ignores_sigterm(server: wslib.Server) -> None:
    proxy = Nginx(server.port, stop_timeout=0.5)
    proxy.start()
    assert proxy.process is not None
    os.kill(proxy.process.pid, signal.SIGSTOP)  # a stopped process cannot handle SIGTERM
    try:
        proxy.stop()
    finally:
        if proxy.process is not None:  # pragma: no cover
            proxy.process.kill()
    assert not proxy.running


@needs_nginx
def test_a_failed_start_says_why(server: wslib.Server) -> None:
    with pytest.raises(ProxyError, match=r"emerg|exited"):
        with Nginx(server.port, location="/ {"):  # not valid nginx configuration
            pass  # pragma: no cover


@needs_nginx
def test_wsdump_through_nginx(server: wslib.Server) -> None:
    wsdump = os.path.join(os.path.dirname(sys.executable), "wsdump")
    with Nginx(server.port) as proxy:
        done = subprocess.run(
            [wsdump, "--eof-wait", "1", proxy.url],
            input="123\n456\n",
            capture_output=True,
            text=True,
            timeout=15,
            env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
        )
    assert "123" in done.stdout and "456" in done.stdout, done


# --- the experiments notebooks 08 and 09 show (and ship as data/pcaps/*.json) ---------------------


def test_connection_option_replaces_only_the_connection_line() -> None:
    recipe = nginx_config(1, 2, prefix="/p").splitlines()
    constant = nginx_config(1, 2, prefix="/p", connection='"upgrade"').splitlines()
    changed = [
        (a.strip(), b.strip()) for a, b in zip(recipe[1:], constant[1:], strict=True) if a != b
    ]
    assert changed == [
        (
            "proxy_set_header Connection $connection_upgrade;",
            'proxy_set_header Connection "upgrade";',
        )
    ]
    with pytest.raises(ValueError, match="one nginx value"):
        nginx_config(1, 2, connection="upgrade; proxy_pass http://elsewhere")
    with pytest.raises(ValueError, match="both set the Connection line"):
        Nginx(1, connection="upgrade", broken="no-connection")


@needs_nginx
def test_header_echo_shows_what_a_plain_request_carries_through_nginx() -> None:
    import urllib.request

    with tools.without_proxy_variables():
        for connection, expected in ((None, "close"), ('"upgrade"', "upgrade")):
            with HeaderEcho() as upstream, Nginx(upstream.port, connection=connection) as proxy:
                body = urllib.request.urlopen(f"http://127.0.0.1:{proxy.port}/", timeout=5).read()
            assert body.decode().startswith("GET / HTTP/1.1\n")
            assert upstream.requests[-1]["Connection"] == expected


@needs_nginx
def test_try_recipe_reports_the_status_and_the_body(server: wslib.Server) -> None:
    row = try_recipe(server.port, "no-connection")
    assert row["status"] == MEASURED_STATUS["no-connection"]
    assert row["exception"] == "WebSocketBadStatusException" and "Connection" in row["body"]
    assert try_recipe(server.port)["status"] == 101


@needs_nginx
def test_forwarded_for_matches_the_shipped_results() -> None:
    from wslib.lab.scenario import recorded

    got = forwarded_for()
    shipped = recorded("nginx-forwarded-for")["results"]
    for which in ("plain", "claimed"):
        for name in ("Host", "X-Real-IP", "X-Forwarded-For", "Upgrade", "Connection"):
            assert got[which][name] == shipped[which][name], (which, name)
    assert got["claimed"]["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert "< 123" in got["wsdump"]["output"] and "< 456" in got["wsdump"]["output"]
    assert got["wsdump"]["exit_status"] == 0


@needs_nginx
def test_client_heartbeat_keeps_it_open_with_a_pong_per_interval() -> None:
    result = client_heartbeat(1.0, interval=0.4, seconds=2.0)
    assert result["open at the end"], result
    assert result["messages"] == 1 and result["pongs"] >= 3
    events = [event for _, event in result["timeline"]]
    assert events[0] == "message" and "client closes" in events


@needs_nginx
def test_heartbeat_run_pings_slower_than_the_idle_timeout_are_too_late() -> None:
    result = heartbeat_run(1.0, client_ping_interval=1.2, client_ping_timeout=0.5, seconds=4.0)
    # nginx cut it one idle timeout after the message, before the first ping: no close frame
    assert result["closed_after"] is not None and 0.9 <= result["closed_after"] < 4.0, result
    assert result["close_code"] is None and result["server_sent_code"] is None, result
    assert result["server_code"] == 1006 and result["pongs"] == 0, result


@needs_nginx
def test_heartbeat_run_a_late_pong_makes_the_server_close_with_1011() -> None:
    # no pong comes back through nginx within a microsecond: the first ping fails the connection
    result = heartbeat_run(2.0, server_ping_interval=0.4, server_ping_timeout=1e-6, seconds=5.0)
    assert result["server_sent_code"] == 1011, result
    assert result["server_sent_reason"] == "keepalive ping timeout", result
    assert result["close_code"] in (None, 1011), result  # a reset can beat the close frame
    assert result["closed_after"] is not None and result["pings"] >= 1, result


@needs_nginx
def test_heartbeat_run_reports_a_connection_still_open_as_not_closed() -> None:
    result = heartbeat_run(1.0, client_ping_interval=0.4, client_ping_timeout=0.2, seconds=2.0)
    assert result["closed_after"] is None and result["close_code"] is None, result
    assert result["pongs"] >= 3 and result["client_error"] is None, result
