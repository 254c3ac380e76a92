"""wslib.lab.broker: a real redis-server started on a free port, RESP by hand, always stopped."""

from __future__ import annotations

import socket

import pytest
import redis

from wslib.lab import broker, tools

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not tools.redis_server().available, reason="redis-server is not installed"),
]


def test_resp_commands_are_arrays_of_bulk_strings() -> None:
    assert broker.encode_command("PUBLISH", "chat", "hi") == (
        b"*3\r\n$7\r\nPUBLISH\r\n$4\r\nchat\r\n$2\r\nhi\r\n"
    )
    # Lengths count bytes, not characters: "é" is 2 bytes in UTF-8.
    assert broker.encode_command("SET", "k", "é").endswith(b"$2\r\n\xc3\xa9\r\n")


def test_starts_answers_and_stops_without_a_trace() -> None:
    with broker.RedisServer() as server:
        assert server.running
        assert server.command_once("PING") == "PONG"
        assert server.command_once("SET", "greeting", "hello") == "OK"
        client = redis.Redis(port=server.port)
        try:
            assert client.get("greeting") == b"hello"
            # Persistence is off: nothing is written to disk behind the learner's back.
            assert client.config_get("save") == {"save": ""}
        finally:
            client.close()
        directory = server.directory
        assert directory is not None and directory.exists()
        port, process = server.port, server.process
    assert not server.running and process is not None and process.poll() is not None
    assert not directory.exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    assert "Ready to accept connections" in server.log()


def test_only_127_0_0_1() -> None:
    with broker.RedisServer() as server:
        assert "--bind" in server.command
        assert server.command[server.command.index("--bind") + 1] == "127.0.0.1"


def test_pubsub_reaches_only_current_subscribers() -> None:
    with broker.RedisServer() as server:
        client = redis.Redis(port=server.port)
        sub = client.pubsub()
        try:
            assert client.publish("chat", "before anyone listens") == 0  # lost: at-most-once
            sub.subscribe("chat")
            assert sub.get_message(timeout=2)["type"] == "subscribe"
            assert client.publish("chat", "hello") == 1
            message = sub.get_message(timeout=2)
            assert message is not None and message["data"] == b"hello"
        finally:
            sub.close()
            client.close()


def test_errors_are_raised_with_redis_words() -> None:
    with broker.RedisServer() as server:
        with pytest.raises(broker.BrokerError, match="unknown command"):
            server.command_once("NO-SUCH-COMMAND")


def test_a_missing_binary_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tools.Tool("redis-server", False, "not on PATH", "Install it.")
    monkeypatch.setattr(tools, "redis_server", lambda: missing)
    with pytest.raises(broker.BrokerUnavailable) as caught:
        broker.RedisServer()
    assert str(caught.value) == "redis-server is not installed: Install it."
