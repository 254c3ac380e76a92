"""The README's commands do what the README says (`make test` itself is what CI runs)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from .conftest import NOTEBOOKS, ROOT


@pytest.fixture
def work() -> Iterator[str]:
    """A working-copy folder name inside the repository (as `make lab` makes), removed after."""
    name = f"my-notebooks-test-{os.getpid()}"  # ignored by git like my-notebooks/
    yield name
    for path in ROOT.glob(f"{name}*"):
        if path.is_symlink() or path.is_file():
            path.unlink()
        else:
            shutil.rmtree(path)


def make(*args: str) -> str:
    done = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_the_working_copy_keeps_the_learners_answers(work: str) -> None:
    make(work, f"WORK={work}")
    copy = ROOT / work
    tracked = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(p.name for p in copy.glob("*.ipynb")) == tracked
    assert (copy / "solutions").resolve() == (NOTEBOOKS / "solutions").resolve()
    # The learner edits one notebook and deletes another; the next `make lab` adds the missing
    # one back and leaves the edited one alone.
    edited = copy / tracked[1]
    edited.write_text("my answers", encoding="utf-8")
    (copy / tracked[2]).unlink()
    make(work, f"WORK={work}")
    assert edited.read_text(encoding="utf-8") == "my answers"
    assert (copy / tracked[2]).read_bytes() == (NOTEBOOKS / tracked[2]).read_bytes()
    # git does not see the copy: `git pull` never conflicts with a learner's answers.
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--", work],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert all(line.startswith("!!") for line in status.splitlines()), status


def test_make_reset_starts_afresh_and_keeps_a_backup(work: str) -> None:
    make(work, f"WORK={work}")
    first = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))[0]
    (ROOT / work / first).write_text("my answers", encoding="utf-8")
    out = make("reset", f"WORK={work}")
    backups = list(ROOT.glob(f"{work}.backup-*"))
    assert len(backups) == 1 and backups[0].name in out
    assert (backups[0] / first).read_text(encoding="utf-8") == "my answers"
    assert (ROOT / work / first).read_bytes() == (NOTEBOOKS / first).read_bytes()


def test_make_help_lists_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = set()
    for line in makefile.splitlines():
        if line.startswith(".PHONY:"):
            phony |= set(line.split(":", 1)[1].split())
    phony -= {"help", "FORCE"}
    shown = make("help")
    assert phony and all(f"make {target}" in shown for target in phony), shown


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_make_lab_serves_the_series(work: str) -> None:
    token = "wslib-test-token"
    args = "--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=0 "
    args += f"--IdentityProvider.token={token}"
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={args}", f"WORK={work}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so that the whole group (make and jupyter) can be stopped
    )
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 90
        seen = []
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = re.search(r"(http://127\.0\.0\.1:\d+)/lab", line)
            if match:
                url = match.group(1)
        assert url, "JupyterLab did not start:\n" + "".join(seen[-20:])
        # No proxy: the environment may set one, and it must not see 127.0.0.1.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        listing = ""
        deadline = time.monotonic() + 20
        while not listing:  # the address is printed a moment before the server accepts
            try:
                with opener.open(f"{url}/api/contents/notebooks?token={token}", timeout=10) as r:
                    listing = r.read().decode()
            except ConnectionRefusedError:
                pass
            except urllib.error.URLError as error:
                if not isinstance(error.reason, ConnectionRefusedError):
                    raise
            if not listing:
                assert time.monotonic() < deadline, "JupyterLab never accepted a connection"
                time.sleep(0.2)
        assert "00-welcome.ipynb" in listing
        # The learner works in the copy, which has every notebook.
        with opener.open(f"{url}/api/contents/{work}?token={token}", timeout=10) as r:
            names = {item["name"] for item in json.load(r)["content"]}
        assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} <= names
        with opener.open(f"{url}/lab?token={token}", timeout=10) as r:
            assert r.status == 200
            assert "JupyterLab" in r.read().decode()
        # No news pop-up and no update check over the notebook: the environment's override.
        plugin = "@jupyterlab/apputils-extension:notification"
        with opener.open(f"{url}/lab/api/settings/{plugin}?token={token}", timeout=10) as r:
            defaults = json.load(r)["schema"]["properties"]  # overrides replace the defaults
        assert defaults["fetchNews"]["default"] == "false"
        assert defaults["checkForUpdates"]["default"] is False
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()
