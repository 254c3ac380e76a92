"""Polling versus WebSocket, measured: five ways to learn that a background task has progressed.

The article's case: a client submits a background task and wants to know when it finishes (or
each time it progresses). Five strategies, each a small real server and a real client on
``127.0.0.1``, all serving the same tasks (the standard library's :mod:`http.server` and
:mod:`http.client` for HTTP, :func:`wslib.serve` and :func:`wslib.connect` for WebSocket):

========== =====================================================================================
short      HTTP/1.0 short polling: every request on a new TCP connection (three-way handshake,
           request, response, FIN each time), one request every ``interval`` seconds.
keepalive  HTTP/1.1 keep-alive polling: one TCP connection, one request every ``interval``.
long       Long polling: ``GET ...?after=K``; the server holds the request until there is news.
sse        Server-Sent Events: one response that never ends, an event per piece of news (the
           stream of one task ends when the task is done; a new task opens a new stream).
websocket  WebSocket push: one connection; the client submits tasks as messages and the server
           pushes every piece of news as a message.
========== =====================================================================================

How a run goes (:func:`run`): each :class:`Config` gets its own server (so the server port
tells the strategies apart in a capture); its clients submit tasks one after another until
``duration`` seconds are over. A task (:class:`Job`) makes ``steps`` pieces of news at random
times (seeded: every strategy sees the same task schedules); the last one is "done".

Everything is measured from the capture alone (:func:`measure`), so the same code reads a live
capture and the shipped recording (``data/pcaps/polling-vs-websocket.pcap``):

- the server port groups the connections of one configuration; the first path segment of its
  requests (``/short-1s/tasks``) names the configuration;
- the server's answer to a submission echoes the job (seed, steps, mean gap) and its start
  time, so the time of every event is known: ``started`` plus the job's seeded offsets;
- each task state or event the server sends (``{"id":3,"progress":2,"of":10,"done":false}``)
  is found in the server-to-client bytes, at the time of the packet that carried it: that is
  when the client knows (on loopback the packet arrives when it is captured);
- bytes on the wire are IP packets, split by :func:`wslib.lab.bill.bill` (the series' one byte
  bill) into TCP/IP headers, HTTP heads, framing (WebSocket frame headers and control frames,
  SSE's ``id:``/``data:`` lines) and payload (the JSON documents).
"""

from __future__ import annotations

import bisect
import http.client
import http.server
import json
import math
import random
import re
import socket
import statistics
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from .bill import bill
from .scenario import Scenario
from .tools import PCAP_DIR

__all__ = [
    "BROWSER_HEADERS",
    "FINISH_JOB",
    "INTERVALS",
    "RATES",
    "RECORDING_CONFIGS",
    "RECORDING_FILE",
    "RECORDING_SECONDS",
    "STRATEGIES",
    "ClientLog",
    "Config",
    "Job",
    "Measurement",
    "Run",
    "connections_opened",
    "experiment_configs",
    "measure",
    "polling_bytes_per_notification",
    "progress_job",
    "record_scenario",
    "recording_path",
    "run",
    "select",
]

#: The five strategies, from the most wasteful to the most direct.
STRATEGIES = ("short", "keepalive", "long", "sse", "websocket")
POLLING = ("short", "keepalive")

#: The headers Chromium sends with a same-origin ``fetch()``, in its order (checked against
#: headless Chromium 156 on loopback), with a desktop Chrome's User-Agent and a made-up session
#: cookie of typical size: what a browser adds to every poll. ``Host`` comes on top.
BROWSER_HEADERS: tuple[tuple[str, str], ...] = (
    ("Connection", "keep-alive"),
    ("sec-ch-ua-platform", '"Linux"'),
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    ("Accept", "*/*"),
    ("sec-ch-ua", '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'),
    ("sec-ch-ua-mobile", "?0"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "cors"),
    ("Sec-Fetch-Dest", "empty"),
    ("Referer", "http://127.0.0.1/dashboard"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "en-US,en;q=0.9"),
    (
        "Cookie",
        "sessionid=8f14e45fceea167a5a36dedd4bea2543; csrftoken=Q2xhdWRlIHdhcyBoZXJlIGF0IG5pZ2h0; "
        "_ga=GA1.1.1234567890.1732500000",
    ),
)

# Every wait is bounded: a request, a read, a hold.
IO_TIMEOUT = 30.0
#: How long a long-polling server holds a request without news before answering "no news".
HOLD = 20.0


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# --- the tasks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A background task: ``steps`` pieces of news at random times, the last one "done".

    The gaps between pieces of news are exponential with mean ``mean_gap`` seconds (events
    that come "at random", a Poisson process at rate ``1 / mean_gap``), cut at 3× the mean so
    that a run ends in bounded time. ``seed`` fixes the schedule: the same job has the same
    offsets in every strategy, live or recorded.
    """

    steps: int = 1
    mean_gap: float = 2.0
    seed: int = 0

    def offsets(self) -> list[float]:
        """Seconds from the task's start to each piece of news (increasing)."""
        rng = random.Random(f"wslib.polling/{self.seed}")  # the seed the shipped recording used
        total, out = 0.0, []
        for _ in range(self.steps):
            total += min(rng.expovariate(1 / self.mean_gap), 3 * self.mean_gap)
            out.append(round(total, 6))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "mean_gap": self.mean_gap, "seed": self.seed}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        return cls(int(data["steps"]), float(data["mean_gap"]), int(data["seed"]))


class _Task:
    """A task running on a server: its events are at ``started + offset`` (wall-clock time)."""

    def __init__(self, task_id: int, job: Job) -> None:
        self.id = task_id
        self.job = job
        self.started = round(time.time(), 6)
        self.times = [self.started + offset for offset in job.offsets()]

    def progress(self, now: float | None = None) -> int:
        return bisect.bisect_right(self.times, time.time() if now is None else now)

    def state(self) -> bytes:
        """The task's state as JSON: what a poll returns and what a push carries."""
        progress = self.progress()
        return _json(
            {
                "id": self.id,
                "progress": progress,
                "of": self.job.steps,
                "done": progress == self.job.steps,
            }
        )

    def created(self) -> bytes:
        """The answer to a submission: the task, its start time and the job (echoed)."""
        return _json({"id": self.id, "started": self.started, **self.job.to_json()})

    def wait_past(self, after: int, stopping: threading.Event, hold: float) -> bool:
        """Wait until progress > ``after`` (True), or ``hold`` seconds, or the server stops."""
        deadline = time.time() + hold
        while not stopping.is_set():
            if self.progress() > after:
                return True
            target = self.times[after] if after < len(self.times) else math.inf
            delay = min(target, deadline) - time.time()
            if delay <= 0 and time.time() >= deadline:
                return False
            stopping.wait(max(0.0, min(delay, 1.0)))
        return False


class _Tasks:
    """The tasks of one server, by id (ids from 1)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[int, _Task] = {}
        self.connections = 0  # WebSocket connections accepted (each one upgrade request)

    def connected(self) -> None:
        with self._lock:
            self.connections += 1

    def submit(self, job: Job) -> _Task:
        with self._lock:
            task = _Task(len(self._tasks) + 1, job)
            self._tasks[task.id] = task
        return task

    def get(self, task_id: int) -> _Task | None:
        with self._lock:
            return self._tasks.get(task_id)


# --- configurations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """One strategy with its settings, run by ``clients`` clients against one server.

    ``interval``: seconds between polls (``short`` and ``keepalive`` only). ``browser``: the
    polls carry :data:`BROWSER_HEADERS`. ``job``: the task each client submits (the seed of
    client ``c``'s ``n``-th task is ``job.seed + 1000 * c + n``, the same in every strategy).
    """

    strategy: str
    interval: float = 1.0
    browser: bool = False
    job: Job = Job()
    clients: int = 1
    tasks: int | None = None  # tasks per client; None: as many as the run's duration allows

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}: one of {', '.join(STRATEGIES)}")

    @property
    def label(self) -> str:
        """The first path segment of the requests: ``short-1s``, ``keepalive-browser-0.5s``."""
        name = self.strategy + ("-browser" if self.browser else "")
        return f"{name}-{self.interval:g}s" if self.strategy in POLLING else name

    @classmethod
    def parse_label(cls, label: str) -> tuple[str, float | None, bool]:
        """``(strategy, interval or None, browser)`` from a label."""
        match = re.fullmatch(r"([a-z]+)(-browser)?(?:-([0-9.]+)s)?", label)
        if not match or match.group(1) not in STRATEGIES:
            raise ValueError(f"not a configuration label: {label!r}")
        interval = float(match.group(3)) if match.group(3) else None
        return match.group(1), interval, bool(match.group(2))


# --- the HTTP server ------------------------------------------------------------------------------


class _HTTPServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer with the tasks, a request counter, and a stop that ends every thread."""

    daemon_threads = False  # server_close() joins the handler threads
    block_on_close = True

    def __init__(self, protocol: str) -> None:
        self.tasks = _Tasks()
        self.requests = 0
        self.stopping = threading.Event()
        self.protocol = protocol
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        """Stop serving; wake held requests; cut connections the clients left open; join."""
        self.stopping.set()
        self.shutdown()
        with self._lock:
            left = list(self._open)
        for sock in left:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    """``POST /LABEL/tasks``, ``GET /LABEL/tasks/ID`` (``?after=K``: long poll), ``.../events``
    (Server-Sent Events)."""

    server: _HTTPServer
    # One write per response (head and body in one TCP segment, as nginx sends them), and no
    # Nagle delay on the SSE events.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    timeout = IO_TIMEOUT

    def setup(self) -> None:
        self.protocol_version = self.server.protocol
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _task(self, path: str) -> _Task | None:
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[1] == "tasks" and parts[2].isdigit():
            return self.server.tasks.get(int(parts[2]))
        return None

    def do_POST(self) -> None:
        self.server.count_request()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if urlsplit(self.path).path.rstrip("/").endswith("/tasks"):
            try:
                job = Job.from_json(json.loads(body))
            except (ValueError, KeyError, TypeError):
                self._reply(400, _json({"error": "bad job"}))
                return
            self._reply(201, self.server.tasks.submit(job).created())
        else:
            self._reply(404, _json({"error": "not found"}))

    def do_GET(self) -> None:
        self.server.count_request()
        url = urlsplit(self.path)
        task = self._task(url.path)
        if task is None:
            self._reply(404, _json({"error": "no such task"}))
        elif url.path.endswith("/events"):
            self._events(task)
        elif "after" in parse_qs(url.query):
            after = int(parse_qs(url.query)["after"][0])
            task.wait_past(after, self.server.stopping, HOLD)
            self._reply(200, task.state())
        else:
            self._reply(200, task.state())

    def _events(self, task: _Task) -> None:
        """Server-Sent Events (HTML Living Standard §9.2): ``id:``, ``event:``, ``data:`` lines
        and an empty line per event; the stream ends (``Connection: close``) once done."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        sent = 0
        while sent < task.job.steps:
            if not task.wait_past(sent, self.server.stopping, HOLD):
                if self.server.stopping.is_set():
                    return
                self.wfile.write(b": keep-alive\n\n")  # a comment line: no news, still here
                self.wfile.flush()
                continue
            sent = task.progress()
            self.wfile.write(b"id: %d\nevent: progress\ndata: %s\n\n" % (sent, task.state()))
            self.wfile.flush()


# --- the WebSocket server -------------------------------------------------------------------------


def _websocket_handler(tasks: _Tasks, stopping: threading.Event) -> Callable[[Any], None]:
    """Each message from the client submits a job; the server pushes each piece of news."""
    from ..exceptions import ConnectionClosed

    def handler(conn: Any) -> None:
        tasks.connected()
        try:
            while not stopping.is_set():
                try:
                    message = conn.recv(timeout=1.0)
                except TimeoutError:
                    continue
                task = tasks.submit(Job.from_json(json.loads(message)))
                conn.send(task.created().decode())
                sent = 0
                while sent < task.job.steps and task.wait_past(sent, stopping, HOLD):
                    sent = task.progress()
                    conn.send(task.state().decode())
        except ConnectionClosed:
            pass

    return handler


# --- the clients ----------------------------------------------------------------------------------


@dataclass
class ClientLog:
    """What one client saw: for each task, when it learnt each step (its own clock)."""

    known: dict[tuple[int, int], float] = field(default_factory=dict)  # (seed, step) -> time
    tasks: list[int] = field(default_factory=list)  # the seeds of the tasks it finished
    requests: int = 0
    connections: int = 0

    def learn(self, seed: int, state: dict[str, Any]) -> None:
        now = time.time()
        for step in range(1, int(state["progress"]) + 1):
            self.known.setdefault((seed, step), now)


class _OneWriteConnection(http.client.HTTPConnection):
    """http.client, but a request's head and body leave in one write (one TCP segment).

    ``HTTPConnection.request`` calls :meth:`send` twice for a request with a body: the head,
    then the body. Two writes make two segments (and, with Nagle's algorithm and delayed ACKs,
    a wait between them), which would count against polling a packet that a browser or curl
    does not send. So :meth:`send` holds the head back until the body arrives.
    """

    _body_follows = False
    _held = b""

    def request(self, method: str, url: str, body: Any = None, headers: Any = None) -> None:  # type: ignore[override]
        self._body_follows = isinstance(body, bytes) and bool(body)
        super().request(method, url, body=body, headers=headers or {})

    def send(self, data: Any) -> None:
        if self._body_follows and not self._held:
            self._held = bytes(data)  # the head: wait for the body
            return
        if self._held:
            data, self._held, self._body_follows = self._held + bytes(data), b"", False
        super().send(data)


class _HTTP10Connection(_OneWriteConnection):
    """http.client speaking HTTP/1.0: the server closes the connection after each answer."""

    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


def _headers(config: Config, port: int) -> dict[str, str]:
    if config.browser:
        headers = {"Host": f"127.0.0.1:{port}", **dict(BROWSER_HEADERS)}
        headers["Referer"] = f"http://127.0.0.1:{port}/dashboard"
        return headers
    if config.strategy == "short":
        # http.client adds Host (and Accept-Encoding) to HTTP/1.1 requests only; every client
        # in use today (curl --http1.0 too) sends Host with HTTP/1.0 as well.
        return {"Host": f"127.0.0.1:{port}", "Accept": "application/json"}
    return {"Accept": "application/json"}


class _Client:
    """One client of one configuration: submits tasks and follows each to the end."""

    def __init__(
        self, config: Config, port: int, index: int, until: float, stop: threading.Event
    ) -> None:
        self.config = config
        self.port = port
        self.index = index
        self.until = until
        self.stop = stop
        self.log = ClientLog()
        self.base = f"/{config.label}/tasks"
        self.headers = _headers(config, port)
        self.conn: _OneWriteConnection | None = None

    def jobs(self) -> Iterable[Job]:
        n = 0
        limit = self.config.tasks
        while not self.stop.is_set() and (
            n < limit if limit is not None else time.time() < self.until
        ):
            job = self.config.job
            yield Job(job.steps, job.mean_gap, job.seed + 1000 * self.index + n)
            n += 1

    # -- HTTP --

    def _request(
        self, method: str, path: str, body: bytes | None = None
    ) -> http.client.HTTPResponse:
        if self.config.strategy == "short" or self.conn is None:
            if self.conn is not None:
                self.conn.close()
            cls = _HTTP10Connection if self.config.strategy == "short" else _OneWriteConnection
            self.conn = cls("127.0.0.1", self.port, timeout=IO_TIMEOUT)
            self.log.connections += 1
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        self.log.requests += 1
        return self.conn.getresponse()

    def _call(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        response = self._request(method, path, body)
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data!r}")
        value: dict[str, Any] = json.loads(data)
        return value

    def _close_http(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def follow_polling(self, job: Job) -> None:
        task = self._call("POST", self.base, _json(job.to_json()))
        path = f"{self.base}/{task['id']}"
        next_poll = time.monotonic()
        while not self.stop.is_set():
            next_poll += self.config.interval
            self.stop.wait(max(0.0, next_poll - time.monotonic()))
            state = self._call("GET", path)
            self.log.learn(job.seed, state)
            if state["done"]:
                return

    def follow_long(self, job: Job) -> None:
        task = self._call("POST", self.base, _json(job.to_json()))
        progress = 0
        while not self.stop.is_set():
            state = self._call("GET", f"{self.base}/{task['id']}?after={progress}")
            self.log.learn(job.seed, state)
            progress = int(state["progress"])
            if state["done"]:
                return

    def follow_sse(self, job: Job) -> None:
        task = self._call("POST", self.base, _json(job.to_json()))
        headers = dict(self.headers)
        headers["Accept"] = "text/event-stream"
        headers["Cache-Control"] = "no-cache"
        assert self.conn is not None
        self.conn.request("GET", f"{self.base}/{task['id']}/events", headers=headers)
        self.log.requests += 1
        response = self.conn.getresponse()
        try:
            for line in iter(response.readline, b""):
                if line.startswith(b"data:"):
                    state = json.loads(line[5:])
                    self.log.learn(job.seed, state)
                    if state["done"]:
                        return
        finally:
            self._close_http()  # the server ends the stream: next task, new connection

    def run_http(self) -> None:
        follow = {
            "short": self.follow_polling,
            "keepalive": self.follow_polling,
            "long": self.follow_long,
            "sse": self.follow_sse,
        }[self.config.strategy]
        try:
            for job in self.jobs():
                follow(job)
                self.log.tasks.append(job.seed)
        finally:
            self._close_http()

    # -- WebSocket --

    def run_websocket(self) -> None:
        from ..sync.client import connect

        with connect(
            f"ws://127.0.0.1:{self.port}/{self.config.label}/tasks", ping_interval=None
        ) as ws:
            self.log.connections += 1
            self.log.requests += 1
            for job in self.jobs():
                ws.send(_json(job.to_json()).decode())
                json.loads(ws.recv(timeout=IO_TIMEOUT))  # created
                while not self.stop.is_set():
                    state = json.loads(ws.recv(timeout=IO_TIMEOUT))
                    self.log.learn(job.seed, state)
                    if state["done"]:
                        break
                self.log.tasks.append(job.seed)

    def run(self) -> None:
        if self.config.strategy == "websocket":
            self.run_websocket()
        else:
            self.run_http()


# --- a run ----------------------------------------------------------------------------------------


@dataclass
class Run:
    """The result of :func:`run`: the configurations by server port, what clients saw, packets."""

    configs: dict[int, Config]
    logs: dict[int, list[ClientLog]]
    requests: dict[int, int]  # requests each server handled (HTTP requests; WebSocket: upgrades)
    capture: Any = None  # a wslib.lab.capture.Capture, or None when run without capture
    errors: list[str] = field(default_factory=list)

    @property
    def packets(self) -> list[Any]:
        return list(self.capture.packets) if self.capture is not None else []

    def write(self, path: str | Path) -> Path:
        """Save the capture as a pcap file."""
        if self.capture is None:
            raise ValueError("this run was not captured")
        return Path(self.capture.write(path))


def run(
    configs: Sequence[Config],
    duration: float,
    *,
    captured: bool = True,
    timeout: float | None = None,
    progress: Callable[[float, int, int], None] | None = None,
) -> Run:
    """Run every configuration at once, each against its own server, for ``duration`` seconds.

    Clients submit tasks until ``duration`` is over, then finish the task they follow. With
    ``captured=True`` the whole run is sniffed on loopback (raises
    :class:`wslib.lab.capture.CaptureUnavailable` without privileges). ``timeout`` (default:
    ``duration`` plus 4× the longest task's mean length plus 10 s) bounds the whole run; a
    client still busy then is stopped and reported in :attr:`Run.errors`. ``progress``, if
    given, is called about once a second while clients run, with the seconds since they
    started, the clients still running and the number of clients.
    """
    from ..sync.server import serve

    if timeout is None:
        longest = max(c.job.steps * c.job.mean_gap * 4 for c in configs)
        timeout = duration + longest + 10
    stop = threading.Event()
    http_servers: dict[int, _HTTPServer] = {}
    ws_servers: dict[int, Any] = {}
    ws_tasks: dict[int, _Tasks] = {}
    config_of: dict[int, Config] = {}
    threads: list[threading.Thread] = []
    cap = None
    errors: list[str] = []
    try:
        for config in configs:
            if config.strategy == "websocket":
                tasks = _Tasks()
                server = serve(_websocket_handler(tasks, stop), ping_interval=None)
                ws_servers[server.port] = server
                ws_tasks[server.port] = tasks
                config_of[server.port] = config
            else:
                protocol = "HTTP/1.0" if config.strategy == "short" else "HTTP/1.1"
                httpd = _HTTPServer(protocol)
                thread = threading.Thread(
                    target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
                )
                thread.start()
                threads.append(thread)
                http_servers[httpd.port] = httpd
                config_of[httpd.port] = config
        if captured:
            from .capture import capture

            cap = capture(config_of, timeout=timeout + 30).__enter__()
        until = time.time() + duration
        clients: list[tuple[int, _Client]] = []
        for port, config in config_of.items():
            for index in range(config.clients):
                clients.append((port, _Client(config, port, index, until, stop)))

        def guarded(client: _Client) -> None:
            try:
                client.run()
            except Exception as exc:  # reported, not lost in a thread
                errors.append(f"{client.config.label} client {client.index}: {exc!r}")

        workers = [
            threading.Thread(target=guarded, args=(client,), name=f"poll-{client.config.label}")
            for _, client in clients
        ]
        for worker in workers:
            worker.start()
        began = time.monotonic()
        deadline = began + timeout
        for worker in workers:
            while worker.is_alive() and (left := deadline - time.monotonic()) > 0:
                worker.join(min(left, 1.0))
                if progress is not None:
                    running = sum(w.is_alive() for w in workers)
                    progress(time.monotonic() - began, running, len(workers))
        if any(worker.is_alive() for worker in workers):
            errors.append(f"clients still running after {timeout:.0f} s: stopped")
            stop.set()
            for worker in workers:
                worker.join(IO_TIMEOUT)
    finally:
        stop.set()
        if cap is not None:
            cap.__exit__(None, None, None)
        for httpd in http_servers.values():
            httpd.stop()
        for server in ws_servers.values():
            server.close()
        for thread in threads:
            thread.join(5)
    logs: dict[int, list[ClientLog]] = {port: [] for port in config_of}
    for port, client in clients:
        logs[port].append(client.log)
    requests = {port: httpd.requests for port, httpd in http_servers.items()}
    requests.update({port: tasks.connections for port, tasks in ws_tasks.items()})
    return Run(config_of, logs, requests, cap, errors)


# --- measuring a capture --------------------------------------------------------------------------

_STATE = re.compile(rb'\{"id":(\d+),"progress":(\d+),"of":(\d+),"done":(?:true|false)\}')
_CREATED = re.compile(
    rb'\{"id":(\d+),"started":([0-9.]+),"steps":(\d+),"mean_gap":([0-9.]+),"seed":(\d+)\}'
)


@dataclass(frozen=True)
class Measurement:
    """What one configuration cost and how fast it told the news, from a capture.

    Bytes are IP bytes, split by :func:`wslib.lab.bill.bill`, the series' one definition:
    ``tcpip`` (IP and TCP headers), ``http`` (HTTP request and response heads, the WebSocket
    handshake included), ``framing`` (WebSocket frame headers and control frames' payloads, SSE's
    field names and newlines) and ``payload`` (the JSON documents).
    """

    port: int
    label: str
    strategy: str
    interval: float | None
    browser: bool
    job: Job | None
    connections: int
    packets: int
    requests: int
    tcpip: int
    http: int
    framing: int
    payload: int
    events: list[float]  # when each piece of news happened (server clock), tasks in order
    known: list[float]  # when the client got it (packet time); NaN if it never did
    start: float
    end: float
    spans: list[tuple[float, float]]  # each TCP connection: first and last packet
    request_times: list[float]

    @property
    def bytes(self) -> int:
        """All IP bytes of this configuration."""
        return self.tcpip + self.http + self.framing + self.payload

    @property
    def notifications(self) -> int:
        """Pieces of news that reached the client."""
        return sum(1 for t in self.known if not math.isnan(t))

    @property
    def latencies(self) -> list[float]:
        """Seconds from each event to the moment the client knew, for the news that arrived."""
        return [k - e for e, k in zip(self.events, self.known, strict=True) if not math.isnan(k)]

    @property
    def median_latency(self) -> float:
        return statistics.median(self.latencies) if self.latencies else math.nan

    @property
    def bytes_per_notification(self) -> float:
        return self.bytes / self.notifications if self.notifications else math.nan

    @property
    def packets_per_notification(self) -> float:
        return self.packets / self.notifications if self.notifications else math.nan

    @property
    def news_rate(self) -> float:
        """Pieces of news per second that reached the client, over the configuration's
        activity (first packet to last)."""
        duration = self.end - self.start
        return self.notifications / duration if duration > 0 else math.nan

    @property
    def event_rate(self) -> float | None:
        """Events per second the job makes (1 / mean gap)."""
        return 1 / self.job.mean_gap if self.job is not None else None

    def row(self) -> dict[str, Any]:
        """The headline numbers, for a table."""
        return {
            "config": self.label,
            "connections": self.connections,
            "requests": self.requests,
            "packets": self.packets,
            "bytes": self.bytes,
            "news": self.notifications,
            "bytes/news": (round(self.bytes_per_notification) if self.notifications else math.nan),
            "packets/news": round(self.packets_per_notification, 1),
            "median ms": round(self.median_latency * 1000, 1),
        }


class _Segment(NamedTuple):
    """The fields of one IPv4 TCP packet that the measurements need."""

    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    flags: int
    ip_length: int  # the IP packet: headers and payload
    payload: bytes  # the TCP payload


_SYN, _ACK = 0x02, 0x10


def _parse_ip(time_: float, ip: bytes) -> _Segment | None:
    """Decode an IPv4 packet's IP and TCP headers (RFC 791, RFC 9293 §3.1); None if not TCP."""
    if len(ip) < 40 or ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = int.from_bytes(ip[2:4], "big")
    tcp = ip[ihl:total]
    sport, dport, seq, _, offset_flags = struct.unpack("!HHIIH", tcp[:14])
    src = (socket.inet_ntoa(ip[12:16]), sport)
    dst = (socket.inet_ntoa(ip[16:20]), dport)
    return _Segment(
        time_, src, dst, seq, offset_flags & 0x3F, total, tcp[(offset_flags >> 12) * 4 :]
    )


def _read_segments(source: str | Path | Iterable[Any]) -> list[_Segment]:
    """The TCP segments of a capture file (Ethernet, BSD loopback or raw IP) or scapy packets."""
    out = []
    if isinstance(source, (str, Path)):
        from scapy.utils import RawPcapReader

        from .dissect import PcapError

        if not Path(source).is_file():
            raise PcapError(f"{source}: no such file")
        with RawPcapReader(str(source)) as reader:
            skip = {1: 14, 0: 4, 108: 4, 101: 0, 228: 0}.get(int(reader.linktype))
            if skip is None:
                raise PcapError(f"{source}: link type {reader.linktype} is not supported here")
            for data, meta in reader:
                seconds = meta.sec + meta.usec / (1e9 if reader.nano else 1e6)
                if skip == 14 and data[12:14] != b"\x08\x00":
                    continue
                segment = _parse_ip(seconds, bytes(data[skip:]))
                if segment is not None:
                    out.append(segment)
        return out
    from scapy.layers.inet import IP

    packets: Iterable[Any] = source
    for packet in packets:
        ip = packet.getlayer(IP)
        if ip is not None:
            # Microseconds, what a pcap file keeps: live packets and the file written from them
            # must give the same figures (a median could round the other way otherwise).
            segment = _parse_ip(round(float(packet.time), 6), bytes(ip))
            if segment is not None:
                out.append(segment)
    return out


def measure(source: str | Path | Iterable[Any]) -> list[Measurement]:
    """Measure every configuration in a capture (a pcap path or scapy packets), by server port.

    A server port is recognised by the first path segment of its requests (a configuration's
    label); connections to anything else are left out. :mod:`wslib.lab.dissect` finds the HTTP
    messages and the WebSocket frames; the bytes are counted here, packet by packet.
    """
    from .dissect import conversations

    if not isinstance(source, (str, Path)):
        source = list(source)
    convs = conversations(source, http=True, max_payload=1 << 24)
    segments = _read_segments(source)
    label_of: dict[int, str] = {}
    by_port: dict[int, list[Any]] = {}
    # (client endpoint, server port): a client port may serve two servers at once.
    pairs: set[tuple[tuple[str, int], int]] = set()
    for conv in convs:
        first = conv.request or next(iter(conv.http_messages), None)
        if first is None:
            continue
        path = first.start_line.split(" ")[1] if " " in first.start_line else ""
        label = path.strip("/").split("/")[0]
        try:
            Config.parse_label(label)
        except ValueError:
            continue
        port = conv.server.port
        label_of[port] = label
        by_port.setdefault(port, []).append(conv)
        pairs.add(((conv.client.host, conv.client.port), port))
    mine: dict[int, list[_Segment]] = {port: [] for port in by_port}
    for segment in segments:
        if (segment.src, segment.dst[1]) in pairs:
            mine[segment.dst[1]].append(segment)
        elif (segment.dst, segment.src[1]) in pairs:
            mine[segment.src[1]].append(segment)
    out = [_measure_port(port, label_of[port], by_port[port], mine[port]) for port in by_port]
    return sorted(out, key=lambda m: (STRATEGIES.index(m.strategy), m.browser, m.port))


def _measure_port(port: int, label: str, convs: list[Any], segments: list[_Segment]) -> Measurement:
    strategy, interval, browser = Config.parse_label(label)
    # Each TCP connection's first and last packet. A client port is not a connection: when the
    # server closes first (HTTP/1.0), the OS may give the same port to a later connection, which
    # starts with a new SYN and a new initial sequence number (RFC 9293 §3.4.1).
    spans: list[list[float]] = []
    current: dict[tuple[str, int], tuple[int, int]] = {}  # client -> (its span, its SYN's seq)
    # Server-to-client segments, for the time each state arrived; retransmissions once.
    seen: set[tuple[tuple[str, int], int]] = set()
    arrivals: list[tuple[float, bytes]] = []
    for segment in segments:
        client = segment.dst if segment.src[1] == port else segment.src
        opening = segment.flags & _SYN and not segment.flags & _ACK
        if client not in current or (opening and current[client][1] != segment.seq):
            spans.append([segment.time, segment.time])
            current[client] = (len(spans) - 1, segment.seq if opening else -1)
        span = spans[current[client][0]]
        span[1] = segment.time
        if segment.src[1] == port and segment.payload and (client, segment.seq) not in seen:
            seen.add((client, segment.seq))
            arrivals.append((segment.time, segment.payload))
    # The bytes, split the one way the series splits them (wslib.lab.bill).
    costs = bill(((s.ip_length, len(s.payload)) for s in segments), convs)
    requests = 0
    request_times: list[float] = []
    for conv in convs:
        for message in conv.http_messages:
            if message.direction == "c2s":
                requests += 1
                request_times.append(message.time)
        request_times += [f.time for f in conv.frames if f.direction == "c2s" and f.length > 2]
    # The tasks, from the servers' answers to submissions; when the client knew each step.
    tasks: dict[int, tuple[float, Job]] = {}
    first_known: dict[tuple[int, int], float] = {}
    for t, data in arrivals:
        for m in _CREATED.finditer(data):
            job = Job(int(m.group(3)), float(m.group(4)), int(m.group(5)))
            tasks.setdefault(int(m.group(1)), (float(m.group(2)), job))
        for m in _STATE.finditer(data):
            task_id, progress = int(m.group(1)), int(m.group(2))
            for step in range(1, progress + 1):
                first_known.setdefault((task_id, step), t)
    events: list[float] = []
    known: list[float] = []
    jobs = []
    for task_id in sorted(tasks):
        started, job = tasks[task_id]
        jobs.append(job)
        for step, offset in enumerate(job.offsets(), 1):
            events.append(started + offset)
            known.append(first_known.get((task_id, step), math.nan))
    all_times = [t for span in spans for t in span]
    return Measurement(
        port=port,
        label=label,
        strategy=strategy,
        interval=interval,
        browser=browser,
        job=jobs[0] if jobs else None,
        connections=sum(c.syns > 0 for c in convs),
        packets=costs.packets,
        requests=requests,
        tcpip=costs.tcpip,
        http=costs.http,
        framing=costs.framing,
        payload=costs.payload,
        events=events,
        known=known,
        start=min(all_times) if all_times else 0.0,
        end=max(all_times) if all_times else 0.0,
        spans=sorted((a, b) for a, b in spans),
        request_times=sorted(request_times),
    )


# --- models (what the exercises check against) ----------------------------------------------------


def polling_bytes_per_notification(poll_bytes: float, interval: float, rate: float) -> float:
    """Bytes per piece of news when each poll costs ``poll_bytes`` and news comes ``rate``
    times a second, polling every ``interval`` seconds.

    In ``T`` seconds there are ``T / interval`` polls and ``rate * T`` pieces of news, so each
    piece of news costs ``poll_bytes / (interval * rate)``. When news comes faster than polls
    (``interval * rate > 1``) one poll reports several at once, and that goes below one poll.
    """
    if interval <= 0 or rate <= 0:
        raise ValueError("interval and rate must be positive")
    return poll_bytes / (interval * rate)


def connections_opened(strategy: str, polls: int) -> int:
    """TCP connections one client opens to submit one task and make ``polls`` requests for it
    (polls, long polls, or the one SSE stream request), by strategy."""
    if strategy == "short":
        return polls + 1  # HTTP/1.0: the submission and every poll on a new connection
    if strategy in ("keepalive", "long", "sse", "websocket"):
        return 1  # one connection for the submission and the news
    raise ValueError(f"unknown strategy {strategy!r}")


# --- the experiment -------------------------------------------------------------------------------

#: The article's case: a task that says only "done", after 3 s on average.
FINISH_JOB = Job(steps=1, mean_gap=3.0, seed=1)
#: Poll intervals of the trade-off curve, and event rates (news per second) of the rate sweep.
INTERVALS = (0.25, 0.5, 1.0, 2.0, 4.0)
RATES = (0.25, 0.5, 1.0, 2.0, 4.0)


def progress_job(rate: float, seconds: float = 6.0) -> Job:
    """A task that reports progress ``rate`` times a second on average, for about ``seconds``."""
    return Job(steps=max(2, round(seconds * rate)), mean_gap=1 / rate, seed=2)


def experiment_configs(*, clients: int = 3, tasks: int | None = None) -> tuple[Config, ...]:
    """Every configuration of notebook 07, to run at once (each against its own server).

    - **finish**: the article's case, each strategy at a 1 s poll interval, ``clients`` clients
      each submitting :data:`FINISH_JOB` tasks one after another (keep-alive polling twice: with
      http.client's headers and with a browser's);
    - **intervals**: short and keep-alive polling at each of :data:`INTERVALS`, a task that
      reports progress once a second;
    - **rates**: every strategy (polling at 1 s) with tasks reporting at each of :data:`RATES`.

    ``tasks``: how many progress tasks each progress client runs (None: until the run's
    duration is over).
    """
    configs: list[Config] = [
        Config("short", 1.0, job=FINISH_JOB, clients=clients),
        Config("keepalive", 1.0, job=FINISH_JOB, clients=clients),
        Config("keepalive", 1.0, browser=True, job=FINISH_JOB, clients=clients),
        Config("long", job=FINISH_JOB, clients=clients),
        Config("sse", job=FINISH_JOB, clients=clients),
        Config("websocket", job=FINISH_JOB, clients=clients),
    ]
    for interval in INTERVALS:
        for strategy in POLLING:
            configs.append(Config(strategy, interval, job=progress_job(1.0), tasks=tasks))
    for rate in RATES:
        for strategy in STRATEGIES:
            configs.append(Config(strategy, 1.0, job=progress_job(rate), tasks=tasks))
    return tuple(dict.fromkeys(configs))  # the same configuration once


def select(
    measurements: Iterable[Measurement],
    strategy: str,
    *,
    interval: float | None = None,
    browser: bool = False,
    job: Job | None = None,
) -> Measurement:
    """The measurement of one configuration (``job``: its steps and mean gap; seeds differ)."""
    for m in measurements:
        if m.strategy != strategy or m.browser != browser or m.job is None:
            continue
        if interval is not None and m.strategy in POLLING and m.interval != interval:
            continue
        if job is not None and (m.job.steps, m.job.mean_gap) != (job.steps, job.mean_gap):
            continue
        return m
    raise LookupError(f"no measurement of {strategy} (interval {interval}, job {job})")


# --- the recording --------------------------------------------------------------------------------

#: The shipped recording: :func:`experiment_configs` in one real minute: the article's case for
#: 60 s (3 clients per strategy), the interval and rate sweeps for two tasks per client.
RECORDING_FILE = "polling-vs-websocket.pcap"
RECORDING_SECONDS = 60.0
RECORDING_CONFIGS = experiment_configs(clients=3, tasks=2)


def record_scenario() -> Any:
    """Record :data:`RECORDING_CONFIGS` for :data:`RECORDING_SECONDS` s; return the Capture."""
    result = run(RECORDING_CONFIGS, RECORDING_SECONDS)
    if result.errors:
        raise RuntimeError("; ".join(result.errors))
    return result.capture


def recording_path() -> Path:
    return PCAP_DIR / RECORDING_FILE


#: This module's shipped capture, for :mod:`wslib.lab.recordings`.
SCENARIOS = {
    RECORDING_FILE.removesuffix(".pcap"): Scenario(
        RECORDING_FILE.removesuffix(".pcap"),
        "One minute of the five ways to learn that a background task finished (HTTP/1.0 "
        "short polling, keep-alive polling with and without a browser's headers, long "
        "polling, Server-Sent Events, WebSocket push; polling every 1 s, tasks of ~3 s), "
        "plus notebook 07's sweeps: poll intervals 0.25–4 s and 0.25–4 pieces of news/s.",
        "`wslib.lab.polling` servers and clients (`http.server`/`http.client`, `wslib.serve`/"
        "`wslib.connect`), one server port per strategy",
        record_scenario,
        seconds=RECORDING_SECONDS + 12,
    )
}
