"""The recorded captures in ``data/pcaps/``: how each one is made, and the command to make it again.

Each scenario runs real peers on ``127.0.0.1`` (free ports picked by the system) under
:func:`wslib.lab.capture.capture` and writes ``NAME.pcap``; a few run an experiment whose
results a capture cannot hold (what the server saw, what a command printed) and write them as
``NAME.json`` (read back with :func:`wslib.lab.scenario.recorded`)::

    .venv/bin/python -m wslib.lab.recordings                   # all of them, then the manifest
    .venv/bin/python -m wslib.lab.recordings echo-123-456      # only the ones named

Capturing needs privileges (root, or the capabilities :mod:`wslib.lab.tools` describes). Every
regeneration differs from the last in timestamps, ports and masking keys, never in the frames.
``data/pcaps/README.md`` (the manifest) is rewritten between its two marker lines, with the port,
the packet count and the size of each file as found on disk.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..frames import Close, Frame, Opcode
from ..handshake import Response, check_response, client_request
from ..streams import StreamReader
from ..sync.client import connect
from ..sync.connection import read_until_parsed
from ..sync.server import Server, ServerConnection, serve
from . import compression, failover, jupyter, polling, proxy, security, wss
from .capture import Capture, CaptureUnavailable, capture
from .scenario import Scenario
from .tools import PCAP_DIR, nginx, without_proxy_variables

__all__ = [
    "MANIFEST_BEGIN",
    "MANIFEST_END",
    "SCENARIOS",
    "Scenario",
    "main",
    "manifest_rows",
    "pcap_facts",
    "record",
    "write_manifest",
]

#: Seconds that ``keepalive-idle`` stays idle, and its server's ping interval.
IDLE_SECONDS = 60.0
PING_INTERVAL = 5.0

MANIFEST_BEGIN = "<!-- wslib.lab.recordings: begin (generated: do not edit by hand) -->"
MANIFEST_END = "<!-- wslib.lab.recordings: end -->"
REGENERATE = ".venv/bin/python -m wslib.lab.recordings"


def _echo(conn: ServerConnection) -> None:
    for message in conn:
        conn.send(message)


def _echo_server(**options: Any) -> Server:
    return serve(_echo, **options)


def _capture(port: int, seconds: float = 30.0) -> Capture:
    # A longer grace period than the default: the last ACK of the closing handshake must be in.
    return capture([port], timeout=seconds, grace=0.5)


# --- the scenarios --------------------------------------------------------------------------------


def echo_123_456() -> Capture:
    """The article's experiment: websocket-client sends ``123`` then ``456`` to an echo server."""
    import websocket  # websocket-client

    with without_proxy_variables(), _echo_server() as server, _capture(server.port) as cap:
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/", timeout=10)
        try:
            for text in ("123", "456"):
                ws.send(text)
                _expect(ws.recv() == text)
        finally:
            ws.close()  # a close frame with 1000, and the server's close frame back
    return cap


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0: one request per connection, and the server closes it after the answer."""

    protocol_version = "HTTP/1.0"
    # Buffered: head and body leave in one write (one TCP segment), as a real server sends
    # them; unbuffered, http.server writes the head, then the body: a packet more per answer.
    wbufsize = 64 * 1024

    def do_POST(self) -> None:  # the name http.server looks up
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _http10_post(port: int, text: str) -> bytes:
    request = (
        f"POST /echo HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(text)}\r\n\r\n{text}"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):  # HTTP/1.0: the answer ends when the server closes
            answer += chunk
    return answer


def http10_123_456() -> Capture:
    """The same two messages as two HTTP/1.0 requests to an echo server: two TCP connections."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        with _capture(port) as cap:
            for text in ("123", "456"):
                answer = _http10_post(port, text)
                _expect(answer.startswith(b"HTTP/1.0 200") and answer.endswith(text.encode()))
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    return cap


class _RawClient:
    """A WebSocket client on a bare socket, one frame per ``send``: to put odd sequences on the
    wire (a ping between two fragments) that a well-behaved client library would not send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = StreamReader()
        request = client_request(f"127.0.0.1:{port}")
        self.sock.sendall(request.serialize())
        response = self._read(Response.parse(self.reader.read_line, self.reader.read_exact))
        check_response(response, request.headers["Sec-WebSocket-Key"])

    def _read(self, parser: Any) -> Any:
        return read_until_parsed(self.sock, self.reader, parser, time.monotonic() + 10)

    def send(self, frame: Frame) -> None:
        self.sock.sendall(frame.serialize(mask=True))

    def recv(self) -> Frame:
        frame: Frame = self._read(Frame.parse(self.reader.read_exact, mask=False))
        return frame

    def close(self) -> None:
        self.sock.close()


def fragmented_ping() -> Capture:
    """A text message in three fragments, with a ping between the first and the second."""
    with _echo_server() as server, _capture(server.port) as cap:
        client = _RawClient(server.port)
        try:
            client.send(Frame(Opcode.TEXT, b"Hello, ", fin=False))
            client.send(Frame(Opcode.PING, b"still there?"))
            pong = client.recv()  # the server answers between the fragments (RFC 6455 §5.4)
            _expect(pong.opcode is Opcode.PONG and pong.payload == b"still there?")
            client.send(Frame(Opcode.CONT, b"fragmented ", fin=False))
            client.send(Frame(Opcode.CONT, b"world!", fin=True))
            echo = client.recv()
            _expect(echo.opcode is Opcode.TEXT and echo.payload == b"Hello, fragmented world!")
            client.send(Frame(Opcode.CLOSE, Close(1000, "").serialize()))
            answer = client.recv()
            _expect(answer.opcode is Opcode.CLOSE)
            client.sock.settimeout(5)
            _expect(client.sock.recv(1) == b"")  # the server ends TCP first (RFC 6455 §7.1.1)
        finally:
            client.close()
    return cap


#: 70,000 bytes: more than 65,535, so the length takes the 64-bit form (RFC 6455 §5.2).
BIG_MESSAGE = "A long message. " * 4375


def big_message() -> Capture:
    """One 70,000-byte text message, echoed: both frames use the 64-bit payload length."""
    with _echo_server() as server, _capture(server.port) as cap:
        with connect(f"ws://127.0.0.1:{server.port}/") as conn:
            conn.send(BIG_MESSAGE)
            _expect(conn.recv(timeout=10) == BIG_MESSAGE)
    return cap


def keepalive_idle(idle: float = IDLE_SECONDS, interval: float = PING_INTERVAL) -> Capture:
    """One message, then ``idle`` seconds of silence kept alive by the server's pings."""
    with (
        _echo_server(ping_interval=interval, ping_timeout=interval) as server,
        _capture(server.port, seconds=idle + 30) as cap,
    ):
        # ping_interval=None: only the server pings; the client's reader thread answers pongs.
        with connect(f"ws://127.0.0.1:{server.port}/", ping_interval=None) as conn:
            conn.send("hello")
            _expect(conn.recv(timeout=10) == "hello")
            time.sleep(idle)
    return cap


def close_clean() -> Capture:
    """A message, then a closing handshake started by the client with 1000 and a reason."""
    codes: list[int | None] = []

    def handler(conn: ServerConnection) -> None:
        _echo(conn)
        codes.append(conn.close_code)

    with serve(handler) as server, _capture(server.port) as cap:
        with connect(f"ws://127.0.0.1:{server.port}/") as conn:
            conn.send("hello")
            _expect(conn.recv(timeout=10) == "hello")
            conn.close(1000, "done for today")
        _wait_for(lambda: bool(codes))
    _expect(codes == [1000])
    return cap


def close_abnormal() -> Capture:
    """A message, then the client resets TCP (SO_LINGER 0): no close frame; the server sees 1006."""
    import websocket  # websocket-client

    codes: list[int | None] = []

    def handler(conn: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            _echo(conn)
        codes.append(conn.close_code)

    with without_proxy_variables(), serve(handler) as server, _capture(server.port) as cap:
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/", timeout=10)
        ws.send("hello")
        _expect(ws.recv() == "hello")
        # Linger on, with a time of 0: close() discards the socket at once with a RST.
        sock = ws.sock
        assert sock is not None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.shutdown()  # type: ignore[no-untyped-call]  # closes it without a close frame
        _wait_for(lambda: bool(codes))
    _expect(codes == [1006])
    return cap


def _expect(condition: bool) -> None:
    """A check that also runs under ``python -O`` (where ``assert`` is skipped)."""
    if not condition:
        raise RuntimeError("the peers did not behave as this recording expects; nothing written")


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not see the end of the connection in time")
        time.sleep(0.01)


# --- the catalogue --------------------------------------------------------------------------------


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "echo-123-456",
            "The article's experiment: one TCP connection, one HTTP upgrade, `123` and `456` "
            "masked client→server and echoed unmasked, the closing handshake (1000), FIN.",
            "websocket-client `create_connection` → `wslib.serve` echo server",
            echo_123_456,
        ),
        Scenario(
            "http10-123-456",
            "The same two messages as two HTTP/1.0 POSTs: two TCP connections, two three-way "
            "handshakes, the headers sent again each time.",
            "raw-socket HTTP/1.0 client → stdlib `http.server` echo",
            http10_123_456,
        ),
        Scenario(
            "fragmented-ping",
            "A text message in three fragments (`Hello, ` `fragmented ` `world!`) with a ping "
            "between the first two, answered by a pong at once; the echo comes back whole.",
            "raw-socket client using `wslib.frames` → `wslib.serve` echo server",
            fragmented_ping,
        ),
        Scenario(
            "big-message",
            "One 70,000-byte text message and its echo: the 64-bit payload length (127), "
            "one frame spread over several TCP segments.",
            "`wslib.connect` → `wslib.serve` echo server",
            big_message,
        ),
        Scenario(
            "keepalive-idle",
            f"{IDLE_SECONDS:.0f} s of idle time kept alive by a ping every "
            f"{PING_INTERVAL:.0f} s, each answered by a pong.",
            f"`wslib.connect` → `wslib.serve(ping_interval={PING_INTERVAL:.0f})` echo server",
            keepalive_idle,
            seconds=IDLE_SECONDS + 2,
        ),
        Scenario(
            "close-clean",
            "A message, then the client closes with 1000 and the reason `done for today`; "
            "the server answers with its close frame and ends TCP first.",
            "`wslib.connect` → `wslib.serve` echo server",
            close_clean,
        ),
        Scenario(
            "close-abnormal",
            "A message, then the client resets the connection (RST) without a close frame: "
            "the server reports 1006.",
            "websocket-client with `SO_LINGER` 0, then `shutdown()` → `wslib.serve` echo server",
            close_abnormal,
        ),
    )
}

# The captures of notebooks 07 (wslib.lab.polling), 08-09 (wslib.lab.proxy), 06's JupyterLab
# section (wslib.lab.jupyter) and 14 (wslib.lab.failover) are made by those modules; they join
# this table so that one command regenerates every shipped capture.
SCENARIOS.update(polling.SCENARIOS)
SCENARIOS.update(proxy.SCENARIOS)
SCENARIOS.update(jupyter.SCENARIOS)
SCENARIOS.update(wss.SCENARIOS)  # notebook 12: wss://, each capture with its key log (.keys)
SCENARIOS.update(failover.SCENARIOS)
SCENARIOS.update(security.SCENARIOS)
SCENARIOS.update(compression.SCENARIOS)


def record(
    names: Sequence[str] | None = None,
    *,
    directory: str | os.PathLike[str] = PCAP_DIR,
    manifest: bool = True,
    log: Callable[[str], None] | None = print,
) -> list[Path]:
    """Record the scenarios named (all by default) into ``directory``; return the files written.

    Rewrites the manifest (``README.md`` in ``directory``) unless ``manifest=False``. Raises
    :class:`~wslib.lab.capture.CaptureUnavailable` without capture privileges, and ``KeyError``
    for an unknown name.
    """
    chosen = list(names) if names else list(SCENARIOS)
    for name in chosen:
        if name not in SCENARIOS:
            raise KeyError(f"no scenario {name!r}: choose from {', '.join(SCENARIOS)}")
    folder = Path(directory)
    written = []
    for name in chosen:
        scenario = SCENARIOS[name]
        if log:
            log(f"recording {name} (about {scenario.seconds:.0f} s)")
        result = scenario.run()
        if isinstance(result, dict):
            path = write_results(scenario, result, folder)
            written.append(path)
            if log:
                log(f"  {path}: {path.stat().st_size:,} bytes")
            continue
        if result.dropped:
            raise RuntimeError(f"{name}: the kernel dropped {result.dropped} packets; run it again")
        path = result.write(folder / scenario.file)
        written.append(path)
        if log:
            facts = pcap_facts(path)
            log(f"  {path}: {facts['packets']} packets, {facts['bytes']:,} bytes")
    if manifest:
        write_manifest(folder)
    return written


def _version(command: list[str]) -> str:
    import subprocess

    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (
        (done.stderr or done.stdout).strip().splitlines()[0] if done.stdout or done.stderr else ""
    )


def write_results(scenario: Scenario, results: dict[str, Any], directory: Path) -> Path:
    """Write an experiment's results as ``NAME.json``, with what it shows and how it was made."""
    import importlib.metadata

    tool = nginx()
    data = {
        "name": scenario.name,
        "shows": scenario.shows,
        "made": scenario.made,
        "regenerate": f"{REGENERATE} {scenario.name}",
        "tools": {
            "nginx": _version([tool.detail, "-v"]) if tool else "not installed",
            "websocket-client": importlib.metadata.version("websocket-client"),
            "python": sys.version.split()[0],
        },
        "results": results,
    }
    path = directory / scenario.file
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# --- the manifest ---------------------------------------------------------------------------------


def pcap_facts(path: str | os.PathLike[str]) -> dict[str, int]:
    """The server port (the destination of the first SYN), packets, connections and file size."""
    from scapy.layers.inet import TCP
    from scapy.utils import PcapReader

    port = 0
    packets = connections = 0
    with PcapReader(str(path)) as reader:
        for packet in reader:
            packets += 1
            if TCP in packet and packet[TCP].flags.S and not packet[TCP].flags.A:
                connections += 1
                port = port or int(packet[TCP].dport)
    return {
        "port": port,
        "packets": packets,
        "connections": connections,
        "bytes": Path(path).stat().st_size,
    }


def manifest_rows(directory: str | os.PathLike[str] = PCAP_DIR) -> list[str]:
    """The manifest's table, one row per scenario whose file is in ``directory``."""
    rows = [
        "| file | what it shows | how it was made | server port | packets | size "
        "| regenerate with |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    total = files = 0
    for scenario in SCENARIOS.values():
        path = Path(directory) / scenario.file
        if not path.exists():
            continue
        if scenario.suffix == ".json":  # results, not packets
            size = path.stat().st_size
            rows.append(
                f"| `{path.name}` | {scenario.shows} | {scenario.made} | — | — "
                f"| {size / 1024:.1f} KiB | `{REGENERATE} {scenario.name}` |"
            )
            total += size
            files += 1
            continue
        facts = pcap_facts(path)
        rows.append(
            f"| `{path.name}` | {scenario.shows} | {scenario.made} | {facts['port']} "
            f"| {facts['packets']} | {facts['bytes'] / 1024:.1f} KiB "
            f"| `{REGENERATE} {scenario.name}` |"
        )
        total += facts["bytes"]
        files += 1
    rows += ["", f"{files} files, {total / 1024:.1f} KiB in all."]
    return rows


def write_manifest(directory: str | os.PathLike[str] = PCAP_DIR) -> Path:
    """Rewrite the generated part of ``README.md`` in ``directory`` (between the marker lines)."""
    readme = Path(directory) / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = "\n".join([MANIFEST_BEGIN, *manifest_rows(directory), MANIFEST_END])
    if MANIFEST_BEGIN in text and MANIFEST_END in text:
        before, rest = text.split(MANIFEST_BEGIN, 1)
        after = rest.split(MANIFEST_END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    readme.write_text(text, encoding="utf-8")
    return readme


# --- command line ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wslib.lab.recordings",
        description="Regenerate the captures in data/pcaps/ (all, or the ones named) and the "
        "manifest data/pcaps/README.md. Needs capture privileges.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(SCENARIOS)}")
    parser.add_argument(
        "--directory",
        default=str(PCAP_DIR),
        help="where to write the pcap files (default: %(default)s)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in SCENARIOS]
    if unknown:
        parser.error(f"no scenario {unknown[0]!r} (choose from {', '.join(SCENARIOS)})")
    if args.list:
        width = max(len(name) for name in SCENARIOS)
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:{width}} {scenario.shows}")
        return 0
    try:
        record(args.names, directory=args.directory)
    except (CaptureUnavailable, proxy.ProxyUnavailable) as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
