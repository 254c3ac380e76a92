"""A real nginx in front of a :func:`wslib.serve` server: the reverse-proxy recipe, how it breaks.

Most WebSocket servers on the internet sit behind a reverse proxy (nginx, a load balancer, a CDN).
This module runs the real thing, without root and without touching the system's nginx::

    import wslib
    from wslib.lab.proxy import Nginx

    with wslib.serve(echo) as server, Nginx(server.port) as proxy:
        ...                           # connect to proxy.url: ws://127.0.0.1:PORT/
    # nginx is stopped here (terminate, wait, kill)

What it takes care of:

- **Its own everything.** A temporary directory is nginx's prefix: the configuration, the pid
  file, the error and access logs and the temporary-file folders are inside it (``nginx -p
  PREFIX -c CONF -e ERROR_LOG -g 'daemon off;'``), so that no root is needed and nothing is left
  behind. ``master_process off``: one process, which :meth:`Nginx.stop` can always end.
- **A free port.** It listens on ``127.0.0.1`` on a port the system says is free, and
  :meth:`Nginx.start` returns only once it accepts connections.
- **The recipe** (:func:`nginx_config`): the ``map $http_upgrade $connection_upgrade`` block,
  ``proxy_http_version 1.1`` and the ``Upgrade``, ``Connection``, ``Host``, ``X-Real-IP`` and
  ``X-Forwarded-For`` headers. ``Upgrade`` and ``Connection`` are *hop-by-hop* headers
  (RFC 9110 §7.6.1): a proxy removes them before it forwards a request, so they reach the server
  only when the configuration sets them again.
- **Breaking it one line at a time** (``broken=``, see :data:`BROKEN`), to see what a client gets.
- **TLS termination** (``tls=``, a PEM file with the certificate and its key, such as
  :class:`wslib.lab.certs.LocalCA`'s ``server_pem``): nginx listens for ``wss://`` and talks
  plain ``ws://`` to the server, the way a CDN or a load balancer does; :attr:`Nginx.url` is then
  ``wss://localhost:PORT/``.
- **Idle timeouts** (``read_timeout=``, ``send_timeout=``): nginx's ``proxy_read_timeout``
  (default 60 s) closes a proxied WebSocket when nothing has moved for that long (on nginx 1.22,
  traffic in either direction resets the timer), like the article's CDN, which cuts a connection
  after 10 s without messages.

Without nginx, :class:`Nginx` raises :class:`ProxyUnavailable`, whose message is one sentence
with the install command (from :func:`wslib.lab.tools.nginx`).

:func:`idle_run` is notebook 09's experiment (a quiet connection through nginx, with or without
heartbeats, measured and captured), and :func:`scenarios` the recordings notebooks 08 and 09 ship
(``nginx-both-legs``, ``idle-timeout-kill``, ``heartbeat-keeps-alive``), for
:mod:`wslib.lab.recordings`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..exceptions import WebSocketError
from . import tools
from .scenario import Scenario

if TYPE_CHECKING:
    from .capture import Capture

__all__ = [
    "BROKEN",
    "CLAIMED_ADDRESS",
    "SHOWN_HEADERS",
    "HeaderEcho",
    "Nginx",
    "ProxyError",
    "ProxyUnavailable",
    "broken_recipes",
    "client_heartbeat",
    "forwarded_for",
    "free_port",
    "heartbeat_run",
    "idle_run",
    "idle_timeouts",
    "nginx_available",
    "nginx_config",
    "run_wsdump",
    "scenarios",
    "try_recipe",
]


class ProxyError(WebSocketError):
    """nginx did not start, or did not accept connections in time; the message says why."""


class ProxyUnavailable(ProxyError):
    """nginx is not installed here; the message is one sentence with the install command."""


def nginx_available() -> bool:
    """Is an nginx binary installed here? (:func:`wslib.lab.tools.nginx`)."""
    return tools.nginx().available


#: The ways to break the recipe, one line each: name -> what changes in the configuration.
BROKEN: dict[str, str] = {
    "no-http-1.1": "no `proxy_http_version 1.1`: nginx talks HTTP/1.0 to the server",
    "no-upgrade": "no `proxy_set_header Upgrade $http_upgrade`: the Upgrade header is dropped",
    "no-connection": "no `proxy_set_header Connection $connection_upgrade`: nginx sends its "
    "default `Connection: close`",
    "connection-keep-alive": "`proxy_set_header Connection keep-alive`: Connection set wrongly",
}


def _seconds(value: float) -> str:
    """An nginx time: ``10s``, or ``1500ms`` for a fraction of a second."""
    if float(value).is_integer():
        return f"{int(value)}s"
    return f"{round(value * 1000)}ms"


def _temp_paths(prefix: Path) -> list[str]:
    """One ``*_temp_path`` line per module compiled into this nginx (Debian's defaults under
    /var/lib/nginx are not writable without root, and nginx checks them at start-up)."""
    modules = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    try:
        built = subprocess.run(
            [tools.nginx().detail, "-V"], capture_output=True, text=True, timeout=5
        ).stderr
    except (OSError, subprocess.SubprocessError):
        built = ""
    lines = []
    for module in modules:
        if f"--without-http_{module}_module" in built:
            continue
        lines.append(f"{module}_temp_path {prefix / 'temp' / module};")
    return lines


def _check_options(broken: str | None, connection: str | None) -> None:
    """Refuse an unknown ``broken`` variant, and a ``connection`` that is not one nginx value."""
    if broken is not None and broken not in BROKEN:
        raise ValueError(f"unknown broken variant {broken!r}: choose from {', '.join(BROKEN)}")
    if connection is None:
        return
    if broken in ("no-connection", "connection-keep-alive"):
        raise ValueError(f"connection= and broken={broken!r} both set the Connection line")
    if not connection.strip() or any(c in connection for c in ";{}\n"):
        raise ValueError(
            f"connection={connection!r} is not one nginx value (no ; {{ }} or newline)"
        )


def nginx_config(
    upstream_port: int,
    listen_port: int,
    *,
    prefix: str | os.PathLike[str] = ".",
    broken: str | None = None,
    read_timeout: float | None = None,
    send_timeout: float | None = None,
    location: str = "/",
    connection: str | None = None,
    tls: str | os.PathLike[str] | None = None,
) -> str:
    """The article's reverse-proxy configuration for a WebSocket server on ``upstream_port``.

    ``broken``: one of :data:`BROKEN` to leave out (or get wrong) one line of the recipe.
    ``connection``: the value of the recipe's ``proxy_set_header Connection`` line instead of
    ``$connection_upgrade`` (the ``map``), e.g. ``'"upgrade"'``, the constant many blog posts use.
    ``read_timeout``/``send_timeout``: ``proxy_read_timeout``/``proxy_send_timeout`` in seconds
    (nginx's default for both: 60 s). ``tls``: a PEM file with the certificate chain and its
    private key: nginx listens with TLS (``wss://``) and forwards plain ``ws://``. The result
    is a complete ``nginx.conf``; every file nginx writes is under ``prefix``.
    """
    _check_options(broken, connection)
    base = Path(prefix)
    recipe = [
        "proxy_pass http://websocket;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    ]
    if broken != "no-http-1.1":
        recipe.append("proxy_http_version 1.1;")
    if broken != "no-upgrade":
        recipe.append("proxy_set_header Upgrade $http_upgrade;")
    if broken == "connection-keep-alive":
        recipe.append("proxy_set_header Connection keep-alive;")
    elif broken != "no-connection":
        recipe.append(f"proxy_set_header Connection {connection or '$connection_upgrade'};")
    if read_timeout is not None:
        recipe.append(f"proxy_read_timeout {_seconds(read_timeout)};")
    if send_timeout is not None:
        recipe.append(f"proxy_send_timeout {_seconds(send_timeout)};")
    body = "\n".join(f"            {line}" for line in recipe)
    temp = "\n".join(f"    {line}" for line in _temp_paths(base))
    listen = f"listen 127.0.0.1:{listen_port};"
    if tls is not None:  # TLS ends here: the public leg is wss://, the leg to the server ws://
        listen = (
            f"listen 127.0.0.1:{listen_port} ssl;\n"
            f"        ssl_certificate {tls};\n"
            f"        ssl_certificate_key {tls};\n"
            f"        ssl_protocols TLSv1.2 TLSv1.3;"
        )
    return f"""\
# nginx.conf generated by wslib.lab.proxy{f" (broken: {broken})" if broken else ""}{
        f" (Connection: {connection})" if connection else ""
    }
master_process off;   # one process, no workers: stopping it stops everything
pid {base / "nginx.pid"};
error_log {base / "error.log"} info;

events {{
    worker_connections 64;
}}

http {{
    access_log {base / "access.log"};
{temp}

    # "Connection: upgrade" when the client asked to upgrade, "Connection: close" otherwise.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    upstream websocket {{
        server 127.0.0.1:{upstream_port};
    }}

    server {{
        {listen}
        server_name _;

        location {location} {{
{body}
        }}
    }}
}}
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


class Nginx:
    """A real nginx reverse proxy on ``127.0.0.1:port`` in front of ``127.0.0.1:upstream_port``.

    A context manager: ``with Nginx(server.port) as proxy:`` starts it and waits until it accepts
    connections; leaving the block stops it. Attributes: :attr:`port`, :attr:`url`
    (``ws://127.0.0.1:PORT/``), :attr:`config` (the text of ``nginx.conf``), :attr:`prefix`
    (the temporary directory), :attr:`command`. :meth:`error_log` and :meth:`access_log` read
    the logs (the error log says why nginx closed a connection). The options are those of
    :func:`nginx_config`; ``port=0`` listens on a free port picked at start.
    """

    def __init__(
        self,
        upstream_port: int,
        *,
        broken: str | None = None,
        read_timeout: float | None = None,
        send_timeout: float | None = None,
        location: str = "/",
        connection: str | None = None,
        tls: str | os.PathLike[str] | None = None,
        start_timeout: float = 5.0,
        stop_timeout: float = 5.0,
        port: int = 0,
    ) -> None:
        tool = tools.nginx()
        if not tool.available:
            raise ProxyUnavailable(f"nginx is not installed: {tool.advice}")
        self.binary = tool.detail
        self.upstream_port = upstream_port
        self.broken = broken
        self.read_timeout = read_timeout
        self.send_timeout = send_timeout
        self.location = location
        self.connection = connection
        self.tls = tls
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        _check_options(broken, connection)  # now, not when nginx starts
        self.port = port  # 0: a free port picked at start
        self.fixed_port = port
        self.config = ""
        self.prefix: Path | None = None
        self.command: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._logs: dict[str, str] = {}

    @property
    def url(self) -> str:
        """Where clients connect: ``ws://127.0.0.1:PORT/`` (``wss://localhost:PORT/`` with TLS)."""
        if self.tls is not None:
            return f"wss://localhost:{self.port}{self.location}"
        return f"ws://127.0.0.1:{self.port}{self.location}"

    def start(self) -> None:
        """Write the configuration, start nginx and return once it accepts connections."""
        if self.process is not None:
            raise ProxyError("this nginx is already running")
        self._tempdir = tempfile.TemporaryDirectory(prefix="wslib-nginx-")
        self.prefix = Path(self._tempdir.name)
        for attempt in range(3):  # the free port may be taken between our check and nginx's bind
            try:
                self._start_once()
                return
            except ProxyError:
                self._stop_process()
                retry = not self.fixed_port and "Address already in use" in self.error_log()
                if attempt == 2 or not retry:
                    self._cleanup()
                    raise

    def _start_once(self) -> None:
        assert self.prefix is not None
        for module in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "temp" / module).mkdir(parents=True, exist_ok=True)
        self.port = self.fixed_port or free_port()
        self.config = self.render_config()
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config, encoding="utf-8")
        (self.prefix / "error.log").write_text("", encoding="utf-8")
        self.command = [
            self.binary,
            "-p",
            str(self.prefix),
            "-c",
            str(conf),
            "-e",  # the start-up error log (nginx >= 1.19.5): not /var/log/nginx/error.log
            str(self.prefix / "error.log"),
            "-g",
            "daemon off;",
        ]
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.start_timeout
        while not _accepts(self.port):
            if self.process.poll() is not None:
                raise ProxyError(f"nginx exited at start-up: {self._last_error()}")
            if time.monotonic() > deadline:
                raise ProxyError(
                    f"nginx did not accept connections within {self.start_timeout:g} s: "
                    f"{self._last_error()}"
                )
            time.sleep(0.02)

    def render_config(self) -> str:
        """The text of ``nginx.conf`` for :attr:`port` and :attr:`prefix` (subclasses change it)."""
        assert self.prefix is not None
        return nginx_config(
            self.upstream_port,
            self.port,
            prefix=self.prefix,
            broken=self.broken,
            read_timeout=self.read_timeout,
            send_timeout=self.send_timeout,
            location=self.location,
            connection=self.connection,
            tls=self.tls,
        )

    def _last_error(self) -> str:
        lines = [line for line in self.error_log().splitlines() if "[emerg]" in line]
        lines = lines or self.error_log().splitlines()
        return lines[-1] if lines else "no message in its error log"

    def _stop_process(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # fast shutdown: open connections are closed
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def _cleanup(self) -> None:
        if self.prefix is not None:
            for name in ("error.log", "access.log"):
                with contextlib.suppress(OSError):
                    self._logs[name] = (self.prefix / name).read_text("utf-8", "replace")
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def stop(self) -> None:
        """Stop nginx (SIGTERM, SIGKILL after ``stop_timeout`` s); keep its logs, drop its files."""
        self._stop_process()
        self._cleanup()

    def _log(self, name: str) -> str:
        if self.prefix is not None and self._tempdir is not None:
            with contextlib.suppress(OSError):
                return (self.prefix / name).read_text("utf-8", "replace")
        return self._logs.get(name, "")

    def error_log(self) -> str:
        """nginx's error log so far (kept after :meth:`stop`)."""
        return self._log("error.log")

    def access_log(self) -> str:
        """nginx's access log so far (kept after :meth:`stop`): one line per finished request."""
        return self._log("access.log")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Nginx 127.0.0.1:{self.port} -> 127.0.0.1:{self.upstream_port}, {state}>"


# --- experiments: what notebooks 08 and 09 measure, live and for the recordings ----------------


class HeaderEcho:
    """A plain HTTP server on ``127.0.0.1``: it answers every ``GET`` with the request it received.

    To see what a proxy forwards on an ordinary request (notebook 08, exercise 3)::

        with HeaderEcho() as upstream, Nginx(upstream.port) as proxy:
            print(urllib.request.urlopen(f"http://127.0.0.1:{proxy.port}/").read().decode())

    The body is the request line and the headers, as text. :attr:`requests` keeps each request's
    headers (a dict per request). A context manager: leaving the block stops its thread.
    """

    def __init__(self) -> None:
        import http.server
        import threading

        requests: list[dict[str, str]] = []
        self.requests = requests

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # the name http.server looks up
                requests.append(dict(self.headers.items()))
                lines = [self.requestline, *(f"{k}: {v}" for k, v in self.headers.items())]
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="wslib HeaderEcho",
        )

    def __enter__(self) -> HeaderEcho:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def try_recipe(upstream_port: int, broken: str | None = None) -> dict[str, Any]:
    """Start nginx (``broken`` as in :data:`BROKEN`) in front of ``upstream_port`` and connect.

    Returns what websocket-client got: ``variant``, ``status`` (101 when the handshake worked),
    the ``server`` and ``content-type`` headers, the start of the ``body`` (whitespace folded, at
    most 160 characters) and the ``exception`` it raised. Notebook 08, section 6.
    """
    import websocket

    with tools.without_proxy_variables(), Nginx(upstream_port, broken=broken) as bad:
        try:
            ws = websocket.create_connection(bad.url, timeout=5)
        except websocket.WebSocketBadStatusException as error:
            body = (error.resp_body or b"").decode("utf-8", "replace")
            headers = error.resp_headers or {}
            return {
                "variant": broken,
                "status": error.status_code,
                "server": headers.get("server"),
                "content-type": headers.get("content-type"),
                "body": " ".join(body.split())[:160],
                "exception": type(error).__name__,
            }
        status = ws.getstatus()
        server = (ws.getheaders() or {}).get("server")
        ws.close()
        return {
            "variant": broken,
            "status": status,
            "server": server,
            "content-type": None,
            "body": "",
            "exception": "none: it worked",
        }


def run_wsdump(url: str, lines: list[str], *, eof_wait: float = 1.0) -> dict[str, Any]:
    """Run websocket-client's ``wsdump`` command on ``url``, typing ``lines`` (notebook 08 §4).

    Returns the ``command`` (as one would type it), the ``stdin`` lines, wsdump's ``output``
    without its terminal colour codes, and its ``exit_status``. Bounded by a 15 s timeout.
    """
    import re
    import sys

    wsdump = Path(sys.executable).with_name("wsdump")
    env = {name: value for name, value in os.environ.items() if name not in tools.PROXY_VARIABLES}
    done = subprocess.run(
        [str(wsdump), "--eof-wait", f"{eof_wait:g}", url],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=15,
        env=env,
    )
    return {
        "command": f"wsdump --eof-wait {eof_wait:g} {url}",
        "stdin": list(lines),
        # wsdump colours its output for a terminal: drop those escape sequences (ESC [ ... letter)
        "output": re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", done.stdout).strip(),
        "exit_status": done.returncode,
    }


#: The request headers notebook 08 shows, as the server behind nginx saw them.
SHOWN_HEADERS = ("Host", "X-Real-IP", "X-Forwarded-For", "Upgrade", "Connection", "Origin")
#: The address a client claims in notebook 08 (from the documentation range of RFC 5737).
CLAIMED_ADDRESS = "203.0.113.7"


def forwarded_for() -> dict[str, Any]:
    """Two connections through nginx, one of them claiming ``X-Forwarded-For: 203.0.113.7``.

    Returns the headers of :data:`SHOWN_HEADERS` as the server saw them, for each connection
    (``plain`` and ``claimed``), and the ``wsdump`` transcript of the same nginx
    (:func:`run_wsdump`): what notebook 08 shows in sections 3 and 4.
    """
    import websocket

    from ..sync.server import serve

    seen: list[dict[str, str]] = []

    def handler(conn: Any) -> None:
        seen.append({name: conn.request_headers.get(name) for name in SHOWN_HEADERS})
        _echo(conn)

    with tools.without_proxy_variables(), serve(handler) as server, Nginx(server.port) as proxy:
        websocket.create_connection(proxy.url, timeout=5).close()
        claim = [f"X-Forwarded-For: {CLAIMED_ADDRESS}"]
        websocket.create_connection(proxy.url, timeout=5, header=claim).close()
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        transcript = run_wsdump(proxy.url, ["123", "456"])
        # the ports change at each run: show the command with nginx's port as PORT
        transcript["command"] = transcript["command"].replace(str(proxy.port), "PORT")
    if len(seen) < 2:
        raise RuntimeError("the server did not see both connections")
    return {"plain": seen[0], "claimed": seen[1], "claim": CLAIMED_ADDRESS, "wsdump": transcript}


def broken_recipes() -> dict[str, Any]:
    """:func:`try_recipe` for each variant of :data:`BROKEN`, then for the full recipe."""
    from ..sync.server import serve

    with serve(_echo) as server:
        rows = [try_recipe(server.port, name) for name in BROKEN]
        rows.append(try_recipe(server.port))
    return {"variants": rows}


def client_heartbeat(idle_timeout: float, *, interval: float, seconds: float) -> dict[str, Any]:
    """websocket-client pings through nginx (``proxy_read_timeout idle_timeout``); the server not.

    ``WebSocketApp.run_forever(ping_interval=interval, ping_timeout=interval / 2)`` for
    ``seconds``, against a ``wslib.serve(ping_interval=None)`` echo behind nginx. Returns whether
    the connection was ``open at the end``, the counts of ``pongs`` and ``messages`` received and
    the ``timeline``: ``[seconds since open, event]`` for each message, pong and the close.
    Notebook 09, section 4.
    """
    import threading

    import websocket

    from ..sync.server import serve

    timeline: list[list[Any]] = []
    opened: list[float] = []

    def at() -> float:
        return round(time.monotonic() - opened[0], 3) if opened else 0.0

    def on_open(ws: Any) -> None:
        opened.append(time.monotonic())
        ws.send("hello")

    def on_close(ws: Any, code: Any, reason: Any) -> None:
        timeline.append([at(), "closed"])

    with (
        tools.without_proxy_variables(),
        serve(_echo, ping_interval=None) as server,
        Nginx(server.port, read_timeout=idle_timeout, send_timeout=idle_timeout) as proxy,
    ):
        app = websocket.WebSocketApp(
            proxy.url,
            on_open=on_open,
            on_message=lambda ws, message: timeline.append([at(), "message"]),
            on_pong=lambda ws, data: timeline.append([at(), "pong"]),
            on_close=on_close,
        )
        thread = threading.Thread(
            target=app.run_forever,
            kwargs={"ping_interval": interval, "ping_timeout": interval / 2},
            name="websocket-client heartbeat",
        )
        thread.start()
        time.sleep(seconds)
        open_at_end = bool(app.sock and app.sock.connected)
        timeline.append([at(), "client closes"])
        app.close()
        thread.join(5)
    return {
        "idle_timeout": idle_timeout,
        "interval": interval,
        "seconds": seconds,
        "open at the end": open_at_end,
        "pongs": sum(1 for _, event in timeline if event == "pong"),
        "messages": sum(1 for _, event in timeline if event == "message"),
        "timeline": timeline,
    }


def heartbeat_run(
    idle_timeout: float,
    *,
    client_ping_interval: float | None = None,
    client_ping_timeout: float | None = None,
    server_ping_interval: float | None = None,
    server_ping_timeout: float | None = None,
    seconds: float = 15.0,
) -> dict[str, Any]:
    """One quiet connection through nginx (``proxy_read_timeout idle_timeout``): who ends it, how.

    A ``wslib.serve`` echo with ``ping_interval=server_ping_interval`` and
    ``ping_timeout=server_ping_timeout`` (None: the server never pings) behind nginx; a
    websocket-client ``WebSocketApp`` sends one message, then pings every
    ``client_ping_interval`` seconds and gives up on a pong after ``client_ping_timeout`` (None:
    the client never pings; the interval must be longer than the timeout). Waits up to
    ``seconds`` for the connection to end, then closes it. Notebook 09, exercise 3. Returns:

    - ``closed_after``: seconds from the open to the end of the connection, None if it was still
      open after ``seconds``;
    - ``close_code``/``close_reason``: from the close frame the client received (None: no close
      frame reached it, the connection just ended; or one was sent, but websocket-client failed
      first on a write to the connection nginx had closed, and never read it);
    - ``client_error``: what websocket-client reported, if anything;
    - ``server_sent_code``/``server_sent_reason``: the close frame the server sent, if it sent
      one (``wslib.serve`` sends 1011 "keepalive ping timeout" when a pong is late; 1000 when it
      answers the client's close after ``seconds``);
    - ``server_code``: the close code the server's handler saw (1006: no close frame came back);
    - ``pings``/``pongs``: pings the server sent (the client answered them), pongs the client got.
    """
    import threading

    import websocket

    from ..sync.server import serve

    codes: list[int | None] = []
    opened: list[float] = []
    ended = threading.Event()
    result: dict[str, Any] = {
        "idle_timeout": idle_timeout,
        "closed_after": None,
        "close_code": None,
        "close_reason": None,
        "client_error": None,
        "server_code": None,
        "server_sent_code": None,
        "server_sent_reason": None,
        "pings": 0,
        "pongs": 0,
    }

    def handler(conn: Any) -> None:
        with contextlib.suppress(Exception):
            _echo(conn)
        sent = conn.protocol.close_sent
        if sent is not None:
            result["server_sent_code"] = int(sent.code)
            result["server_sent_reason"] = sent.reason or None
        codes.append(conn.close_code)

    def on_open(ws: Any) -> None:
        opened.append(time.monotonic())
        ws.send("hello")

    def on_ping(ws: Any, data: Any) -> None:
        result["pings"] += 1

    def on_pong(ws: Any, data: Any) -> None:
        result["pongs"] += 1

    def on_error(ws: Any, error: Exception) -> None:
        result["client_error"] = result["client_error"] or f"{type(error).__name__}: {error}"

    def on_close(ws: Any, code: Any, reason: Any) -> None:
        if ended.is_set():  # our own close, after ``seconds``: not what is measured
            return
        if opened:
            result["closed_after"] = round(time.monotonic() - opened[0], 2)
        result["close_code"] = int(code) if code is not None else None
        result["close_reason"] = reason or None
        ended.set()

    with (
        tools.without_proxy_variables(),
        serve(
            handler, ping_interval=server_ping_interval, ping_timeout=server_ping_timeout
        ) as server,
        Nginx(server.port, read_timeout=idle_timeout, send_timeout=idle_timeout) as proxy,
    ):
        app = websocket.WebSocketApp(
            proxy.url,
            on_open=on_open,
            on_ping=on_ping,
            on_pong=on_pong,
            on_error=on_error,
            on_close=on_close,
        )
        thread = threading.Thread(
            target=app.run_forever,
            kwargs={
                "ping_interval": client_ping_interval or 0,
                "ping_timeout": client_ping_timeout,
            },
            name="websocket-client heartbeat_run",
        )
        thread.start()
        if not ended.wait(seconds):
            ended.set()  # still open: what follows is our own close, not the one measured
            app.close()
        thread.join(5)
        deadline = time.monotonic() + 5
        while not codes and time.monotonic() < deadline:
            time.sleep(0.02)
    result["server_code"] = int(codes[0]) if codes and codes[0] is not None else None
    return result


# --- recordings: the captures notebooks 08 and 09 ship -------------------------------------------

#: Seconds of the idle timeout in the recordings (the article's CDN), and the heartbeat interval.
RECORDED_IDLE_TIMEOUT = 10.0
RECORDED_PING_INTERVAL = 4.0
RECORDED_KEEPALIVE_SECONDS = 60.0


def _echo(conn: Any) -> None:
    for message in conn:
        conn.send(message)


def nginx_both_legs() -> Capture:
    """The article's ``123`` and ``456`` through nginx, both legs in one capture."""
    import websocket

    from ..sync.server import serve
    from .capture import capture

    with (
        tools.without_proxy_variables(),
        serve(_echo) as server,
        Nginx(server.port) as proxy,
        capture([proxy.port, server.port], timeout=20) as cap,
    ):
        ws = websocket.create_connection(proxy.url, timeout=5)
        try:
            for text in ("123", "456"):
                ws.send(text)
                if ws.recv() != text:
                    raise RuntimeError("the echo through nginx did not match")
        finally:
            ws.close()
        time.sleep(0.3)
    return cap


def idle_run(
    idle_timeout: float,
    *,
    heartbeat: str | None = None,
    interval: float = 1.0,
    seconds: float = 10.0,
    capture_ports: bool = True,
) -> tuple[dict[str, Any], Capture | None]:
    """One message through nginx with ``proxy_read_timeout idle_timeout``, then silence.

    ``heartbeat``: ``None`` (nobody pings), ``"server"`` (``wslib.serve(ping_interval=interval)``)
    or ``"client"`` (websocket-client sends a ping every ``interval`` seconds). Waits up to
    ``seconds`` after the message for the connection to end. Returns what was measured and the
    capture of both legs (None when ``capture_ports`` is False):

    - ``lived``: seconds from the echo to the end of the connection, None if still open;
    - ``client_error``: what websocket-client raised then;
    - ``server_code``: the close code the server's handler saw (1006: no close frame);
    - ``pings``/``pongs``: control frames the client received;
    - ``error_log``: nginx's lines about timeouts.
    """
    import websocket

    from ..sync.server import serve
    from .capture import capture

    if heartbeat not in (None, "server", "client"):
        raise ValueError("heartbeat is None, 'server' or 'client'")
    codes: list[int | None] = []

    def handler(conn: Any) -> None:
        with contextlib.suppress(Exception):
            _echo(conn)
        codes.append(conn.close_code)

    server_pings = interval if heartbeat == "server" else None
    result: dict[str, Any] = {
        "idle_timeout": idle_timeout,
        "heartbeat": heartbeat,
        "interval": interval if heartbeat else None,
        "lived": None,
        "client_error": None,
        "server_code": None,
        "pings": 0,
        "pongs": 0,
    }
    with contextlib.ExitStack() as stack:
        stack.enter_context(tools.without_proxy_variables())
        server = stack.enter_context(
            serve(handler, ping_interval=server_pings, ping_timeout=server_pings)
        )
        proxy = stack.enter_context(
            Nginx(server.port, read_timeout=idle_timeout, send_timeout=idle_timeout)
        )
        cap = None
        if capture_ports:
            cap = stack.enter_context(capture([proxy.port, server.port], timeout=seconds + 10))
        ws = websocket.create_connection(proxy.url, timeout=5)
        try:
            ws.send("hello")
            ws.recv()
            start = last_ping = time.monotonic()
            while (remaining := start + seconds - time.monotonic()) > 0:
                if heartbeat == "client" and time.monotonic() - last_ping >= interval:
                    ws.ping()
                    last_ping = time.monotonic()
                ws.settimeout(min(0.1, remaining))
                try:
                    opcode, _frame = ws.recv_data_frame(control_frame=True)
                except websocket.WebSocketTimeoutException:
                    continue
                except Exception as error:  # the connection ended: how, and when
                    result["lived"] = round(time.monotonic() - start, 2)
                    result["client_error"] = f"{type(error).__name__}: {error}"
                    break
                if opcode == websocket.ABNF.OPCODE_PING:
                    result["pings"] += 1
                elif opcode == websocket.ABNF.OPCODE_PONG:
                    result["pongs"] += 1
        finally:
            ws.close(timeout=1)
        deadline = time.monotonic() + 5
        while not codes and time.monotonic() < deadline:
            time.sleep(0.02)
        result["server_code"] = int(codes[0]) if codes and codes[0] is not None else None
        result["error_log"] = [
            line.split("] ", 1)[-1]
            for line in proxy.error_log().splitlines()
            if "timed out" in line
        ]
    return result, cap


def idle_timeout_kill() -> Capture:
    """nginx with ``proxy_read_timeout 10s``; one message, then silence: nginx cuts it."""
    result, cap = idle_run(RECORDED_IDLE_TIMEOUT, seconds=RECORDED_IDLE_TIMEOUT + 5)
    if result["lived"] is None or cap is None:
        raise RuntimeError("nginx did not cut the idle connection")
    return cap


def heartbeat_keeps_alive() -> Capture:
    """The same nginx, with the server pinging every 4 s: still open after a minute."""
    result, cap = idle_run(
        RECORDED_IDLE_TIMEOUT,
        heartbeat="server",
        interval=RECORDED_PING_INTERVAL,
        seconds=RECORDED_KEEPALIVE_SECONDS,
    )
    if result["lived"] is not None or cap is None:
        raise RuntimeError(f"the heartbeat did not keep the connection open: {result}")
    return cap


#: How long notebook 09's recorded runs last: 1.3 idle timeouts, longer than nginx lets a
#: connection stay quiet.
RECORDED_RUN_SECONDS = 1.3 * RECORDED_IDLE_TIMEOUT


def idle_timeouts() -> dict[str, Any]:
    """Notebook 09's three runs at the article's 10 s, uncaptured: the measured results.

    ``quiet`` (:func:`idle_run` without heartbeats, up to 3 s past the timeout), ``server
    heartbeat`` (``wslib.serve`` pings every 4 s) and ``client heartbeat``
    (:func:`client_heartbeat`, websocket-client pings every 4 s), each for 13 s.
    """
    quiet, _ = idle_run(
        RECORDED_IDLE_TIMEOUT, seconds=RECORDED_IDLE_TIMEOUT + 3, capture_ports=False
    )
    server, _ = idle_run(
        RECORDED_IDLE_TIMEOUT,
        heartbeat="server",
        interval=RECORDED_PING_INTERVAL,
        seconds=RECORDED_RUN_SECONDS,
        capture_ports=False,
    )
    client = client_heartbeat(
        RECORDED_IDLE_TIMEOUT, interval=RECORDED_PING_INTERVAL, seconds=RECORDED_RUN_SECONDS
    )
    if quiet["lived"] is None or server["lived"] is not None or not client["open at the end"]:
        raise RuntimeError(
            f"nginx did not behave as the recording expects: {quiet, server, client}"
        )
    return {"quiet": quiet, "server heartbeat": server, "client heartbeat": client}


def scenarios() -> dict[str, Scenario]:
    """The recordings notebooks 08 and 09 ship (captures, and results as JSON), as
    :class:`wslib.lab.scenario.Scenario` objects."""
    specs = [
        Scenario(
            "nginx-both-legs",
            "The article's `123` and `456` through nginx: two TCP connections, client↔nginx "
            "and nginx↔server, each with its own upgrade and the same frames.",
            "websocket-client → nginx (`wslib.lab.proxy.Nginx`, the recipe) → `wslib.serve` echo",
            nginx_both_legs,
        ),
        Scenario(
            "idle-timeout-kill",
            f"nginx with `proxy_read_timeout {RECORDED_IDLE_TIMEOUT:.0f}s` cuts a quiet "
            "WebSocket after 10 s: FIN on both legs, no close frame (1006).",
            "websocket-client → nginx → `wslib.serve(ping_interval=None)` echo",
            idle_timeout_kill,
            seconds=RECORDED_IDLE_TIMEOUT + 2,
        ),
        Scenario(
            "heartbeat-keeps-alive",
            f"The same nginx; the server pings every {RECORDED_PING_INTERVAL:.0f} s: the "
            f"connection is still open after {RECORDED_KEEPALIVE_SECONDS:.0f} s.",
            f"websocket-client → nginx → `wslib.serve(ping_interval={RECORDED_PING_INTERVAL:.0f})`",
            heartbeat_keeps_alive,
            seconds=RECORDED_KEEPALIVE_SECONDS + 2,
        ),
        Scenario(
            "nginx-forwarded-for",
            "What the server behind nginx saw (`Host`, `X-Real-IP`, `X-Forwarded-For`, ...) for "
            "a plain connection and for one claiming `X-Forwarded-For: 203.0.113.7`; and "
            "`wsdump`'s transcript through the same nginx (notebook 08, sections 3 and 4).",
            "`wslib.lab.proxy.forwarded_for()`: websocket-client and `wsdump` → nginx → "
            "`wslib.serve` handler that keeps the request headers",
            forwarded_for,
            seconds=3,
            suffix=".json",
        ),
        Scenario(
            "nginx-broken-recipes",
            "What websocket-client gets through nginx with each line of the recipe broken "
            "(`wslib.lab.proxy.BROKEN`), then the full recipe: status, `server`, "
            "`content-type`, the start of the body, the exception (notebook 08, section 6).",
            "`wslib.lab.proxy.broken_recipes()`: `try_recipe` for each variant against a "
            "`wslib.serve` echo",
            broken_recipes,
            seconds=3,
            suffix=".json",
        ),
        Scenario(
            "idle-timeouts",
            f"Notebook 09's three runs with `proxy_read_timeout {RECORDED_IDLE_TIMEOUT:.0f}s`: "
            f"a quiet connection (cut, 1006), server pings and client pings every "
            f"{RECORDED_PING_INTERVAL:.0f} s (open after {RECORDED_RUN_SECONDS:.0f} s), with "
            "the client's timeline of pongs.",
            "`wslib.lab.proxy.idle_timeouts()`: `idle_run` twice and `client_heartbeat` "
            "(websocket-client `run_forever(ping_interval=4)`), uncaptured",
            idle_timeouts,
            seconds=3 * RECORDED_RUN_SECONDS,
            suffix=".json",
        ),
    ]
    return {spec.name: spec for spec in specs}


#: This module's shipped captures, for :mod:`wslib.lab.recordings`.
SCENARIOS = scenarios()
