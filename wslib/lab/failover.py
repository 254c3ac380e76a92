"""What notebook 14 measures on a real cluster: a server dies while messages flow, and fan-out time.

:func:`failover_run` starts a :class:`~wslib.lab.cluster.Cluster`, connects reconnecting clients
through nginx (so they spread over the servers), has a publisher send numbered messages at a
steady rate straight to server A, and kills (SIGKILL) or stops (SIGTERM: close 1012) server B in
the middle. Each client counts which numbers it never got: with Redis pub/sub, the clients of B
lose what was said while they were away; with a Redis stream they ask for it when they come back.

:func:`fanout_latency` measures how long a message takes from its sender to clients of the same
server and of the other servers, on one machine's clock, for 1 to 4 servers.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..reconnect import Backoff
from ..sync.client import ClientConnection, connect
from ..sync.reconnect import Attempt, Reconnecting
from .capture import Capture
from .cluster import Cluster
from .scenario import Scenario

__all__ = [
    "SCENARIOS",
    "ClientLog",
    "FailoverResult",
    "cluster_runs",
    "failover_run",
    "fanout_latency",
    "percentiles",
]


@dataclass
class ClientLog:
    """One reconnecting client of :func:`failover_run`: where it was, what it got."""

    nodes: list[str] = field(default_factory=list)  # the server of each connection, in order
    received: list[int] = field(default_factory=list)  # message numbers, in arrival order
    arrived: list[float] = field(default_factory=list)  # when each of them arrived
    history: list[Attempt] = field(default_factory=list)  # open / closed / wait, with times
    last_id: str = ""  # the last stream ID seen (streams mode)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "received": self.received,
            "arrived": [round(t, 4) for t in self.arrived],
            "history": [
                {**asdict(a), "at": round(a.at, 4), "delay": round(a.delay, 4)}
                for a in self.history
            ],
            "last_id": self.last_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientLog:
        return cls(
            nodes=list(data["nodes"]),
            received=list(data["received"]),
            arrived=list(data["arrived"]),
            history=[Attempt(**a) for a in data["history"]],
            last_id=data["last_id"],
        )


@dataclass
class FailoverResult:
    """What :func:`failover_run` saw. Times are seconds from the publisher's first message."""

    mode: str
    how: str  # "kill" or "terminate"
    victim: str
    sent: int
    rate: float  # messages per second: message n was sent at n / rate
    killed_at: float
    clients: list[ClientLog]

    def to_json(self) -> dict[str, Any]:
        """A dict for :func:`json.dumps` (the recordings); :meth:`from_json` reads it back."""
        data = {f: getattr(self, f) for f in ("mode", "how", "victim", "sent", "rate", "killed_at")}
        return {**data, "clients": [c.to_json() for c in self.clients]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FailoverResult:
        clients = [ClientLog.from_json(c) for c in data["clients"]]
        fields = ("mode", "how", "victim", "sent", "rate", "killed_at")
        return cls(**{f: data[f] for f in fields}, clients=clients)

    def lost(self, client: ClientLog) -> list[int]:
        """The numbers ``client`` never received."""
        return sorted(set(range(self.sent)) - set(client.received))

    def duplicates(self, client: ClientLog) -> int:
        return len(client.received) - len(set(client.received))

    @property
    def total_lost(self) -> int:
        return sum(len(self.lost(c)) for c in self.clients)

    @property
    def moved(self) -> list[ClientLog]:
        """The clients that were on the victim and came back on another server."""
        return [c for c in self.clients if c.nodes[:1] == [self.victim] and len(c.nodes) > 1]

    def summary(self) -> str:
        moved = self.moved
        lines = [
            f"{self.mode}, server {self.victim} {'killed' if self.how == 'kill' else 'stopped'} "
            f"at {self.killed_at:.2f} s: {self.sent} messages sent, {len(self.clients)} clients, "
            f"{len(moved)} moved, {self.total_lost} deliveries lost"
        ]
        for i, client in enumerate(self.clients):
            codes = [int(a.code) for a in client.history if a.kind == "closed" and a.code]
            lost = self.lost(client)
            lines.append(
                f"  client {i}: servers {' -> '.join(client.nodes)}, closes {codes}, "
                f"lost {len(lost)}{f' ({lost[0]}..{lost[-1]})' if lost else ''}"
            )
        return "\n".join(lines)


def _receive(loop: Reconnecting, log: ClientLog, done: threading.Event) -> None:
    for conn in loop:
        try:
            for raw in conn:
                message = json.loads(raw)
                if message["type"] == "hello":
                    log.nodes.append(message["node"])
                    continue
                if message.get("id"):
                    log.last_id = message["id"]
                log.received.append(int(message["text"]))
                log.arrived.append(time.monotonic())
        except Exception:  # ConnectionClosed: the loop decides what comes next
            pass
        if done.is_set():
            break


def failover_run(
    mode: str = "streams",
    *,
    how: str = "kill",
    servers: int = 3,
    clients: int = 6,
    messages: int = 150,
    rate: float = 100.0,
    kill_after: float = 0.5,
    backoff: Backoff | None = None,
    settle: float = 5.0,
) -> FailoverResult:
    """Kill (``how="kill"``: SIGKILL) or stop (``"terminate"``: 1012) server B mid-stream.

    ``clients`` reconnecting clients join through nginx (round robin: they spread over the
    servers), a publisher connected straight to server A sends ``messages`` numbered messages at
    ``rate`` per second, server B goes away ``kill_after`` seconds in; then every client gets
    up to ``settle`` seconds to catch up. ``backoff``: the clients' reconnection delays (default
    0.1 s doubling to 1 s, so that a run takes a few seconds).
    """
    if how not in ("kill", "terminate"):
        raise ValueError("how: 'kill' (SIGKILL, 1006) or 'terminate' (SIGTERM, 1012)")
    if servers < 2:
        raise ValueError("failover needs at least 2 servers: B dies, A carries on")
    backoff = backoff or Backoff(initial=0.1, factor=2, cap=1.0)
    logs = [ClientLog() for _ in range(clients)]
    done = threading.Event()
    with Cluster(servers, mode) as cluster:
        loops: list[Reconnecting] = []
        threads: list[threading.Thread] = []
        for log in logs:

            def uri(log: ClientLog = log) -> str:
                return cluster.url + (f"?after={log.last_id}" if log.last_id else "")

            loop = Reconnecting(uri, backoff=backoff, ping_interval=None, timeout=5)
            loops.append(loop)
            thread = threading.Thread(target=_receive, args=(loop, log, done), daemon=True)
            thread.start()
            threads.append(thread)
            # Wait for its hello, so that nginx's round robin sees the clients one by one.
            deadline = time.monotonic() + 5
            while not log.nodes and time.monotonic() < deadline:
                time.sleep(0.01)
        victim = cluster.names[1]
        killed_at = 0.0
        with connect(cluster.node_urls[0], ping_interval=None) as publisher:
            publisher.recv(timeout=5)  # hello
            start = time.monotonic()
            for n in range(messages):
                wait = start + n / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if not killed_at and time.monotonic() - start >= kill_after:
                    killed_at = time.monotonic() - start
                    if how == "kill":
                        cluster.kill(victim)
                    else:
                        threading.Thread(target=cluster.terminate, args=(victim,)).start()
                publisher.send(json.dumps({"text": str(n)}))
            # Let every client catch up (a reconnecting one gets the replay), within a bound.
            deadline = time.monotonic() + settle
            while time.monotonic() < deadline:
                if all(log.received and log.received[-1] == messages - 1 for log in logs):
                    break
                time.sleep(0.05)
            time.sleep(0.2)  # stragglers: replays and the last fan-outs
        done.set()
        for loop in loops:
            loop.stop()
        for thread in threads:
            thread.join(5)
        for log, loop in zip(logs, loops, strict=True):  # times from the first message on
            log.history = [replace(a, at=a.at - start) for a in loop.history]
            log.arrived = [t - start for t in log.arrived]
    return FailoverResult(mode, how, victim, messages, rate, killed_at, logs)


def fanout_latency(
    servers: int, mode: str = "pubsub", *, messages: int = 200, interval: float = 0.005
) -> dict[str, list[float]]:
    """Seconds from send to receive, for a client on the sender's server and on the others.

    One sender on server A and one receiver on each server (connected straight to it, not
    through nginx, so that we know who is where); ``messages`` messages ``interval`` s apart,
    each carrying the sender's :func:`time.time` (one machine, one clock). Returns
    ``{"same": [...], "cross": [...]}`` (``cross`` is empty for one server).
    """
    got: dict[str, list[float]] = {"same": [], "cross": []}
    lock = threading.Lock()

    def receive(conn: ClientConnection, where: str) -> None:
        for _ in range(messages):
            message = json.loads(conn.recv(timeout=10))
            delay = time.time() - message["sent"]
            with lock:
                got[where].append(delay)

    with Cluster(servers, mode) as cluster:
        receivers = [connect(url, ping_interval=None) for url in cluster.node_urls]
        threads: list[threading.Thread] = []
        try:
            for r in receivers:
                r.recv(timeout=5)  # hello
            for i, r in enumerate(receivers):
                where = "same" if i == 0 else "cross"
                threads.append(threading.Thread(target=receive, args=(r, where), daemon=True))
                threads[-1].start()
            with connect(cluster.node_urls[0], ping_interval=None) as sender:
                sender.recv(timeout=5)
                for n in range(messages):
                    sender.send(json.dumps({"text": str(n), "sent": time.time()}))
                    time.sleep(interval)
                for thread in threads:
                    thread.join(15)
        finally:
            for r in receivers:
                r.close()
    return got


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p99 of ``values`` (seconds)."""
    if len(values) < 2:
        return {"p50": values[0] if values else float("nan"), "p99": float("nan")}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": statistics.median(values), "p99": q[98]}


# --- the recordings of notebook 14 -------------------------------------------------------------

#: The failover runs the recording keeps: (mode, how).
RECORDED_RUNS = (("pubsub", "kill"), ("streams", "kill"), ("pubsub", "terminate"),
                 ("streams", "terminate"))  # fmt: skip
#: Servers in the recorded fan-out measurement, and messages per run.
RECORDED_FANOUT = (1, 2, 3, 4)
RECORDED_FANOUT_MESSAGES = 200


def _redis_version() -> str:
    import subprocess

    from .tools import redis_server

    tool = redis_server()
    if not tool:
        return "not installed"
    done = subprocess.run([tool.detail, "--version"], capture_output=True, text=True, timeout=5)
    return done.stdout.strip()


def cluster_runs() -> dict[str, Any]:
    """Everything notebook 14 measures live, for its offline path: four failover runs and the
    fan-out latency with 1 to 4 servers (``cluster-runs.json``)."""
    runs = [failover_run(mode, how=how).to_json() for mode, how in RECORDED_RUNS]
    fanout = {
        str(n): {
            where: [round(d, 6) for d in delays]
            for where, delays in fanout_latency(n, messages=RECORDED_FANOUT_MESSAGES).items()
        }
        for n in RECORDED_FANOUT
    }
    return {"redis": _redis_version(), "failover": runs, "fanout": fanout}


def _cluster_path() -> Capture:
    from .path import capture_message_path

    cap, _where = capture_message_path()
    return cap


#: This module's shipped recordings, for :mod:`wslib.lab.recordings`.
SCENARIOS = {
    "cluster-path": Scenario(
        "cluster-path",
        "One chat message through a 2-server cluster (pub/sub), every leg: client 1 → nginx → "
        "server A → Redis (`PUBLISH`) → server B (the subscriber's push) → nginx → client 2; "
        "Redis set-up included (`CLIENT SETNAME`, `SUBSCRIBE`).",
        "`wslib.lab.path.capture_message_path()`: `wslib.connect` ×2 → nginx → "
        "`python -m wslib.lab.cluster node` ×2 ↔ redis-server",
        _cluster_path,
        seconds=3,
    ),
    "cluster-runs": Scenario(
        "cluster-runs",
        "Server B of 3 killed (SIGKILL) or stopped (SIGTERM, close 1012) while 150 numbered "
        "messages flow to 6 reconnecting clients, with Redis pub/sub and with a Redis stream "
        "(what each client got, when, and lost); fan-out latency with 1 to 4 servers.",
        "`wslib.lab.failover.cluster_runs()`: `failover_run` ×4 and `fanout_latency` ×4 on "
        "`wslib.lab.cluster.Cluster` (redis-server, nginx, server processes), uncaptured",
        cluster_runs,
        seconds=25,
        suffix=".json",
    ),
}
