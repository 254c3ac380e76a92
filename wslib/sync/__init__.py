"""WebSocket over blocking sockets and threads: :func:`serve` (a server) and :func:`connect`.

- :mod:`wslib.sync.connection`: :class:`SyncConnection`, the sans-I/O
  :class:`wslib.protocol.Connection` driven by a reader thread; what server and client share.
- :mod:`wslib.sync.server`: :func:`serve` and :class:`Server`, one thread per connection, as in
  the article.
- :mod:`wslib.sync.client`: :func:`connect`, a blocking client.
- :mod:`wslib.sync.reconnect`: :func:`reconnecting`, a client that opens a new connection (with
  backoff) each time one ends with a "come back later" close code.

These are the only modules of the protocol library that touch the network. ``wslib.serve`` and
``wslib.connect`` are the same functions.
"""

from __future__ import annotations

from .client import ClientConnection, connect
from .connection import SyncConnection
from .reconnect import Reconnecting, reconnecting
from .server import Server, ServerConnection, serve

__all__ = [
    "ClientConnection",
    "Reconnecting",
    "Server",
    "ServerConnection",
    "SyncConnection",
    "connect",
    "reconnecting",
    "serve",
]
