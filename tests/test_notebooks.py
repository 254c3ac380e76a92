"""Run every notebook top to bottom from a clean kernel, as a learner pressing "Run All" would."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from wslib.lab import tools

from .conftest import NOTEBOOKS, notebook_paths

LIMIT_S = 60

# Appended after the notebook's last cell: nothing the notebook started may still run.
LEAK_CHECK = """
import os, threading, time
_KERNEL_MODULES = ("zmq", "ipykernel", "IPython", "jupyter_client", "tornado", "comm")
_deadline = time.monotonic() + 3
while time.monotonic() < _deadline:
    _left = [
        t
        for t in threading.enumerate()
        if t.ident not in __threads_before
        and t.is_alive()
        # the kernel's own helpers (pyzmq starts a garbage-collector thread for large outputs)
        and not type(t).__module__.startswith(_KERNEL_MODULES)
    ]
    if not _left:
        break
    time.sleep(0.05)
assert not _left, f"threads still running at the end: {[t.name for t in _left]}"
if os.path.isdir("/proc"):
    _children = []
    for _pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{_pid}/stat") as _f:
                _fields = _f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(_fields[1]) == os.getpid() and _fields[0] != "Z":
            _children.append(_pid)
    assert not _children, f"child processes still running at the end: {_children}"
"""
BEFORE = "import threading\n__threads_before = {t.ident for t in threading.enumerate()}"

# Appended last: which path each live part of the notebook took (its PATH_TAKEN dict).
PATH_MARK = "PATH_TAKEN="
REPORT_PATHS = f"import json\nprint({PATH_MARK!r} + json.dumps(globals().get('PATH_TAKEN', {{}})))"

# The parts of a notebook that can run live, and the tools (names from wslib.lab.tools.report())
# each needs. A notebook falls back (to data/pcaps/, or skips the part) when a tool is missing and
# records what it did in PATH_TAKEN; this table says what it must have done. With every tool
# present the live run must take the live path: an exception turned into a fallback, or a capture
# that came back empty, is a failure here, not a silent replay.
LIVE_PARTS: dict[str, dict[str, tuple[str, ...]]] = {
    "04-server.ipynb": {"browser": ("chromium", "chromedriver")},
    "05-capture.ipynb": {"echo": ("capture privileges",), "http": ("capture privileges",)},
    # Live only inside a running Jupyter server (a learner in JupyterLab): nbclient starts the
    # kernel without one, and no tool in wslib.lab.tools.report() is "jupyter server", so here
    # either path passes and the test run takes the recorded one (checked by hand in JupyterLab).
    "06-replay.ipynb": {"kernel channel": ("capture privileges", "jupyter server")},
    "07-polling.ipynb": {"polling": ("capture privileges",)},
    "08-proxy.ipynb": {"nginx": ("nginx",), "both legs": ("nginx", "capture privileges")},
    "09-idle-timeouts.ipynb": {
        "quiet run": ("nginx",),
        "quiet capture": ("nginx", "capture privileges"),
        "server heartbeat": ("nginx",),
        "client heartbeat": ("nginx",),
        "heartbeat capture": ("nginx", "capture privileges"),
    },
    "12-wss.ipynb": {
        "echo": ("capture privileges",),
        "sizes": ("capture privileges",),
        "nginx": ("nginx", "capture privileges"),
    },
    "14-cluster.ipynb": {
        "cluster": ("redis-server", "nginx"),
        "resp": ("redis-server", "nginx"),
        "path capture": ("redis-server", "nginx", "capture privileges"),
        "failover": ("redis-server", "nginx"),
        "graceful": ("redis-server", "nginx"),
        "fanout": ("redis-server", "nginx"),
    },
    "15-security.ipynb": {
        "attack": ("chromium", "chromedriver"),
        "handshake capture": ("chromium", "chromedriver", "capture privileges"),
        "defended": ("chromium", "chromedriver"),
        "auth": ("chromium", "chromedriver"),
        "token limits": ("chromium", "chromedriver"),
    },
    "11-compression.ipynb": {
        "chromium offer": ("chromium", "chromedriver"),
        "chat capture": ("capture privileges",),
    },
}


def expected_paths(name: str, replay: bool) -> dict[str, str | None]:
    """Each live part's expected path: "live", "not live" (replay run), or None (a tool is missing
    here, so either path is fine)."""
    available = {tool.name for tool in tools.report() if tool}
    expected: dict[str, str | None] = {}
    for part, needs in LIVE_PARTS.get(name, {}).items():
        if replay:
            expected[part] = "not live"
        elif set(needs) <= available:
            expected[part] = "live"
        else:
            expected[part] = None
    return expected


def paths_taken(nb: nbformat.NotebookNode) -> dict[str, str]:
    for output in nb.cells[-1].get("outputs", []):
        for line in output.get("text", "").splitlines():
            if line.startswith(PATH_MARK):
                found: dict[str, str] = json.loads(line[len(PATH_MARK) :])
                return found
    raise AssertionError("the notebook did not report the paths it took")


# What only some notebooks need (capture privileges, nginx): their fallback to the recorded
# captures in data/pcaps/ runs too, forced with WSLIB_FORCE_REPLAY=1.
REPLAYABLE = {"capture privileges", "nginx"}


def runs() -> list[tuple[Path, bool]]:
    cases = []
    for path in notebook_paths():
        cases.append((path, False))
        needs = set(nbformat.read(path, as_version=4).metadata.get("wslib", {}).get("needs", []))
        if needs & REPLAYABLE:
            cases.append((path, True))
    return cases


@pytest.mark.notebook
@pytest.mark.timeout(LIMIT_S * 3)
@pytest.mark.parametrize(
    ("path", "replay"),
    runs(),
    ids=lambda case: case.name if isinstance(case, Path) else ("replay" if case else "live"),
)
def test_notebook_runs(path: Path, replay: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits this environment. Notebook 09 shows the article's 10 s idle timeout;
    # the test run uses 2 s to stay under a minute.
    monkeypatch.setenv("WSLIB_IDLE_TIMEOUT_S", "2")
    if replay:
        monkeypatch.setenv("WSLIB_FORCE_REPLAY", "1")
    else:
        monkeypatch.delenv("WSLIB_FORCE_REPLAY", raising=False)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(BEFORE))
    nb.cells.append(nbformat.v4.new_code_cell(LEAK_CHECK))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_PATHS))
    client = NotebookClient(
        nb,
        timeout=LIMIT_S,
        kernel_name="python3",
        # The working directory is the notebooks folder, wherever pytest was started.
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    start = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - start
    assert elapsed < LIMIT_S, f"{path.name} took {elapsed:.1f} s (limit {LIMIT_S} s)"
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", f"{path.name}: {output.get('ename')}"
            if output.get("name") == "stderr":
                assert "Traceback" not in output.get("text", ""), output["text"]
    taken = paths_taken(nb)
    expected = expected_paths(path.name, replay)
    assert set(taken) == set(expected), f"{path.name}: PATH_TAKEN has {sorted(taken)}"
    for part, want in expected.items():
        if want == "live":
            assert taken[part] == "live", (
                f"{path.name}: {part!r} took the {taken[part]!r} path although every tool it "
                f"needs ({', '.join(LIVE_PARTS[path.name][part])}) is here"
            )
        elif want == "not live":
            assert taken[part] != "live", f"{path.name}: {part!r} ran live under WSLIB_FORCE_REPLAY"


def test_every_live_part_is_a_replayable_or_live_notebook() -> None:
    """The table above names real notebooks; a notebook whose needs include a replayable tool
    reports its paths (so its replay run checks something)."""
    names = {path.name for path in notebook_paths()}
    assert set(LIVE_PARTS) <= names
    for path in notebook_paths():
        needs = set(nbformat.read(path, as_version=4).metadata.get("wslib", {}).get("needs", []))
        if needs & REPLAYABLE:
            assert path.name in LIVE_PARTS, f"{path.name} needs {needs} but reports no live parts"
