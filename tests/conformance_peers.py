"""Echo peers for the conformance tests: wslib's, the websockets library's, and a broken one.

Each server is a context manager that yields its ``ws://`` URL and stops every thread it started;
each client is a function of the URL that echoes until the connection closes.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import websockets.exceptions
import websockets.sync.client
import websockets.sync.server

import wslib
from wslib.handshake import Request, accept
from wslib.lab.rawserver import RawServer
from wslib.protocol import SEND_EOF, BinaryMessage, Connection, Side, State, TextMessage
from wslib.streams import StreamReader

#: Large enough for the suite's 16 MiB messages (the defaults, 1 MiB, would close with 1009:
#: INFORMATIONAL, which is also fine, but the echo is what the tests want to see).
MAX_SIZE = 32 << 20


def _echo(conn: wslib.ServerConnection) -> None:
    try:
        for message in conn:
            conn.send(message)
    except wslib.ConnectionClosed:
        pass


@contextmanager
def wslib_server() -> Iterator[str]:
    with wslib.serve(_echo, max_size=MAX_SIZE, ping_interval=None, close_timeout=2) as server:
        yield f"ws://127.0.0.1:{server.port}/"


@contextmanager
def wslib_asyncio_server() -> Iterator[str]:
    """The same echo on wslib.asyncio (its coroutine echo, on a loop thread: tests/servers.py)."""
    from .servers import LoopServer
    from .test_server import echo

    options = {"max_size": MAX_SIZE, "ping_interval": None, "close_timeout": 2}
    with LoopServer(echo, **options) as server:
        yield f"ws://127.0.0.1:{server.port}/"


def wslib_asyncio_client(url: str) -> None:
    """The same echo client on wslib.asyncio, on its own event loop."""
    import asyncio

    import wslib.asyncio

    async def echo() -> None:
        options = {"max_size": MAX_SIZE, "ping_interval": None, "close_timeout": 2}
        async with wslib.asyncio.connect(url, **options) as conn:
            try:
                async for message in conn:
                    await conn.send(message)
            except wslib.ConnectionClosed:
                pass

    asyncio.run(echo())


def wslib_client(url: str) -> None:
    with wslib.connect(url, max_size=MAX_SIZE, ping_interval=None, close_timeout=2) as conn:
        try:
            for message in conn:
                conn.send(message)
        except wslib.ConnectionClosed:
            pass


def _websockets_echo(ws: websockets.sync.server.ServerConnection) -> None:
    try:
        for message in ws:
            ws.send(message)
    except websockets.exceptions.ConnectionClosed:
        pass


@contextmanager
def websockets_server() -> Iterator[str]:
    server = websockets.sync.server.serve(
        _websockets_echo, "127.0.0.1", 0, max_size=MAX_SIZE, ping_interval=None, close_timeout=2
    )
    thread = threading.Thread(target=server.serve_forever, name="websockets-server")
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
    finally:
        server.shutdown()
        thread.join(10)


def websockets_client(url: str) -> None:
    with websockets.sync.client.connect(
        url, max_size=MAX_SIZE, ping_interval=None, close_timeout=2, proxy=None
    ) as ws:
        try:
            for message in ws:
                ws.send(message)
        except websockets.exceptions.ConnectionClosed:
            pass


class BrokenEchoServer(RawServer):
    """An echo server with one defect: it echoes text messages as *binary* ones.

    Built on wslib's sans-I/O :class:`~wslib.protocol.Connection` over raw sockets, so that
    everything else (pings, closing, errors) is wslib's behaviour.
    """

    name = "broken"

    def handle(self, sock: socket.socket) -> None:
        reader = StreamReader()
        parser = Request.parse(reader.read_line)
        next(parser)
        request = None
        while request is None and not self.stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            reader.feed_data(data)
            try:
                parser.send(None)
            except StopIteration as done:
                request = done.value
        if request is None:
            return
        sock.sendall(accept(request).serialize())
        conn = Connection(Side.SERVER, max_size=MAX_SIZE)
        if reader.buffer:
            conn.receive_data(bytes(reader.buffer))
        while not self.stop.is_set():
            for event in conn.events_received():
                if conn.state is not State.OPEN:
                    continue  # no data frames after a close frame (RFC 6455 §5.5.1)
                if isinstance(event, TextMessage):
                    conn.send_binary(event.data.encode())  # the defect: text as binary
                elif isinstance(event, BinaryMessage):
                    conn.send_binary(event.data)
            for out in conn.data_to_send():
                try:
                    if out == SEND_EOF:
                        sock.shutdown(socket.SHUT_WR)
                    else:
                        sock.sendall(out)
                except OSError:  # the peer is gone already
                    return
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if data:
                conn.receive_data(data)
            else:
                conn.receive_eof()
                for out in conn.data_to_send():
                    if out:
                        sock.sendall(out)
                return
