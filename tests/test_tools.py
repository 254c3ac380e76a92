from __future__ import annotations

import shutil

import pytest

from wslib.lab import tools


def test_report_lists_every_capability() -> None:
    names = [t.name for t in tools.report()]
    assert names == [
        "capture privileges",
        "libpcap",
        "tshark",
        "nginx",
        "chromium",
        "chromedriver",
        "redis-server",
    ]


def test_missing_tool_gives_one_sentence_of_advice() -> None:
    for tool in tools.report():
        if tool.available:
            assert tool.advice == ""
            assert tool.detail
        else:
            assert tool.advice.endswith(".") and "\n" not in tool.advice


def test_found_programs_are_the_ones_on_path() -> None:
    for tool in (tools.tshark(), tools.nginx()):
        if shutil.which(tool.name):
            assert tool.available


def test_proxy_variables_are_removed_for_the_block_and_put_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    with tools.without_proxy_variables():
        assert "http_proxy" not in os.environ and "ALL_PROXY" not in os.environ
    assert os.environ["http_proxy"] == os.environ["ALL_PROXY"] == "http://127.0.0.1:9"
