"""Run every notebook top to bottom from a clean kernel, as a learner pressing "Run All" would."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

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
