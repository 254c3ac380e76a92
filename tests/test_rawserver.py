"""wslib.lab.rawserver: accept on a free loopback port, a thread per connection, all stopped."""

from __future__ import annotations

import socket
import threading

from wslib.lab.rawserver import RawServer


class Upper(RawServer):
    name = "upper"

    def handle(self, sock: socket.socket) -> None:
        data = self.recv(sock)
        if data == b"boom":
            raise RuntimeError("a handler that fails")
        sock.sendall(data.upper())


def test_each_connection_gets_its_own_thread_and_close_stops_them_all() -> None:
    before = set(threading.enumerate())
    with Upper() as server:
        assert server.url == f"ws://127.0.0.1:{server.port}/"
        clients = [
            socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(3)
        ]
        for i, client in enumerate(clients):
            client.sendall(f"hello {i}".encode())
        assert [c.recv(100) for c in clients] == [f"HELLO {i}".encode() for i in range(3)]
        # a connection whose handler never gets data still ends when the server stops
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    assert set(threading.enumerate()) == before
    assert idle.recv(1) == b""  # the server closed its side
    for sock in [*clients, idle]:
        sock.close()


def test_a_failing_handler_does_not_stop_the_server() -> None:
    with Upper() as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as bad:
            bad.sendall(b"boom")
            assert bad.recv(1) == b""  # its socket is closed anyway
        assert [str(e) for e in server.crashes] == ["a handler that fails"]
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as good:
            good.sendall(b"still here")
            assert good.recv(100) == b"STILL HERE"
