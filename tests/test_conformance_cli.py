"""``python -m wslib.conformance``: exit codes, the summary line, the HTML and JSON reports."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

from .conformance_peers import BrokenEchoServer, wslib_server

SUMMARY = re.compile(r"^OK=(\d+) NON-STRICT=(\d+) INFORMATIONAL=(\d+) FAILED=(\d+)$", re.M)
ECHO_CLIENT = (
    "import os, wslib\n"
    "with wslib.connect(os.environ['WSLIB_CONFORMANCE_URL'], ping_interval=None) as c:\n"
    "    for m in c: c.send(m)\n"
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wslib.conformance", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_server_ok_writes_reports(tmp_path: Path) -> None:
    with wslib_server() as url:
        done = run(
            url,
            "--cases",
            "1.1",
            "2.1",
            "8.4.3",
            "--html",
            "r.html",
            "--json",
            "r.json",
            cwd=tmp_path,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = SUMMARY.search(done.stdout)
    assert summary is not None and summary.group(4) == "0"
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["schema"] == "wslib.conformance/1"
    assert len(data["cases"]) == 9 + 14 + 1 == sum(map(int, summary.groups()))
    html = (tmp_path / "r.html").read_text()
    assert html.count('<tr class="case"') == len(data["cases"])
    assert "<script src" not in html and "<link" not in html  # self-contained
    assert data["cases"][0]["trace"][0]["kind"] == "http"
    assert any(e["kind"] == "frame" and e["dir"] == "←" for e in data["cases"][0]["trace"])
    assert "cases" in done.stderr  # the progress bar (not a TTY: plain lines)


def test_failures_exit_1(tmp_path: Path) -> None:
    with BrokenEchoServer() as server:
        done = run(server.url, "--cases", "1.1.2", "1.2.2", cwd=tmp_path)
    assert done.returncode == 1
    assert "FAILED 1.1.2" in done.stdout
    assert SUMMARY.search(done.stdout).groups() == ("1", "0", "0", "1")  # type: ignore[union-attr]


def test_unreachable_exit_2(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there
    done = run(f"ws://127.0.0.1:{port}/", cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "cannot reach" in done.stderr


def test_client_mode(tmp_path: Path) -> None:
    script = tmp_path / "echo_client.py"
    script.write_text(ECHO_CLIENT)
    done = run(
        "--client", f"{sys.executable} {script}", "--cases", "1.1.1", "2.1", "3.1.1", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert SUMMARY.search(done.stdout).group(4) == "0"  # type: ignore[union-attr]
    never = run("--client", "true", "--cases", "1.1.1", cwd=tmp_path)
    assert never.returncode == 2 and "never connected" in never.stderr
