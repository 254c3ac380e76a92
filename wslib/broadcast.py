"""One message to many clients, without I/O: serialize the frame once, decide about slow clients.

A server's frames are not masked (RFC 6455 §5.1: "A server MUST NOT mask any frames that it
sends to the client"), so one message is the same bytes for every client: :func:`prepare` builds
them once, and :meth:`wslib.protocol.Connection.send_prepared` queues them on each connection
without serializing again. With 10,000 clients that is one copy of a 1 MiB message, not 10,000.

Each client has a bounded outgoing queue: the bytes queued for it but not yet taken by its TCP
connection, at most :data:`WRITE_LIMIT` (``write_limit``) before a new message counts as too
much (asyncio: the transport's buffer; threads: a queue that a writer thread started for that
client drains, while the broadcasting thread goes on). A client that does not read fills it;
what happens next is the :class:`Slow` policy, the same in both I/O models
(``wslib.sync.broadcast``, ``wslib.asyncio.broadcast``):

- ``Slow.SKIP`` (default): that client misses this message; the others get it at once. Like
  the ``websockets`` library's ``broadcast``: a live feed where the latest value matters.
- ``Slow.CLOSE``: that client's connection is closed with 1008 ("policy violation", RFC 6455
  §7.4.1) and the reason :data:`TOO_SLOW`: a client that must see every message learns it
  fell behind and may reconnect and resynchronize.

Either way a slow client never delays the others: nothing waits for its queue to drain.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .frames import Frame, Opcode

__all__ = [
    "TOO_SLOW",
    "TOO_SLOW_CODE",
    "WRITE_LIMIT",
    "BroadcastResult",
    "Prepared",
    "Slow",
    "prepare",
]

#: The high-water mark of a connection's outgoing queue, in bytes, in both I/O models: a send
#: waits above it (backpressure), and a broadcast treats a client above it as too slow.
WRITE_LIMIT = 2**16

#: The close reason of a client closed by ``Slow.CLOSE``.
TOO_SLOW = "too slow to keep up with the broadcast"
#: Its close code: 1008, policy violation (RFC 6455 §7.4.1).
TOO_SLOW_CODE = 1008


class Slow(enum.Enum):
    """What a broadcast does with a client whose outgoing queue is full."""

    SKIP = "skip"
    CLOSE = "close"


@dataclass(frozen=True)
class Prepared:
    """A message serialized once as a server's frame: ``frame`` (for the trace) and ``data``."""

    frame: Frame
    data: bytes


def prepare(message: str | bytes) -> Prepared:
    """Serialize ``message`` once as an unmasked frame: text for ``str``, binary for ``bytes``."""
    if isinstance(message, str):
        frame = Frame(Opcode.TEXT, message.encode())
    elif isinstance(message, (bytes, bytearray, memoryview)):
        frame = Frame(Opcode.BINARY, bytes(message))
    else:
        raise TypeError(f"cannot broadcast {type(message).__name__}: use str or bytes")
    # A data frame we build breaks no rule of §5.2 whatever its payload: skip the check.
    return Prepared(frame, frame.serialize(mask=False, check=False))


@dataclass
class BroadcastResult:
    """How a broadcast went: ``sent`` clients got the message (queued), ``skipped`` were too
    slow and missed it, ``closed`` were too slow and closed (1008), ``gone`` were closed."""

    sent: int = 0
    skipped: int = 0
    closed: int = 0
    gone: int = 0
    slow: list[object] = field(default_factory=list)  # the slow connections, for the log

    def count(self, conn: object, outcome: str) -> None:
        """Count one client's outcome: ``"sent"``, ``"gone"``, ``"skipped"`` or ``"closed"``
        (what the I/O layers' ``send_prepared_nowait`` returns)."""
        if outcome == "sent":
            self.sent += 1
        elif outcome == "gone":
            self.gone += 1
        else:
            self.slow.append(conn)
            if outcome == "closed":
                self.closed += 1
            else:
                self.skipped += 1
