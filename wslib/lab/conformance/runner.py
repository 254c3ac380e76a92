"""Playing the cases on real sockets: as a client against an echo server, or as a fuzzing server
for an echo client.

For each case the runner opens a fresh connection, does the opening handshake (RFC 6455 §4), plays
the case's steps with the suite's own frame builder (:mod:`.wire`), reads everything the peer
sends with a parser that forgives (so a broken peer's frames are seen, not refused), keeps the
wire trace, and hands an :class:`~.verdicts.Observation` to :func:`~.verdicts.judge`.

Every wait has a time bound (the case's ``timeout`` for the peer to react, one more second for
the end of TCP); a peer that hangs or crashes fails its case and the next case runs. Cases run
on a few threads at once (``workers``), except the large ones (``Case.solo``), which run alone.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import queue
import select
import shlex
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from ...deflate import (
    EXTENSION_NAME,
    DeflateConfig,
    PerMessageDeflate,
    client_extension,
    client_offer,
    server_extension,
)
from ...exceptions import InvalidRequest
from ...frames import RSV1, Frame, Opcode
from ...handshake import Request, Response, accept, check_response, client_request, reject
from ...streams import StreamReader
from ...sync.connection import read_until_parsed
from .cases import select as select_cases
from .model import Case, End, Pause, Send
from .report import CaseResult, Results, TraceEntry
from .verdicts import Observation, acceptable, judge
from .wire import WireFrame, build_frame, header_length, read_any_frame

__all__ = ["ClientUnderTest", "Unreachable", "run_client_suite", "run_server_suite"]

#: How long to wait for the end of TCP after a closing handshake, and for a handshake.
TCP_END_WAIT = 1.0
OPEN_TIMEOUT = 5.0
#: Most trace entries kept per case (a case of 100,000 frames keeps the first ones).
TRACE_LIMIT = 400
ENV_URL = "WSLIB_CONFORMANCE_URL"
ENV_CASE = "WSLIB_CONFORMANCE_CASE"

#: A client under test: a shell command (run once per case with the URL in
#: ``WSLIB_CONFORMANCE_URL``) or a Python function of the URL (run in a thread once per case).
ClientUnderTest = str | Callable[[str], object]
Progress = Callable[[int, int, CaseResult], object]


class Unreachable(Exception):
    """The target cannot be reached: no TCP connection, no handshake, or a client that never
    connects. The message is one line for the terminal."""


class _Trace:
    def __init__(self, start: float) -> None:
        self.start = start
        self.entries: list[TraceEntry] = []
        self.dropped = 0

    def add(self, direction: str, kind: str, text: str, frame: WireFrame | None = None) -> None:
        if len(self.entries) >= TRACE_LIMIT:
            self.dropped += 1
            return
        entry = TraceEntry(round(time.monotonic() - self.start, 6), direction, kind, text)
        if frame is not None:
            entry.opcode = frame.opcode
            entry.fin = frame.fin
            entry.rsv = (frame.rsv >> 4) & 0b111
            entry.masked = frame.masked
            entry.length = len(frame.payload)
        self.entries.append(entry)

    def finish(self) -> list[TraceEntry]:
        if self.dropped:
            self.entries.append(
                TraceEntry(self.entries[-1].t, "·", "note", f"... {self.dropped} more not kept")
            )
        return self.entries


class _Exchange:
    """One WebSocket connection after the handshake, driven by the suite (non-blocking I/O)."""

    def __init__(
        self,
        sock: socket.socket,
        trace: _Trace,
        obs: Observation,
        *,
        suite_masks: bool,
        deflate: PerMessageDeflate | None = None,
    ) -> None:
        self.sock = sock
        # permessage-deflate, when the case negotiated it: inflates the peer's messages
        self.deflate = deflate
        self.compressed = False  # the message in progress came with RSV1 on its first frame
        self.trace = trace
        self.obs = obs
        self.suite_masks = suite_masks  # the suite plays the client: it masks its frames
        self.start = trace.start
        self.reader = StreamReader()
        self.parser = self._parse()
        next(self.parser)
        self.message: tuple[str, list[bytes]] | None = None
        self.closed_by_us = False
        # Pongs owed to the peer's pings: sent once the parser has returned (writing reads the
        # socket, and what it reads goes into the same parser: it must not be running then).
        self.pongs_owed: list[bytes] = []
        # Payloads of the pongs we sent: a pong that comes back with one of them is our own pong
        # reflected by a peer that sends back every frame, not an answer to our ping.
        self.pongs_sent: list[bytes] = []
        sock.setblocking(False)

    def now(self) -> float:
        return time.monotonic() - self.start

    @property
    def peer_ended(self) -> bool:
        return self.obs.close_payload is not None or self.obs.eof_time is not None

    def feed(self, data: bytes) -> None:
        if self.obs.eof_time is not None:
            return
        if data:
            self.reader.feed_data(data)
        else:
            self.reader.feed_eof()
            self.obs.eof_time = self.now()
            self.trace.add("←", "tcp", "end of stream (FIN)")
        try:
            self.parser.send(None)
        except StopIteration:
            pass
        self._send_owed_pongs()

    def _send_owed_pongs(self) -> None:
        while self.pongs_owed and not self.closed_by_us:
            payload = self.pongs_owed.pop(0)
            self.pongs_sent.append(payload)
            self.send_frames([WireFrame(Opcode.PONG, payload)], note="(auto)")

    def _parse(self) -> Generator[None, None, None]:
        try:
            while True:
                frame = yield from read_any_frame(self.reader.read_exact)
                self._on_frame(frame)
        except EOFError:
            if self.reader.buffer:
                self.trace.add("←", "note", f"{len(self.reader.buffer)} bytes of a cut frame")
        except ValueError as exc:
            self.obs.events.append(("bad", str(exc).encode()))
            self.trace.add("←", "note", str(exc))
        while True:  # discard the rest
            self.reader.discard()
            yield

    def _on_frame(self, frame: WireFrame) -> None:
        self.trace.add("←", "frame", frame.describe(), frame)
        if self.obs.close_payload is not None:
            return  # after the close frame nothing counts (§1.4)
        opcode = frame.opcode
        if frame.masked == self.suite_masks:
            who = "server" if self.suite_masks else "client"
            self.obs.events.append(("bad", f"{who} frame with wrong masking".encode()))
        # RFC 7692 §6: with permessage-deflate, RSV1 on the first frame of a message
        data_opcodes = (Opcode.TEXT, Opcode.BINARY)
        allowed = RSV1 if self.deflate is not None and opcode in data_opcodes else 0
        if frame.rsv & ~allowed:
            self.obs.events.append(("bad", b"frame with RSV bits"))
        if opcode == Opcode.PING:
            if not self.closed_by_us:
                self.pongs_owed.append(frame.payload)
        elif opcode == Opcode.PONG:
            if frame.payload in self.pongs_sent:
                self.pongs_sent.remove(frame.payload)
                self.obs.events.append(("bad", b"our own pong sent back (the peer echoes pongs)"))
            else:
                self.obs.events.append(("pong", frame.payload))
        elif opcode == Opcode.CLOSE:
            self.obs.close_payload = frame.payload
            self.obs.close_time = self.now()
        elif opcode in (Opcode.TEXT, Opcode.BINARY):
            if self.message is not None:
                self.obs.events.append(("bad", b"new message before the last one ended"))
            self.message = ("text" if opcode == Opcode.TEXT else "binary", [frame.payload])
            self.compressed = bool(frame.rsv & RSV1) and self.deflate is not None
            self._maybe_done(frame.fin)
        elif opcode == Opcode.CONT:
            if self.message is None:
                self.obs.events.append(("bad", b"continuation without a message"))
            else:
                self.message[1].append(frame.payload)
                self._maybe_done(frame.fin)
        else:
            self.obs.events.append(("bad", f"reserved opcode 0x{opcode:X}".encode()))

    def _maybe_done(self, fin: bool) -> None:
        if fin and self.message is not None:
            kind, parts = self.message
            payload = b"".join(parts)
            if self.compressed and self.deflate is not None:
                opcode = Opcode.TEXT if kind == "text" else Opcode.BINARY
                try:  # RFC 7692 §7.2.2: the whole message's payload, inflated
                    payload = self.deflate.decode(Frame(opcode, payload, rsv1=True), None).payload
                except Exception as exc:
                    kind = "bad"
                    payload = f"a compressed message that does not inflate: {exc}".encode()
            self.obs.events.append((kind, payload))
            self.message = None

    def pump(self, deadline: float) -> None:
        """Read what arrives until ``deadline`` (monotonic) or the end of TCP."""
        while self.obs.eof_time is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([self.sock], [], [], left)
            if readable:
                self._recv()

    def _recv(self) -> None:
        try:
            data = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # a reset: the end of TCP, the hard way
            self.trace.add("←", "tcp", f"connection reset ({exc.__class__.__name__})")
            data = b""
        self.feed(data)

    def run_until(self, done: Callable[[], bool], deadline: float) -> bool:
        while not done():
            if self.obs.eof_time is not None:
                return done()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([self.sock], [], [], left)
            if readable:
                self._recv()
        return True

    def write(self, data: bytes, deadline: float) -> bool:
        """Write all of ``data`` while reading what arrives; False if the peer is gone."""
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                self.obs.write_error = "write timed out: the peer does not read"
                return False
            readable, writable, _ = select.select([self.sock], [self.sock], [], left)
            if readable:
                self._recv()
            if writable:
                try:
                    sent = self.sock.send(view[: 1 << 18])
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    self.obs.write_error = f"write failed: {exc.__class__.__name__}"
                    self.trace.add("→", "tcp", self.obs.write_error)
                    return False
                view = view[sent:]
        return True

    def frame_bytes(self, frame: WireFrame, wrong_mask: bool = False) -> bytes:
        mask = self.suite_masks != wrong_mask
        return build_frame(frame.opcode, frame.payload, fin=frame.fin, rsv=frame.rsv, mask=mask)

    def send_frames(self, frames: list[WireFrame], note: str = "") -> None:
        for frame in frames:
            shown = dataclasses.replace(frame, masked=self.suite_masks)  # as it goes on the wire
            self.trace.add("→", "frame", f"{shown.describe()} {note}".strip(), shown)
        data = b"".join(self.frame_bytes(f) for f in frames)
        self.write(data, time.monotonic() + 2.0)

    def play(self, case: Case) -> None:
        """Write the case's steps, reading what arrives meanwhile."""
        sends = [i for i, step in enumerate(case.steps) if isinstance(step, Send)]
        last_send = sends[-1] if sends else -1
        for index, step in enumerate(case.steps):
            if self.peer_ended and index > 0:
                self.trace.add("·", "note", "the peer ended: the rest of the steps is skipped")
                return
            if isinstance(step, Pause):
                self.pump(time.monotonic() + step.seconds)
                continue
            blobs = []
            for f in step.frames:
                wire = build_frame(
                    f.opcode,
                    f.payload,
                    fin=f.fin,
                    rsv=f.rsv,
                    mask=self.suite_masks != f.wrong_mask,
                    length_form=f.length_form,
                    length=f.length,
                )
                blobs.append(wire)
                shown = WireFrame(
                    f.opcode, f.payload, f.fin, f.rsv, self.suite_masks != f.wrong_mask
                )
                self.trace.add("→", "frame", shown.describe(), shown)
            data = b"".join(blobs)
            pieces = _pieces(data, step, blobs[-1] if blobs else b"")
            if len(pieces) > 1:
                how = f"written in {len(pieces)} pieces" + (
                    f", {step.delay:g} s apart" if step.delay else ""
                )
                self.trace.add("·", "note", how)
            deadline = time.monotonic() + case.timeout + 2.0 + step.delay * len(pieces)
            for k, piece in enumerate(pieces):
                if k and step.delay:
                    self.pump(time.monotonic() + step.delay)
                if k and self.peer_ended:
                    self.trace.add("·", "note", f"the peer ended: {len(pieces) - k} pieces unsent")
                    return
                if index == last_send and k == len(pieces) - 1:
                    self.obs.last_write_time = self.now()
                if not self.write(piece, deadline):
                    return

    def close(self, code: int = 1000) -> None:
        self.closed_by_us = True
        self.obs.our_close_time = self.now()
        self.send_frames([WireFrame(Opcode.CLOSE, code.to_bytes(2, "big"))])


def _pieces(data: bytes, step: Send, last_frame: bytes) -> list[bytes]:
    if step.chunk is not None:
        return [data[i : i + step.chunk] for i in range(0, len(data), step.chunk)]
    if step.cut:
        base = len(data) - len(last_frame) + header_length(last_frame)
        offsets = [0, *(base + c for c in step.cut), len(data)]
        return [data[a:b] for a, b in itertools.pairwise(offsets) if b > a]
    return [data]


def _longest(case: Case) -> int:
    return max(len(seq) for seq, _ in acceptable(case))


def _prefix_of_acceptable(case: Case, events: list[tuple[str, bytes]]) -> bool:
    n = len(events)
    return any(tuple(seq[:n]) == tuple(events) for seq, _ in acceptable(case) if len(seq) >= n)


def _steps_close(case: Case) -> bool:
    """Do the case's steps send a close frame themselves?"""
    return any(
        frame.opcode == Opcode.CLOSE
        for step in case.steps
        if isinstance(step, Send)
        for frame in step.frames
    )


def _conclude(ex: _Exchange, case: Case) -> None:
    """After the steps: wait for the peer's reaction and close as the case requires."""
    obs = ex.obs
    end = case.expect.end
    deadline = time.monotonic() + case.timeout

    closes = _steps_close(case)

    def settled() -> bool:
        if ex.peer_ended or not _prefix_of_acceptable(case, obs.events):
            return True
        if end is End.CLEAN or (end is End.EITHER and not closes):
            return len(obs.events) >= _longest(case)
        return False

    ex.run_until(settled, deadline)
    if (end is End.CLEAN or (end is End.EITHER and not closes)) and not ex.peer_ended:
        if _prefix_of_acceptable(case, obs.events):
            ex.close(1000)
            ex.run_until(lambda: ex.peer_ended, time.monotonic() + case.timeout)
    # The end of TCP: a server ends it first (RFC 6455 §7.1.1); the suite as a server ends it
    # once the closing handshake is done.
    if obs.close_payload is not None and not ex.closed_by_us and obs.eof_time is None:
        ex.closed_by_us = True
        reply = obs.close_payload if obs.close_code in (1000,) else (1000).to_bytes(2, "big")
        ex.send_frames([WireFrame(Opcode.CLOSE, reply)], note="(reply)")
    if obs.peer_is_server and obs.close_payload is not None:
        ex.run_until(lambda: obs.eof_time is not None, time.monotonic() + TCP_END_WAIT)


# --- the suite as a client, against an echo server ------------------------------------------------


def _parse_url(url: str) -> tuple[str, int, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise Unreachable(f"{url!r} is not a ws://HOST:PORT/PATH URL (wss is not supported)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port or 80, path


def _client_handshake(
    host: str,
    port: int,
    path: str,
    trace: _Trace,
    timeout: float = OPEN_TIMEOUT,
    deflate: DeflateConfig | None = None,
) -> tuple[socket.socket, bytes, PerMessageDeflate | None]:
    """Connect and do the opening handshake (RFC 6455 §4.1); return the socket, leftovers and
    the permessage-deflate codec when ``deflate`` is offered (a server that declines fails)."""
    deadline = time.monotonic() + timeout
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        authority = host if port == 80 else f"{host}:{port}"
        request = client_request(authority, path)
        client_offer(request, deflate)  # RFC 7692 §5: the offer, when the case has one
        for line in request.serialize().decode().split("\r\n")[:-2]:
            trace.add("→", "http", line)
        sock.sendall(request.serialize())
        reader = StreamReader()
        parser = Response.parse(reader.read_line, reader.read_exact)
        next(parser)
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                reader.feed_eof()
            else:
                reader.feed_data(data)
            try:
                parser.send(None)
            except StopIteration as done:
                response: Response = done.value
                break
        trace.add("←", "http", f"{response.version} {response.status} {response.reason}")
        for name, value in response.headers.items():
            trace.add("←", "http", f"{name}: {value}")
        check_response(
            response,
            request.headers["Sec-WebSocket-Key"],
            extensions=[EXTENSION_NAME] if deflate is not None else [],
        )
        codec = client_extension(response, deflate)
        if deflate is not None and codec is None:
            raise ValueError("the server declined permessage-deflate (no answer to the offer)")
        return sock, bytes(reader.buffer), codec
    except BaseException:
        sock.close()
        raise


def _run_server_case(url: str, case: Case) -> CaseResult:
    start = time.monotonic()
    trace = _Trace(start)
    obs = Observation(peer_is_server=True)
    host, port, path = _parse_url(url)
    try:
        sock, leftover, codec = _client_handshake(host, port, path, trace, deflate=case.deflate)
    except Exception as exc:
        obs.handshake_error = f"{exc.__class__.__name__}: {exc}"
    else:
        with sock:
            ex = _Exchange(sock, trace, obs, suite_masks=True, deflate=codec)
            if leftover:
                ex.feed(leftover)
            ex.play(case)
            _conclude(ex, case)
            if obs.eof_time is None:
                trace.add("→", "tcp", "the suite ends TCP")
    verdict, reason = judge(case, obs)
    return CaseResult(
        case, verdict, reason, round(time.monotonic() - start, 4), trace.finish(), obs.close_code
    )


def probe_server(url: str, timeout: float = OPEN_TIMEOUT) -> None:
    """Raise :class:`Unreachable` (one line) if no WebSocket handshake succeeds at ``url``."""
    host, port, path = _parse_url(url)
    try:
        sock, _, _ = _client_handshake(host, port, path, _Trace(time.monotonic()), timeout)
    except OSError as exc:
        raise Unreachable(f"cannot reach {url}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise Unreachable(f"no WebSocket handshake at {url}: {exc}") from None
    with sock:
        try:
            sock.sendall(build_frame(Opcode.CLOSE, (1000).to_bytes(2, "big"), mask=True))
        except OSError:
            pass


def _run_all(
    cases: Sequence[Case],
    run_one: Callable[[Case], CaseResult],
    workers: int,
    progress: Progress | None,
) -> list[CaseResult]:
    results: dict[str, CaseResult] = {}
    lock = threading.Lock()

    def one(case: Case) -> None:
        result = run_one(case)
        with lock:
            results[case.id] = result
            if progress is not None:
                progress(len(results), len(cases), result)

    shared = [case for case in cases if not case.solo]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, shared))
    for case in cases:
        if case.solo:
            one(case)
    return [results[case.id] for case in cases]


def run_server_suite(
    url: str,
    *,
    cases: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    workers: int = 4,
    progress: Progress | None = None,
) -> Results:
    """Run the suite against the echo server at ``url`` (``ws://HOST:PORT/PATH``).

    ``cases``: ids or prefixes (``["2", "6.3.1"]``); ``categories``: names from
    :data:`~.cases.CATEGORIES`; ``None`` runs all. Raises :class:`Unreachable` when no handshake
    succeeds. ``progress(done, total, result)`` is called after each case.
    """
    chosen = [c for c in select_cases(cases, categories) if c.only in (None, "server")]
    probe_server(url)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    results = _run_all(chosen, lambda case: _run_server_case(url, case), workers, progress)
    return Results(url, "server", started, round(time.monotonic() - t0, 3), results)


# --- the suite as a server, against an echo client ------------------------------------------------


class _FuzzingServer:
    """A listening socket on a free 127.0.0.1 port; each connection's request path names the
    case (``/2.3.1``) and the connection is handed to the thread playing that case."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.waiting: dict[str, queue.Queue[tuple[socket.socket, Request, bytes, float]]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, name="conformance-acceptor")
        self.acceptor.start()

    def url(self, case: Case) -> str:
        return f"ws://127.0.0.1:{self.port}/{case.id}"

    def expect(self, case: Case) -> queue.Queue[tuple[socket.socket, Request, bytes, float]]:
        slot: queue.Queue[tuple[socket.socket, Request, bytes, float]] = queue.Queue()
        with self.lock:
            self.waiting[case.id] = slot
        return slot

    def forget(self, case: Case) -> None:
        with self.lock:
            self.waiting.pop(case.id, None)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._route, args=(sock,), daemon=True)
            self.threads = [t for t in self.threads if t.is_alive()]
            self.threads.append(thread)
            thread.start()

    def _route(self, sock: socket.socket) -> None:
        arrived = time.monotonic()
        deadline = arrived + OPEN_TIMEOUT
        reader = StreamReader()
        try:
            request = read_until_parsed(sock, reader, Request.parse(reader.read_line), deadline)
        except Exception:
            sock.close()
            return
        case_id = request.path.strip("/").split("?")[0]
        with self.lock:
            slot = self.waiting.get(case_id)
        if slot is None:
            body = f"no case {case_id!r} is waiting for a client\n".encode()
            sock.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (len(body), body)
            )
            sock.close()
            return
        slot.put((sock, request, bytes(reader.buffer), arrived))

    def close(self) -> None:
        self.stop.set()
        self.acceptor.join(2)
        self.listener.close()
        for thread in self.threads:
            thread.join(OPEN_TIMEOUT + 1)


class _ClientProcess:
    """The client under test for one case: a shell command or a Python function in a thread."""

    def __init__(self, client: ClientUnderTest, url: str, case: Case) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.thread: threading.Thread | None = None
        self.error: str | None = None
        if isinstance(client, str):
            env = {**os.environ, ENV_URL: url, ENV_CASE: case.id}
            self.proc = subprocess.Popen(
                client,
                shell=True,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        else:

            def target() -> None:
                try:
                    client(url)
                except Exception as exc:  # the client's failure is part of the result
                    self.error = f"{exc.__class__.__name__}: {exc}"

            self.thread = threading.Thread(target=target, name=f"client-{case.id}", daemon=True)
            self.thread.start()

    def finish(self, timeout: float) -> str:
        """Wait for the client to end (kill it after ``timeout``); describe how it ended."""
        if self.proc is not None:
            try:
                _, err = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                _, err = self.proc.communicate()
                return "the client command did not exit: killed"
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
            return f"the client command exited with {self.proc.returncode}" + (
                f": {last[0][:200]}" if last else ""
            )
        assert self.thread is not None
        self.thread.join(timeout)
        if self.thread.is_alive():
            return "the client function did not return"
        return f"the client function raised {self.error}" if self.error else "the client returned"


def _run_client_case(
    server: _FuzzingServer, client: ClientUnderTest, case: Case
) -> tuple[CaseResult, bool]:
    start = time.monotonic()
    trace = _Trace(start)
    obs = Observation(peer_is_server=False)
    slot = server.expect(case)
    url = server.url(case)
    trace.add("·", "note", f"client started with {ENV_URL}={url}")
    try:
        proc = _ClientProcess(client, url, case)
    except OSError as exc:
        server.forget(case)
        raise Unreachable(f"cannot start the client {client!r}: {exc}") from None
    connected = False
    try:
        try:
            sock, request, leftover, _ = slot.get(timeout=OPEN_TIMEOUT)
        except queue.Empty:
            obs.handshake_error = f"the client did not connect within {OPEN_TIMEOUT:g} s"
        else:
            connected = True
            with sock:
                for line in request.serialize().decode("latin-1").split("\r\n")[:-2]:
                    trace.add("←", "http", line)
                codec = None
                try:
                    response = accept(request)
                    # RFC 7692: the case's answer to the client's permessage-deflate offer
                    codec = server_extension(request, response, case.deflate)
                    if case.deflate is not None and codec is None:
                        obs.handshake_error = "the client offered no acceptable permessage-deflate"
                except InvalidRequest as exc:
                    response = reject(exc)
                    obs.handshake_error = f"invalid request: {exc}"
                for name_line in response.serialize().decode().split("\r\n\r\n")[0].split("\r\n"):
                    trace.add("→", "http", name_line)
                sock.sendall(response.serialize())
                if obs.handshake_error is None:
                    ex = _Exchange(sock, trace, obs, suite_masks=False, deflate=codec)
                    if leftover:
                        ex.feed(leftover)
                    ex.play(case)
                    _conclude(ex, case)
                    trace.add("→", "tcp", "the suite ends TCP")
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
    finally:
        server.forget(case)
        trace.add("·", "note", proc.finish(case.timeout + 1.0))
    verdict, reason = judge(case, obs)
    result = CaseResult(
        case, verdict, reason, round(time.monotonic() - start, 4), trace.finish(), obs.close_code
    )
    return result, connected


def run_client_suite(
    client: ClientUnderTest,
    *,
    cases: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    workers: int = 4,
    progress: Progress | None = None,
) -> Results:
    """Run the suite against an echo client: the suite is a server on a free 127.0.0.1 port.

    ``client`` runs once per case: a shell command gets the URL in ``WSLIB_CONFORMANCE_URL`` and
    the case id in ``WSLIB_CONFORMANCE_CASE``; a Python function is called with the URL in a
    thread. Either way it must connect, echo every message (text as text, binary as binary) and
    end when the connection closes. Raises :class:`Unreachable` if the client does not connect
    for the first case.
    """
    chosen = [c for c in select_cases(cases, categories) if c.only in (None, "client")]
    server = _FuzzingServer()
    target = client if isinstance(client, str) else getattr(client, "__name__", repr(client))
    try:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t0 = time.monotonic()
        done: list[CaseResult] = []
        if chosen:
            first, connected = _run_client_case(server, client, chosen[0])
            if not connected:
                raise Unreachable(f"the client {shlex.quote(target)} never connected to the suite")
            done.append(first)
            if progress is not None:
                progress(1, len(chosen), first)

        def shifted(n: int, total: int, result: CaseResult) -> None:
            if progress is not None:
                progress(n + 1, total + 1, result)

        rest = _run_all(
            chosen[1:], lambda case: _run_client_case(server, client, case)[0], workers, shifted
        )
        return Results(
            f"client: {target}", "client", started, round(time.monotonic() - t0, 3), done + rest
        )
    finally:
        server.close()
