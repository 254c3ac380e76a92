"""The README's commands do what the README says (`make test` itself is what CI runs)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .conftest import ROOT


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_make_lab_serves_the_series() -> None:
    token = "wslib-test-token"
    args = "--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=0 "
    args += f"--IdentityProvider.token={token}"
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
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
        with opener.open(f"{url}/lab?token={token}", timeout=10) as r:
            assert r.status == 200
            assert "JupyterLab" in r.read().decode()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()
