"""The cluster of notebook 14 with the real things: redis-server, nginx, server processes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest

import wslib
from wslib.lab import broker, tools
from wslib.lab.broker import RedisServer
from wslib.lab.cluster import MODES, ChatNode, Cluster, stream_id
from wslib.lab.daemon import free_port as socket_free_port
from wslib.lab.failover import failover_run, fanout_latency
from wslib.lab.path import capture_message_path, message_path, parse_resp
from wslib.lab.tools import PCAP_DIR

from . import test_interop

browser = test_interop.browser  # the headless Chromium fixture

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.slow,
    pytest.mark.skipif(
        not (tools.redis_server().available and tools.nginx().available),
        reason="the cluster needs redis-server and nginx",
    ),
]


def hello(conn: wslib.ClientConnection) -> str:
    message = json.loads(conn.recv(timeout=5))
    assert message["type"] == "hello"
    return str(message["node"])


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_stream_ids_compare_as_numbers() -> None:
    assert stream_id("1733241600000-10") > stream_id("1733241600000-9")
    assert stream_id("99-0") < stream_id("100-0")


@pytest.mark.parametrize("mode", MODES)
def test_a_message_sent_on_one_server_reaches_the_clients_of_the_others(mode: str) -> None:
    with Cluster(2, mode) as cluster:
        a = wslib.connect(cluster.url, ping_interval=None)
        b = wslib.connect(cluster.url, ping_interval=None)
        with a, b:
            # nginx's round robin put them on different servers.
            assert {hello(a), hello(b)} == {"A", "B"}
            a.send(json.dumps({"text": "hi from a", "sent": 1.5}))
            for conn in (a, b):
                message = json.loads(conn.recv(timeout=5))
                assert message["text"] == "hi from a"
                assert message["sent"] == 1.5
                assert ("id" in message) is (mode == "streams")


def test_the_page_is_served_by_nginx_next_to_the_websocket() -> None:
    with Cluster(1, "pubsub") as cluster:
        with urllib.request.urlopen(cluster.page, timeout=5) as response:
            page = response.read().decode()
    assert "new WebSocket(" in page and "COME_BACK_LATER" in page


def test_a_bad_resume_id_is_refused_with_1008() -> None:
    with Cluster(1, "streams") as cluster:
        with wslib.connect(cluster.url + "?after=yesterday", ping_interval=None) as conn:
            hello(conn)
            with pytest.raises(wslib.ConnectionClosed):
                conn.recv(timeout=5)
            assert conn.close_code == 1008


def test_a_client_that_missed_messages_gets_them_on_resume() -> None:
    with Cluster(2, "streams") as cluster:
        with wslib.connect(cluster.node_urls[0], ping_interval=None) as sender:
            hello(sender)
            sender.send("one")
            first = json.loads(sender.recv(timeout=5))
            sender.send("two")
            sender.send("three")
            assert [json.loads(sender.recv(timeout=5))["text"] for _ in range(2)] == [
                "two",
                "three",
            ]
        url = f"{cluster.node_urls[1]}?after={first['id']}"
        with wslib.connect(url, ping_interval=None) as late:
            assert hello(late) == "B"
            replay = [json.loads(late.recv(timeout=5))["text"] for _ in range(2)]
            assert replay == ["two", "three"]


def test_killed_server_with_pubsub_loses_messages_and_streams_lose_none() -> None:
    pubsub = failover_run("pubsub", how="kill")
    streams = failover_run("streams", how="kill")
    for result in (pubsub, streams):
        assert result.moved, result.summary()  # the victim had clients, and they came back
        for client in result.moved:
            codes = [a.code for a in client.history if a.kind == "closed"]
            assert codes[0] == 1006, result.summary()  # SIGKILL: no close frame
            assert client.nodes[1] != result.victim
    assert pubsub.total_lost > 0, pubsub.summary()  # at-most-once: the gap is gone
    assert all(not pubsub.lost(c) for c in pubsub.clients if c not in pubsub.moved)
    assert streams.total_lost == 0, streams.summary()
    assert all(streams.duplicates(c) == 0 for c in streams.clients)


def test_graceful_stop_closes_with_1012_and_streams_lose_nothing() -> None:
    result = failover_run("streams", how="terminate")
    assert result.moved, result.summary()
    for client in result.moved:
        assert next(a.code for a in client.history if a.kind == "closed") == 1012
    assert result.total_lost == 0, result.summary()


def test_fanout_latency_is_measured_for_both_kinds_of_client() -> None:
    got = fanout_latency(2, messages=20)
    assert len(got["same"]) == 20 and len(got["cross"]) == 20
    assert all(0 <= d < 5 for d in got["same"] + got["cross"])


def test_the_command_runs_everything_and_ctrl_c_stops_everything() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "wslib.cluster", "--servers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        text = "".join(lines)
        page = re.search(r"open (http://127\.0\.0\.1:\d+/)", text)
        nodes = re.findall(r"server [AB]: (ws://127\.0\.0\.1:(\d+)/chat)", text)
        redis_port = re.search(r"redis://127\.0\.0\.1:(\d+)/", text)
        assert page and len(nodes) == 2 and redis_port, text
        with urllib.request.urlopen(page.group(1), timeout=5) as response:
            assert response.status == 200
        a = wslib.connect(nodes[0][0], ping_interval=None)
        b = wslib.connect(nodes[1][0], ping_interval=None)
        with a, b:
            assert (hello(a), hello(b)) == ("A", "B")
            a.send("across the cluster")
            assert json.loads(b.recv(timeout=5))["text"] == "across the cluster"
        process.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert process.wait(20) == 0
        assert "stopped" in process.stdout.read()
        ports = [int(port) for _, port in nodes] + [int(redis_port.group(1))]
        ports.append(int(page.group(1).rsplit(":", 1)[1].strip("/")))
        deadline = time.monotonic() + 5
        while any(accepts(p) for p in ports) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(accepts(p) for p in ports)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


# --- one message's path, from a capture ----------------------------------------------------------

EXPECTED_PATH = [
    ("client 1", "nginx", "websocket"),
    ("nginx", "server A", "websocket"),
    ("server A", "Redis", "redis"),  # PUBLISH
    ("Redis", "server B", "redis"),  # the push to the other subscriber
    ("server B", "nginx ", "websocket"),
    ("nginx ", "client 2", "websocket"),
]


def check_path(hops: list[Any]) -> None:
    # The message's hops, in order (other hops, such as A's local delivery, come in between).
    sent = next(i for i, h in enumerate(hops) if h.source == "client 1")
    along = [(h.source, h.target, h.kind) for h in hops[sent:]]
    position = 0
    for step in EXPECTED_PATH:
        assert step in along[position:], (step, along)
        position = along.index(step, position) + 1
    publish = next(h for h in hops if h.label.startswith("PUBLISH"))
    assert "hi from client 1" in publish.label
    assert [h.time for h in hops] == sorted(h.time for h in hops)


def test_the_shipped_capture_shows_every_leg_of_a_message() -> None:
    check_path(message_path(PCAP_DIR / "cluster-path.pcap"))


def test_a_live_capture_shows_every_leg_of_a_message() -> None:
    if not tools.capture_privileges():
        pytest.skip("capturing needs privileges")
    cap, where = capture_message_path()
    assert where == {"client 1": "A", "client 2": "B"}
    assert not cap.dropped
    check_path(message_path(cap))


def test_resp_segments_are_parsed_whole() -> None:
    data = b"*3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$2\r\nhi\r\n:2\r\n+OK\r\n$-1\r\n*1\r\n$3\r\nab"
    assert parse_resp(data) == [[b"message", b"chat", b"hi"], 2, "OK", None]


# --- the browser page: JavaScript that reconnects and resumes -----------------------------------


def test_the_page_in_chromium_survives_its_server_dying_and_misses_nothing(browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def status() -> str:
        return str(browser.find_element(By.ID, "status").text)

    def lines() -> list[str]:
        return [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#log li")][::-1]

    with Cluster(2, "streams") as cluster:
        browser.get(cluster.page)
        WebDriverWait(browser, 10).until(lambda _: status().startswith("connected to server"))
        home = status().rsplit(" ", 1)[1]
        other = "B" if home == "A" else "A"
        with wslib.connect(cluster.node_urls[cluster.names.index(other)], ping_interval=None) as me:
            hello(me)
            me.send("before")
            WebDriverWait(browser, 10).until(lambda _: lines() == [f"[{other}] before"])
            cluster.kill(home)  # SIGKILL: the page sees 1006
            me.send("while you were away")
            WebDriverWait(browser, 15).until(lambda _: status() == f"connected to server {other}")
            me.send("after")
            WebDriverWait(browser, 10).until(lambda _: len(lines()) >= 3)
            time.sleep(0.3)  # a duplicate would show up now
    assert lines() == [f"[{other}] before", f"[{other}] while you were away", f"[{other}] after"]


# --- regressions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_server_hears_the_others_as_soon_as_it_serves(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found in a recording: on a busy machine, a server's reader thread started late, and with
    # "$" (streams) or a SUBSCRIBE not yet sent (pub/sub), the first messages of the others
    # were lost for its clients. Where to start reading must be fixed before serving.
    reader = "_read_pubsub" if mode == "pubsub" else "_read_stream"
    original = getattr(ChatNode, reader)

    def late(self: ChatNode, *args: Any) -> None:
        time.sleep(0.5)  # the reader thread gets the CPU late
        original(self, *args)

    monkeypatch.setattr(ChatNode, reader, late)
    with RedisServer() as redis_server:
        a = ChatNode("A", redis_server.port, mode)
        b = ChatNode("B", redis_server.port, mode)
        port_a, port_b = a.start(), b.start()
        try:
            with (
                wslib.connect(f"ws://127.0.0.1:{port_a}/chat", ping_interval=None) as on_a,
                wslib.connect(f"ws://127.0.0.1:{port_b}/chat", ping_interval=None) as on_b,
            ):
                hello(on_a), hello(on_b)
                on_b.send("early")  # while A's reader is still asleep
                assert json.loads(on_a.recv(timeout=5))["text"] == "early"
        finally:
            a.stop()
            b.stop()


def test_a_server_whose_parent_was_killed_stops_by_itself() -> None:
    # The cluster's servers run in sessions of their own (so that Ctrl-C reaches the command,
    # which stops them in order); if the command is SIGKILLed instead, they must not linger.
    with broker.RedisServer() as redis_server:
        port = socket_free_port()
        parent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import subprocess, sys, time; "
                "subprocess.Popen([sys.executable, '-m', 'wslib.lab.cluster', 'node', '--name', "
                f"'A', '--port', '{port}', '--redis-port', '{redis_server.port}', "
                "'--mode', 'pubsub'], start_new_session=True); time.sleep(60)",
            ]
        )
        try:
            deadline = time.monotonic() + 10
            while not accepts(port):
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
            parent.kill()  # SIGKILL: no chance to stop its child
            parent.wait(5)
            deadline = time.monotonic() + 10
            while accepts(port):
                assert time.monotonic() < deadline, "the orphaned server is still serving"
                time.sleep(0.1)
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait(5)
