from __future__ import annotations

import shutil

from wslib import tools


def test_report_lists_every_capability() -> None:
    names = [t.name for t in tools.report()]
    assert names == [
        "capture privileges",
        "libpcap",
        "tshark",
        "nginx",
        "chromium",
        "chromedriver",
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
