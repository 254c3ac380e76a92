"""Cross-site WebSocket hijacking in headless Chromium, and the four ways to authenticate."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import websocket  # websocket-client

from wslib.lab.security import (
    AUTH_MODES,
    PRIVATE_MESSAGES,
    AccountService,
    hijack,
    hijack_without_browser,
)

from . import test_interop
from .test_server import read_close_code

browser = test_interop.browser  # the headless Chromium fixture

pytestmark = pytest.mark.timeout(60)
SECRETS = PRIVATE_MESSAGES["alice"]


def test_without_an_origin_check_another_port_reads_the_inbox(browser: Any, tmp_path: Path) -> None:
    result = hijack(browser, check_origin=False, screenshot=tmp_path / "attack.png")
    # It reached the attacker's server (one fetch() per message: they may arrive in any order).
    assert sorted(result["stolen"]) == sorted(SECRETS)
    (seen,) = result["handshakes"]
    assert seen["user"] == "alice"  # the browser sent alice's cookie, cross-origin
    assert seen["origin"] == result["origins"]["attacker"]  # ... and said where it came from
    assert (tmp_path / "attack.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_with_the_origin_check_the_attack_gets_403_and_nothing(browser: Any) -> None:
    result = hijack(browser, check_origin=True)
    assert result["stolen"] == []
    assert result["handshakes"] == []  # refused before any handler ran
    assert any("403 Forbidden" in line for line in result["trace"])


def test_the_same_requests_without_a_browser() -> None:
    assert hijack_without_browser(check_origin=False)["stolen"] == SECRETS
    refused = hijack_without_browser(check_origin=True)
    assert refused["status"] == 403 and refused["stolen"] == []


def inbox(browser: Any, account: AccountService, timeout: float = 10) -> list[str]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(account.login_url("alice"))
    browser.get(account.inbox_url)
    WebDriverWait(browser, timeout).until(
        lambda _: len(browser.find_elements(By.CSS_SELECTOR, "#inbox li")) == len(SECRETS)
    )
    items = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#inbox li")]
    browser.get("about:blank")
    return items


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_each_way_to_authenticate_works_in_the_browser(browser: Any, auth: str) -> None:
    with AccountService(check_origin=True, auth=auth) as account:
        assert inbox(browser, account) == SECRETS
        (seen,) = [h for h in account.handshakes if h["user"]]
        assert seen["origin"] == account.site.origin


def test_a_token_in_the_url_lands_in_the_server_log(browser: Any) -> None:
    with AccountService(check_origin=True, auth="query") as account:
        inbox(browser, account)
        (token,) = account.tokens
        assert any(f"GET /inbox?token={token}" in line for line in account.trace)


def test_a_cookie_stays_out_of_the_server_log(browser: Any) -> None:
    with AccountService(check_origin=True, auth="cookie") as account:
        inbox(browser, account)
        (session,) = account.sessions
        assert not any(session in line for line in account.trace)


def test_a_client_that_never_sends_its_token_is_closed_at_the_deadline() -> None:
    with AccountService(auth="first-message", token_deadline=0.5) as account:
        ws = websocket.create_connection(account.ws_url, timeout=5)
        start = time.monotonic()
        assert read_close_code(ws) == 1008
        assert 0.4 < time.monotonic() - start < 4


def test_a_wrong_token_in_the_first_message_is_refused() -> None:
    with AccountService(auth="first-message") as account:
        ws = websocket.create_connection(account.ws_url, timeout=5)
        ws.send(json.dumps({"token": "guessed"}))
        assert read_close_code(ws) == 1008


def test_what_a_token_in_the_subprotocol_breaks(browser: Any) -> None:
    with AccountService(check_origin=False, auth="subprotocol") as account:
        browser.get(account.login_url("alice"))
        # 1. Only "token" characters may go there: base64's "=", "/" and "+" may not.
        error = browser.execute_script(
            "try { new WebSocket(arguments[0], ['inbox', 'token.abc+/==']); return 'none'; }"
            " catch (e) { return e.name; }",
            account.ws_url,
        )
        assert error == "SyntaxError"
        # 2. The server must pick one of the offers, or the browser fails the connection: a
        # token alone ("token.X" and nothing else) has nothing the server may pick but itself.
        code = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const ws = new WebSocket(arguments[0], ['token.abc']);"
            "ws.onopen = () => done('open'); ws.onclose = (e) => done(e.code);",
            account.ws_url,
        )
        assert code == 1006  # our server chose no subprotocol: Chromium gave up
        browser.get("about:blank")
