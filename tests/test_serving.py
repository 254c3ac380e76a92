"""wslib.serving: what a server answers to a handshake, and which handshake gets pushed out."""

from __future__ import annotations

import pytest

from wslib.handshake import Request
from wslib.serving import PendingHandshakes, answer_request, busy_response

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3


def request(**headers: str) -> Request:
    base = {
        "Host": "example.com",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    lines = ["GET /chat HTTP/1.1", *(f"{k}: {v}" for k, v in base.items() if v), "", ""]
    return Request.from_bytes("\r\n".join(lines).encode())


def test_a_valid_handshake_opens_with_the_rfc_accept_and_a_subprotocol() -> None:
    answer = answer_request(request(Sec_WebSocket_Protocol="b, a"), subprotocols=["a", "b"])
    assert answer.opens and answer.response.status == 101
    assert answer.response.headers["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert answer.subprotocol == "b"  # the client's first offer the server knows (§4.2.2)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Sec_WebSocket_Version": "8"}, 426),
        ({"Origin": "http://evil.example"}, 403),
        ({"Sec_WebSocket_Key": "short"}, 400),
        ({"Upgrade": ""}, 400),  # a WebSocket client without Upgrade: refused, not the page
    ],
)
def test_a_broken_handshake_gets_its_http_error(headers: dict[str, str], status: int) -> None:
    answer = answer_request(request(**headers), origins=["http://good.example", None])
    assert not answer.opens and answer.response.status == status
    assert answer.error is not None
    assert answer.response.headers["Connection"] == "close"


def test_a_browser_visit_gets_the_page() -> None:
    plain = Request.from_bytes(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    answer = answer_request(plain)
    assert not answer.opens and answer.response.status == 200
    assert answer.response.headers["Content-Type"].startswith("text/html")


def test_busy_says_when_to_come_back() -> None:
    busy = busy_response("full")
    assert busy.status == 503 and busy.headers["Retry-After"] == "1"


def test_a_newcomer_pushes_out_the_oldest_then_the_limit_refuses() -> None:
    pending: PendingHandshakes[str] = PendingHandshakes(2)
    assert pending.admit("a").push_out is None
    assert pending.admit("b").push_out is None
    admitted = pending.admit("c")
    assert (admitted.refuse, admitted.push_out) == (False, "a")  # the oldest, not the newest
    assert pending.admit("d").push_out == "b"
    assert pending.admit("e").refuse  # 4 not ended yet: twice the limit
    pending.end("a")
    pending.end("b")
    assert list(pending) == ["c", "d"]
    assert pending.admit("f").push_out == "c"
    with pytest.raises(ValueError, match="at least 1"):
        PendingHandshakes(0)
