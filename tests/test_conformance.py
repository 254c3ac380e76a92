"""The conformance suite (wslib.lab.conformance) against real peers: wslib's server and client,
the websockets library's, the article's naive server and a deliberately broken echo server."""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterator

import pytest

import wslib
from wslib.lab.article import ArticleServer
from wslib.lab.conformance import (
    CASES,
    CATEGORIES,
    End,
    Results,
    Verdict,
    run_client_suite,
    run_server_suite,
    select,
)

from .conformance_peers import (
    BrokenEchoServer,
    websockets_client,
    websockets_server,
    wslib_asyncio_client,
    wslib_asyncio_server,
    wslib_client,
    wslib_server,
)

# Where the websockets library (sync server and client) differs from wslib, and why. The same
# differences hold for its server and its client.
_BEFORE_ERROR = (
    "websockets fails the connection as soon as it parses the bad frame, so the valid message "
    "that came just before it is never echoed (NON-STRICT); wslib hands that message to the "
    "handler, lets it answer, then fails (Connection(defer_failure=True))"
)
_NOT_FAIL_FAST = (
    "websockets checks the UTF-8 of a text message only once a frame (or the message) is "
    "complete (NON-STRICT: not fail-fast); wslib checks the bytes as they arrive and fails with "
    "1007 at the first impossible byte"
)
WEBSOCKETS_DIFFERENCES: dict[str, str] = {
    "1.5.3": _BEFORE_ERROR,
    **{f"3.6.{i}": _BEFORE_ERROR for i in (1, 2, 3)},
    **{f"4.2.{i}": _BEFORE_ERROR for i in range(1, 11)},
    "5.2.3": _BEFORE_ERROR,
    "5.2.4": _BEFORE_ERROR,
    **{f"6.4.{i}": _NOT_FAIL_FAST for i in (1, 2, 4)},
    **{f"6.5.{i}": _NOT_FAIL_FAST for i in (1, 2, 3, 4)},
    "8.6.1": "websockets answers a close frame between fragments with 1002 ('incomplete "
    "fragmented message'), but §5.4 allows control frames between fragments (FAILED); wslib "
    "answers it with 1000",
    "8.6.2": "the same, with the last fragment after the close frame",
}


def _unexpected(results: Results) -> dict[str, str]:
    """Cases neither OK nor INFORMATIONAL."""
    return {
        r.case.id: f"{r.verdict.value}: {r.reason}"
        for r in results
        if r.verdict in (Verdict.NON_STRICT, Verdict.FAILED)
    }


def _differences(a: Results, b: Results) -> set[str]:
    return {case_id for case_id, v in a.verdicts.items() if b.verdicts[case_id] != v}


@pytest.fixture(scope="module")
def wslib_server_results() -> Iterator[Results]:
    with wslib_server() as url:
        yield run_server_suite(url)


@pytest.fixture(scope="module")
def wslib_client_results() -> Results:
    return run_client_suite(wslib_client)


def test_cases_are_many_unique_and_described() -> None:
    assert len(CASES) >= 200
    ids = [case.id for case in CASES]
    assert len(set(ids)) == len(ids)
    assert {case.category for case in CASES} == set(CATEGORIES)
    for case in CASES:
        assert case.rfc.startswith("§"), case.id
        assert "Sends " in case.description and "A conforming peer" in case.description
        assert case.timeout <= 10


def test_select_by_prefix_and_category() -> None:
    assert [c.id for c in select(["2.3"])] == ["2.3.1", "2.3.2", "2.3.3", "2.3.4"]
    assert all(c.category == "utf-8" for c in select(categories=["utf-8"]))
    with pytest.raises(ValueError, match="unknown categories"):
        select(categories=["nope"])


def test_wslib_server(wslib_server_results: Results) -> None:
    results = wslib_server_results
    print("wslib server:", results.summary_line(), f"{results.duration:.1f} s")
    assert len(results) == len(CASES)
    assert _unexpected(results) == {}
    # the per-category table covers every case (the notebook's heat map)
    assert sum(sum(row.values()) for row in results.by_category.values()) == len(results)
    json.loads(results.to_json())


def test_wslib_asyncio_server_gives_the_same_verdicts(wslib_server_results: Results) -> None:
    # The same sans-I/O core and the same decisions (wslib.serving, wslib.timing) under
    # another I/O model: every case gets the threaded server's verdict.
    with wslib_asyncio_server() as url:
        results = run_server_suite(url)
    print("wslib asyncio server:", results.summary_line(), f"{results.duration:.1f} s")
    assert len(results) == len(CASES)
    assert _unexpected(results) == {}
    assert _differences(wslib_server_results, results) == set()


def test_wslib_client(wslib_client_results: Results) -> None:
    results = wslib_client_results
    print("wslib client:", results.summary_line(), f"{results.duration:.1f} s")
    assert len(results) == len(CASES)
    assert _unexpected(results) == {}


def test_wslib_asyncio_client_gives_the_same_verdicts(wslib_client_results: Results) -> None:
    results = run_client_suite(wslib_asyncio_client)
    print("wslib asyncio client:", results.summary_line(), f"{results.duration:.1f} s")
    assert _unexpected(results) == {}
    assert _differences(wslib_client_results, results) == set()


def test_websockets_server_differences_are_explained(wslib_server_results: Results) -> None:
    with websockets_server() as url:
        results = run_server_suite(url)
    print("websockets server:", results.summary_line())
    observed = _differences(wslib_server_results, results)
    assert observed == set(WEBSOCKETS_DIFFERENCES)


def test_websockets_client_differences_are_explained(wslib_client_results: Results) -> None:
    results = run_client_suite(websockets_client)
    print("websockets client:", results.summary_line())
    observed = _differences(wslib_client_results, results)
    assert observed == set(WEBSOCKETS_DIFFERENCES)


def test_article_server_fails_every_category() -> None:
    with ArticleServer() as server:
        results = run_server_suite(server.url, workers=8)
    print("article server:", results.summary_line(), f"{results.duration:.1f} s")
    for category, counts in results.by_category.items():
        total = sum(counts.values())
        assert counts["FAILED"] >= 0.9 * total, (category, counts)
    assert server.acceptor.is_alive() is False


def _text_in_every_ok_answer(case_id: str) -> bool:
    case = next(c for c in CASES if c.id == case_id)
    answers = [case.expect.echo, *case.expect.also_ok]
    # EITHER: refusing (as wslib does for 1.4.x) is as good as echoing, nothing to echo then
    return (
        all(any(kind == "text" for kind, _ in seq) for seq in answers)
        and not case.expect.lenient
        and case.expect.end is not End.EITHER
    )


def test_broken_server_fails_exactly_the_text_echo_cases() -> None:
    with BrokenEchoServer() as server:
        results = run_server_suite(server.url)
    failed = {r.case.id for r in results if r.verdict is Verdict.FAILED}
    must = {c.id for c in CASES if _text_in_every_ok_answer(c.id)}
    # cases that echo a text only in some answers (or before an error): they fail once the text
    # is sent back (as binary), and pass when the peer rightly sends nothing
    may = {c.id for c in CASES if any(k == "text" for k, _ in c.expect.echo)}
    assert must <= failed, sorted(must - failed)
    assert failed <= must | may, sorted(failed - must - may)
    assert len(must) > 50
    counts = collections.Counter(r.case.category for r in results if r.case.id in failed)
    assert counts["reserved opcodes"] == 0  # nothing to echo there: the defect does not show


def test_no_thread_left_behind() -> None:
    names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    assert not [n for n in names if n.startswith(("article", "broken", "conformance", "client-"))]


def test_format_case_shows_the_case_the_verdict_and_the_trace() -> None:
    from wslib.lab.conformance import CaseResult, TraceEntry
    from wslib.lab.conformance.report import format_case

    case = next(c for c in CASES if c.category == "ping/pong")
    trace = [
        TraceEntry(0.001, "→", "http", "GET / HTTP/1.1"),
        *(
            TraceEntry(0.002 + i / 1000, "→", "frame", f"PING fin=1 masked len=1 '{i}'")
            for i in range(5)
        ),
        TraceEntry(0.01, "←", "frame", "TEXT fin=1 len=1 '0'"),
    ]
    result = CaseResult(case, Verdict.FAILED, "sent back text, expected pong", 0.01, trace)
    text = format_case(result, limit=3)
    lines = text.splitlines()
    assert lines[0].startswith(f"case {case.id} · ping/pong · RFC 6455 {case.rfc}")
    assert case.description in text
    assert "verdict: FAILED (sent back text, expected pong)" in text
    assert "GET / HTTP/1.1" not in text  # the handshake is left out by default...
    assert "(1 HTTP lines of the opening handshake not shown)" in text
    assert "GET / HTTP/1.1" in format_case(result, http=True)  # ...unless asked for
    assert "PING fin=1 masked len=1 '2'" in text
    assert "PING fin=1 masked len=1 '3'" not in text  # over the limit
    assert "... 3 more lines" in text


def test_a_peer_that_sends_every_frame_back_fails_the_ping_cases() -> None:
    # It answers our ping with a ping; when the suite pongs that ping, the peer sends the pong
    # back: that reflected pong must not count as the answer to the suite's ping.
    from wslib.exercises.nb10 import TinyServer

    with TinyServer(lambda frame: [frame]) as server:
        results = run_server_suite(server.url, categories=["ping/pong"])
    # 2.1.x and 2.2.x: a ping of 0-125 bytes, to be answered by a pong with its payload.
    answered = [r for r in results if r.case.id.startswith(("2.1.", "2.2."))]
    assert len(answered) >= 14
    assert all(r.verdict is Verdict.FAILED for r in answered), [
        (r.case.id, r.verdict.value) for r in answered if r.verdict is not Verdict.FAILED
    ]


# --- permessage-deflate (RFC 7692): 12.* and 13.*, only when asked --------------------------------


def _deflate_echo(conn: wslib.ServerConnection) -> None:
    try:
        for message in conn:
            conn.send(message)
    except wslib.ConnectionClosed:
        pass


def _deflate_client(url: str) -> None:
    with wslib.connect(url, compression="deflate", ping_interval=None, close_timeout=2) as conn:
        try:
            for message in conn:
                conn.send(message)
        except wslib.ConnectionClosed:
            pass


def test_compression_cases_run_only_when_asked() -> None:
    from wslib.lab.conformance.cases import EXTENSION_CASES

    assert not {c.category for c in CASES} & {"compression"}
    assert select() == CASES
    assert select(categories=["compression"]) == EXTENSION_CASES
    assert [c.id for c in select(["12.4"])] == ["12.4.1", "12.4.2", "12.4.3", "12.4.4"]
    assert {c.id.split(".")[0] for c in EXTENSION_CASES} == {"12", "13"}
    assert all(c.deflate is not None for c in EXTENSION_CASES)
    assert select(["1"]) == [c for c in CASES if c.id.startswith("1.")]


@pytest.mark.timeout(120)
def test_wslib_server_and_client_pass_the_compression_cases() -> None:
    with wslib.serve(
        _deflate_echo, compression="deflate", ping_interval=None, close_timeout=2
    ) as server:
        results = run_server_suite(
            f"ws://127.0.0.1:{server.port}/", categories=["compression"], workers=8
        )
    print("wslib server, compression:", results.summary_line())
    assert results.counts["FAILED"] == 0 and results.counts["NON-STRICT"] == 0
    assert results.counts["OK"] == len(results) >= 50
    assert sum(results.by_category["compression"].values()) == len(results)
    results = run_client_suite(_deflate_client, categories=["compression"], workers=8)
    print("wslib client, compression:", results.summary_line())
    assert results.counts["FAILED"] == 0 and results.counts["NON-STRICT"] == 0


@pytest.mark.timeout(60)
def test_compression_cases_fail_a_server_that_does_not_compress() -> None:
    with wslib.serve(_deflate_echo, ping_interval=None, close_timeout=2) as server:
        results = run_server_suite(f"ws://127.0.0.1:{server.port}/", cases=["12.1"], workers=8)
    assert results.counts["FAILED"] == len(results) > 0
    assert all("declined permessage-deflate" in r.reason for r in results)
