"""WebSocket on an asyncio event loop: :func:`serve` (a server) and :func:`connect` (a client).

The sibling of :mod:`wslib.sync` on the same sans-I/O core (:mod:`wslib.protocol`, and the
decisions both share: :mod:`wslib.serving`, :mod:`wslib.timing`, :mod:`wslib.broadcast`); neither
imports the other.

- :mod:`wslib.asyncio.connection`: :class:`AsyncConnection`, the protocol driven by the event
  loop (an :class:`asyncio.Protocol`), with backpressure both ways, and :func:`broadcast`.
- :mod:`wslib.asyncio.server`: :func:`serve` and :class:`Server`, one task per connection.
- :mod:`wslib.asyncio.client`: :func:`connect`.
- :mod:`wslib.asyncio.reconnect`: :func:`reconnecting`, a client that comes back (with backoff)
  when its connection ends with a "come back later" close code.

``import wslib.asyncio`` is explicit: ``import wslib`` loads only the threaded layer.
"""

from __future__ import annotations

from .client import ClientConnection, connect
from .connection import WRITE_LIMIT, AsyncConnection, broadcast
from .reconnect import Reconnecting, reconnecting
from .server import Server, ServerConnection, serve

__all__ = [
    "WRITE_LIMIT",
    "AsyncConnection",
    "ClientConnection",
    "Reconnecting",
    "Server",
    "ServerConnection",
    "broadcast",
    "connect",
    "reconnecting",
    "serve",
]
