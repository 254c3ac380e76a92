"""Both wslib servers behind one synchronous face, so that one test runs against either.

``start("sync", handler, **options)`` is :func:`wslib.serve`; ``start("asyncio", ...)`` runs
:func:`wslib.asyncio.serve` on an event loop in a background thread (named ``wslib-test-loop``,
so that the ``no_thread_left`` fixture checks that it stops) and returns a :class:`LoopServer`
with the same ``port``, ``connections``, ``broadcast`` and ``close``.

The tests' handlers are plain functions of a connection (``for message in conn: conn.send(...)``).
The echo handler of the docs runs natively as a coroutine (what the protocol, bad-input and
conformance tests exercise); any other handler runs in a worker thread on a :class:`SyncView`
of the asyncio connection, which calls the connection's coroutines on its loop. Either way the
bytes on the wire are the asyncio server's.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

import wslib
import wslib.asyncio

__all__ = ["KINDS", "LoopServer", "SyncView", "async_echo", "start"]

KINDS = ["sync", "asyncio"]
T = TypeVar("T")


async def async_echo(conn: wslib.asyncio.ServerConnection) -> None:
    """The complete asyncio echo server of the docs."""
    async for message in conn:
        await conn.send(message)


class SyncView:
    """A blocking face of an :class:`wslib.asyncio.ServerConnection`, for a handler thread."""

    def __init__(self, conn: wslib.asyncio.ServerConnection, loop: asyncio.AbstractEventLoop):
        self._conn = conn
        self._loop = loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    def send(self, message: Any) -> None:
        self._run(self._conn.send(message))

    def recv(self, timeout: float | None = None) -> Any:
        return self._run(self._conn.recv(timeout))

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                yield self.recv()
            except wslib.ConnectionClosedOK:
                return

    def ping(self, data: bytes | str | None = None) -> threading.Event:
        event = threading.Event()

        async def ping() -> None:
            waiter = await self._conn.ping(data)
            waiter.add_done_callback(lambda _: event.set())

        self._run(ping())
        return event

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._run(self._conn.close(code, reason))

    def __getattr__(self, name: str) -> Any:  # path, request_headers, close_code, ...
        return getattr(self._conn, name)


class LoopServer:
    """An asyncio wslib server on its own event loop thread, driven from synchronous code."""

    def __init__(self, handler: Callable[[Any], Any], **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="wslib-test-loop", daemon=True
        )
        self.thread.start()
        if handler is echo_handler():
            coroutine_handler: Any = async_echo
        else:

            async def coroutine_handler(conn: wslib.asyncio.ServerConnection) -> None:
                await asyncio.to_thread(handler, SyncView(conn, self.loop))

        try:
            self.server = self.run(wslib.asyncio.serve(coroutine_handler, **options).start())
        except BaseException:
            self._stop_loop()
            raise
        self.port = self.server.port
        self._closed = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def call(self, function: Callable[[], T]) -> T:
        async def call() -> T:
            return function()

        return self.run(call())

    @property
    def connections(self) -> list[Any]:
        return [SyncView(c, self.loop) for c in self.call(lambda: self.server.connections)]

    def broadcast(self, message: Any) -> int:
        return self.call(lambda: self.server.broadcast(message)).sent

    def close(self, code: int = 1001, reason: str = "server shutting down") -> None:
        if self._closed:
            if not wslib.frames.is_sendable_close_code(code):
                raise ValueError(f"close code {code} may not be sent")
            return
        if not wslib.frames.is_sendable_close_code(code):
            raise ValueError(f"close code {code} may not be sent (RFC 6455 §7.4)")
        self._closed = True
        try:
            self.run(self.server.close(code, reason))
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        async def shutdown() -> None:
            await self.loop.shutdown_default_executor()

        try:
            self.run(shutdown())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def __enter__(self) -> LoopServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def echo_handler() -> Callable[[Any], Any]:
    from .test_server import echo  # the one echo handler the tests share

    return echo


def start(kind: str, handler: Callable[[Any], Any] | None = None, **options: Any) -> Any:
    """Start a server of ``kind`` ("sync" or "asyncio"); a context manager (closes on exit)."""
    handler = handler or echo_handler()
    if kind == "sync":
        return wslib.serve(handler, **options)
    if kind == "asyncio":
        return LoopServer(handler, **options)
    raise ValueError(f"unknown server kind {kind!r}")
