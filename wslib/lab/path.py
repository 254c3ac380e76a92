"""One chat message's path through the cluster, read from a capture of every leg.

A client on server A sends a message; a client on server B receives it. On the way it crosses six
TCP connections, and a capture on loopback holds them all: client 1 → nginx, nginx → server A
(WebSocket frames), server A → Redis (``PUBLISH``, in RESP), Redis → server B (the subscriber's
``message`` push), server B → nginx, nginx → client 2 (WebSocket frames again).

:func:`message_path` reads such a capture into :class:`Hop`\\ s, naming every lane from what the
capture itself says: the WebSocket legs by the dissector (:func:`wslib.lab.dissect.conversations`;
a leg whose upgrade request carries nginx's ``X-Forwarded-For`` is nginx → server, and the
server's first frame, ``{"type": "hello", "node": "A"}``, names it), the Redis connections by
the ``CLIENT SETNAME server-A`` that redis-py sends when it connects (which is why
:class:`~wslib.lab.cluster.ChatNode` sets ``client_name``). :func:`capture_message_path` makes
such a capture; :func:`wslib.lab.drawings.draw_path` draws the hops.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from ..frames import Opcode
from ..sync.client import connect
from .broker import BrokerError
from .capture import Capture, capture
from .cluster import Cluster
from .dissect import Endpoint, conversations, tcp_payloads

__all__ = ["LANES", "Hop", "capture_message_path", "message_path", "parse_resp"]

#: The lanes of the drawing, left to right: nginx twice (one process, drawn beside each client).
LANES = ("client 1", "nginx", "server A", "Redis", "server B", "nginx ", "client 2")


@dataclass(frozen=True)
class Hop:
    """One thing that crossed one connection: ``kind`` is ``"websocket"`` (a frame) or
    ``"redis"`` (a RESP command or reply); ``time`` in seconds since the first hop."""

    time: float
    source: str
    target: str
    kind: str
    label: str


def parse_resp(data: bytes) -> list[Any]:
    """Every complete RESP value in ``data`` (one TCP segment), decoded: arrays as lists, bulk
    strings as bytes, ``+OK`` as str, ``:2`` as int, errors as ``Exception``. RESP3's push
    (``>``) is read like an array. Stops at the first incomplete value."""
    values: list[Any] = []
    position = 0

    def value(at: int) -> tuple[Any, int]:
        end = data.index(b"\r\n", at)
        kind, rest = data[at : at + 1], data[at + 1 : end]
        after = end + 2
        if kind in (b"+",):
            return rest.decode("utf-8", "replace"), after
        if kind == b"-":
            return Exception(rest.decode("utf-8", "replace")), after
        if kind == b":":
            return int(rest), after
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None, after
            if len(data) < after + n + 2:
                raise ValueError("incomplete")
            return data[after : after + n], after + n + 2
        if kind in (b"*", b">"):
            items = []
            for _ in range(int(rest)):
                item, after = value(after)
                items.append(item)
            return items, after
        raise ValueError(f"not RESP: {data[at : at + 10]!r}")

    while position < len(data):
        try:
            item, position = value(position)
        except (ValueError, IndexError):
            break
        values.append(item)
    return values


def _words(item: Any) -> list[str]:
    if isinstance(item, list):
        return [w.decode("utf-8", "replace") if isinstance(w, bytes) else str(w) for w in item]
    return [str(item)]


def _preview(text: str, limit: int = 34) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and "text" in data:
        text = repr(data["text"]) + (f" from {data['node']}" if "node" in data else "")
    elif isinstance(data, dict) and data.get("type") == "hello":
        text = f"hello, you are on {data['node']}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: The Redis commands and replies a path keeps (the rest is set-up: CLIENT SETINFO, PING...).
KEEP = {"SUBSCRIBE", "PUBLISH", "XADD", "XREAD", "message"}


def message_path(source: Any) -> list[Hop]:
    """The hops of every chat message in a capture of the cluster (see the module docstring)."""
    legs = conversations(source)
    lane_of: dict[tuple[str, int], str] = {}  # (host, port) of a connection's far end -> lane
    clients = 0
    leg_lanes: dict[tuple[int, int], tuple[str, str]] = {}
    for conv in legs:
        forwarded = conv.request is not None and "X-Forwarded-For" in conv.request.headers
        hello = next((f for f in conv.frames if f.text and '"hello"' in f.text), None)
        node = json.loads(hello.text)["node"] if hello is not None and hello.text else "?"
        if forwarded:
            right = node != "A"  # B is drawn on the right of Redis
            leg_lanes[(conv.client.port, conv.server.port)] = (
                LANES[5] if right else LANES[1],
                f"server {node}",
            )
        else:
            clients += 1
            name = f"client {clients}"
            lane_of[(conv.client.host, conv.client.port)] = name
            right = node != "A"
            leg_lanes[(conv.client.port, conv.server.port)] = (name, LANES[5] if right else "nginx")
    raw: list[tuple[float, str, str, str, str]] = []
    for conv in legs:
        lanes = leg_lanes[(conv.client.port, conv.server.port)]
        for frame in conv.frames:
            if frame.opcode != Opcode.TEXT or frame.text is None:
                continue
            a, b = lanes if frame.direction == "c2s" else lanes[::-1]
            raw.append((frame.time, a, b, "websocket", _preview(frame.text)))
    # Redis: name each connection from its CLIENT SETNAME, then keep the interesting commands.
    named: dict[tuple[str, int], str] = {}
    redis_port = 0
    for when, src, dst, payload in tcp_payloads(source):
        for item in parse_resp(payload):
            words = _words(item)
            if len(words) >= 3 and words[0].upper() == "CLIENT" and words[1].upper() == "SETNAME":
                named[(src.host, src.port)] = words[2].replace("server-", "server ")
                redis_port = dst.port
                continue
            if not redis_port or redis_port not in (src.port, dst.port):
                continue
            far: Endpoint = src if dst.port == redis_port else dst
            who = named.get((far.host, far.port))
            if who is None:
                continue
            a, b = (who, "Redis") if dst.port == redis_port else ("Redis", who)
            head = words[0] if words else ""
            if head.upper() in KEEP or head in KEEP:
                label = " ".join(words[:2]) + (f" {_preview(words[-1])}" if len(words) > 2 else "")
                if head == "message":  # a pub/sub push: message CHANNEL PAYLOAD
                    label = f"push: {_preview(words[-1])}"
                raw.append((when, a, b, "redis", label))
            elif isinstance(item, int) and a == "Redis":
                raw.append((when, a, b, "redis", f"{item} (subscribers that got it)"))
    raw.sort(key=lambda hop: hop[0])
    start = raw[0][0] if raw else 0.0
    return [Hop(t - start, a, b, kind, label) for t, a, b, kind, label in raw]


def capture_message_path(
    text: str = "hi from client 1", *, mode: str = "pubsub"
) -> tuple[Capture, dict[str, str]]:
    """Start a 2-server cluster under a capture (every port known in advance), put client 1 on
    server A and client 2 on server B through nginx, send ``text`` from client 1 and wait until
    both have it. Returns the capture and ``{"client 1": "A", "client 2": "B"}``. Raises
    :class:`~wslib.lab.capture.CaptureUnavailable` without capture privileges."""
    cluster = Cluster(2, mode)
    ports = cluster.reserve_ports()
    where: dict[str, str] = {}
    with capture(ports, timeout=30, grace=0.5) as cap, cluster:
        one = connect(cluster.url, ping_interval=None)
        two = connect(cluster.url, ping_interval=None)
        with one, two:
            for name, conn in (("client 1", one), ("client 2", two)):
                where[name] = json.loads(conn.recv(timeout=5))["node"]
            if where != {"client 1": "A", "client 2": "B"}:
                raise BrokerError(f"nginx did not alternate the servers: {where}")
            time.sleep(0.05)  # a gap in the drawing between the set-up and the message
            one.send(json.dumps({"text": text}))
            for conn in (one, two):
                json.loads(conn.recv(timeout=5))
    return cap, where
