"""wslib.asyncio as an application uses it: coroutines, ``async with``, ``async for``.

The protocol, bad-input, interop and conformance tests already run against the asyncio server
(through tests/servers.py); these tests use the asyncio API itself, and its client against
the threaded server and the ``websockets`` library's asyncio server.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
import websockets.asyncio.server

import wslib
import wslib.asyncio
from wslib.broadcast import TOO_SLOW, Slow

from .test_server import no_thread_left

__all__ = ["no_thread_left"]

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 30))


async def echo(conn: wslib.asyncio.ServerConnection) -> None:
    async for message in conn:
        await conn.send(message)


def test_echo_path_headers_and_subprotocol() -> None:
    seen: dict[str, Any] = {}

    async def handler(conn: wslib.asyncio.ServerConnection) -> None:
        seen["path"] = conn.path
        seen["xff"] = conn.request_headers.get("X-Forwarded-For")
        seen["subprotocol"] = conn.subprotocol
        await echo(conn)

    async def main() -> list[Any]:
        async with wslib.asyncio.serve(handler, subprotocols=["chat"]) as server:
            uri = f"ws://127.0.0.1:{server.port}/room?x=1"
            headers = [("X-Forwarded-For", "203.0.113.7")]
            async with wslib.asyncio.connect(
                uri, subprotocols=["chat"], additional_headers=headers
            ) as conn:
                await conn.send("héllo")
                await conn.send(b"\x00\xff")
                await conn.send(["frag", "men", "ted"])
                got = [await conn.recv(timeout=5) for _ in range(3)]
                return [*got, conn.subprotocol]

    assert run(main()) == ["héllo", b"\x00\xff", "fragmented", "chat"]
    assert seen == {"path": "/room?x=1", "xff": "203.0.113.7", "subprotocol": "chat"}


def test_await_serve_close_with_1012_and_handler_errors_give_1011() -> None:
    async def broken(conn: wslib.asyncio.ServerConnection) -> None:
        if conn.path == "/broken":
            await conn.recv()
            raise RuntimeError("secret")
        await echo(conn)

    async def main() -> tuple[Any, ...]:
        server = await wslib.asyncio.serve(broken)
        url = f"ws://127.0.0.1:{server.port}"
        conn = await wslib.asyncio.connect(url + "/broken")
        await conn.send("boom")
        with pytest.raises(wslib.ConnectionClosedError) as info:
            await conn.recv(timeout=5)
        other = await wslib.asyncio.connect(url + "/")
        await server.close(1012, "restarting")
        with pytest.raises(wslib.ConnectionClosedError) as restart:
            await other.recv(timeout=5)
        return info.value.code, info.value.reason, restart.value.code, restart.value.reason

    assert run(main()) == (1011, "", 1012, "restarting")


def test_asyncio_client_with_the_threaded_server() -> None:
    async def main(port: int) -> list[Any]:
        async with wslib.asyncio.connect(f"ws://127.0.0.1:{port}/") as conn:
            await conn.send("one")
            pong = await conn.ping(b"p")
            await asyncio.wait_for(pong, 5)
            return [await conn.recv(timeout=5), conn.close_code]

    def sync_echo(conn: wslib.ServerConnection) -> None:
        for message in conn:
            conn.send(message)

    with wslib.serve(sync_echo) as server:
        assert run(main(server.port)) == ["one", None]


def test_asyncio_client_with_the_websockets_asyncio_server() -> None:
    async def ws_echo(ws: Any) -> None:
        async for message in ws:
            if message == "close me":
                await ws.close(4003, "bye")
            else:
                await ws.send(message)

    async def main() -> list[Any]:
        async with websockets.asyncio.server.serve(ws_echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with wslib.asyncio.connect(f"ws://127.0.0.1:{port}/") as conn:
                await conn.send("text")
                await conn.send(bytes(range(256)) * 4096)  # 1 MiB
                got = [await conn.recv(timeout=5), len(await conn.recv(timeout=5))]
                await conn.send("close me")
                with pytest.raises(wslib.ConnectionClosedError):
                    await conn.recv(timeout=5)
                return [*got, conn.close_code, conn.close_reason]

    assert run(main()) == ["text", 2**20, 4003, "bye"]


def test_broadcast_closes_a_client_that_cannot_keep_up_with_1008() -> None:
    async def wait(conn: wslib.asyncio.ServerConnection) -> None:
        async for _ in conn:
            pass

    async def main() -> tuple[Any, ...]:
        async with wslib.asyncio.serve(wait, ping_interval=None, write_limit=4096) as server:
            fast = await wslib.asyncio.connect(f"ws://127.0.0.1:{server.port}/", max_queue=1000)
            stuck = socket.create_connection(("127.0.0.1", server.port))
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            stuck.sendall(
                f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            deadline = time.monotonic() + 5
            while len(server.connections) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            results = []
            for _ in range(100):  # 6 MiB: the stuck client's buffers fill, then its queue
                results.append(server.broadcast(bytes(65536), slow=Slow.CLOSE))
                await asyncio.sleep(0.001)
                for _ in range(len(fast._inbox)):
                    await fast.recv()
            closed = [conn for r in results for conn in r.slow]
            stuck.close()
            await fast.close()
            sent = closed[0].protocol.close_sent  # the close frame the server sent it
            return sum(r.closed for r in results), sent.code, sent.reason

    # closed once (1008, policy violation), then gone for the broadcasts after it
    assert run(main()) == (1, 1008, TOO_SLOW)


def test_connect_refuses_a_bad_101_and_times_out() -> None:
    async def main(port: int) -> None:
        with pytest.raises(wslib.InvalidResponse):
            await wslib.asyncio.connect(f"ws://127.0.0.1:{port}/")

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        async def serve_garbage() -> None:
            loop = asyncio.get_running_loop()
            listener.setblocking(False)
            conn, _ = await loop.sock_accept(listener)
            await loop.sock_sendall(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            conn.close()

        async def both() -> None:
            await asyncio.gather(serve_garbage(), main(port))

        run(both())

    async def silent() -> None:
        with socket.create_server(("127.0.0.1", 0)) as quiet:
            with pytest.raises(TimeoutError):
                await wslib.asyncio.connect(
                    f"ws://127.0.0.1:{quiet.getsockname()[1]}/", timeout=0.3
                )

    run(silent())


def test_a_burst_of_300_clients_is_not_pushed_out() -> None:
    """The event loop accepts a whole burst before it reads a request: the limit on handshakes
    in progress must not push out real clients whose requests are already in the kernel."""

    async def main() -> list[bool]:
        async with wslib.asyncio.serve(echo, ping_interval=None) as server:
            loop = asyncio.get_running_loop()
            request = (
                f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
            socks = []
            for _ in range(300):  # connect and send, all before the server's loop runs again
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                sock.sendall(request)
                sock.setblocking(False)
                socks.append(sock)

            async def answered(sock: socket.socket) -> bool:
                try:
                    data = await asyncio.wait_for(loop.sock_recv(sock, 4096), 10)
                except (OSError, asyncio.TimeoutError):
                    return False
                return data.startswith(b"HTTP/1.1 101")

            results = list(await asyncio.gather(*(answered(s) for s in socks)))
            for sock in socks:
                sock.close()
            return results

    results = run(main())
    assert sum(results) == 300, f"{300 - sum(results)} of 300 were refused or cut"
