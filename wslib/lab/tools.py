"""What this machine can do: capture privileges and the optional tools some notebooks use.

The series runs without any of them. A notebook that wants one calls the matching function,
and when it is missing prints :attr:`Tool.advice` (one plain sentence with the fix) and falls
back to the recorded captures in ``data/pcaps/``.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import glob
import os
import platform
import shutil
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CHROMIUM_FLAGS",
    "PCAP_DIR",
    "Tool",
    "capture_privileges",
    "chromedriver",
    "chromium",
    "libpcap",
    "nginx",
    "report",
    "tshark",
    "without_proxy_variables",
]

#: The recorded captures shipped with the series.
PCAP_DIR = Path(__file__).resolve().parents[2] / "data" / "pcaps"


@dataclass(frozen=True)
class Tool:
    """Whether one optional capability is available here, and what to do if it is not."""

    name: str
    available: bool
    detail: str  # a path or a version when available, the reason when not
    advice: str  # one sentence: how to get it on this OS (empty when available)

    def __bool__(self) -> bool:
        return self.available


def _is_macos() -> bool:
    return platform.system() == "Darwin"


def _install_hint(debian: str, brew: str, conda: str | None) -> str:
    if _is_macos():
        return f"install it with `brew install {brew}`."
    hint = f"install it with `sudo apt-get install {debian}`"
    if conda:
        hint += f" (or `conda install -c conda-forge {conda}`)"
    return hint + "."


def capture_privileges() -> Tool:
    """Can this process sniff loopback traffic? Tries what scapy would need, without scapy."""
    name = "capture privileges"
    if _is_macos():
        devices = glob.glob("/dev/bpf*")
        if any(os.access(d, os.R_OK | os.W_OK) for d in devices):
            return Tool(name, True, "read/write access to /dev/bpf*", "")
        return Tool(
            name,
            False,
            "no read/write access to /dev/bpf*",
            "give your user access to /dev/bpf* (Wireshark's ChmodBPF package does it) "
            "and restart JupyterLab.",
        )
    if not hasattr(socket, "AF_PACKET"):
        return Tool(
            name, False, f"not supported on {platform.system()}", "use a Linux or macOS machine."
        )
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    except PermissionError:
        python = os.path.realpath(sys.executable)  # the real binary, not a venv link or pyenv shim
        return Tool(
            name,
            False,
            "raw sockets need CAP_NET_RAW",
            "run as root, or give the environment's real Python the capability once with "
            f"`sudo setcap cap_net_raw,cap_net_admin+eip {python}` and restart JupyterLab.",
        )
    except OSError as error:
        return Tool(name, False, f"raw socket failed: {error}", "run as root.")
    sock.close()
    return Tool(name, True, "raw sockets allowed", "")


def libpcap() -> Tool:
    """Is libpcap installed? Without it scapy sniffs on Linux but cannot compile BPF filters."""
    path = ctypes.util.find_library("pcap")
    if path:
        return Tool("libpcap", True, path, "")
    return Tool("libpcap", False, "not found", _install_hint("libpcap0.8", "libpcap", "libpcap"))


def _program(name: str, debian: str, brew: str, conda: str | None, *candidates: str) -> Tool:
    for candidate in (name, *candidates):
        path = shutil.which(candidate)
        if path is None and candidate.startswith("/") and os.access(candidate, os.X_OK):
            path = candidate
        if path:
            return Tool(name, True, path, "")
    return Tool(name, False, "not on PATH", _install_hint(debian, brew, conda))


def nginx() -> Tool:
    """The nginx web server, for the reverse-proxy notebooks."""
    return _program(
        "nginx", "nginx-light", "nginx", "nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx"
    )


def redis_server() -> Tool:
    """The Redis server, the message broker between the servers of notebook 14's cluster."""
    return _program("redis-server", "redis-server", "redis", "redis-server")


def tshark() -> Tool:
    """Wireshark's command-line dissector, to cross-check wslib's decoding."""
    return _program("tshark", "tshark", "wireshark", "wireshark")


#: Flags for a headless Chromium driven by the series (notebook 04, the tests, the JupyterLab
#: recording): no sandbox (CI runs as root), no GPU, and nothing that reaches the network on its
#: own (background updates, sync, QUIC, a proxy): only the pages on 127.0.0.1 we open.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-proxy-server",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium() -> Tool:
    """A Chromium or Chrome browser that can run headless."""
    tool = _program(
        "chromium",
        "chromium",
        "--cask chromium",
        None,
        "chromium-browser",
        "google-chrome",
        "/Applications/Chromium.app/Contents/MacOS/Chromium",
        "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    )
    return tool


def chromedriver() -> Tool:
    """The driver through which Selenium controls Chromium (it never downloads one here)."""
    return _program(
        "chromedriver", "chromium-driver", "--cask chromedriver", None, "/usr/bin/chromedriver"
    )


def report() -> list[Tool]:
    """Every optional capability, in the order the notebooks need them."""
    return [
        capture_privileges(),
        libpcap(),
        tshark(),
        nginx(),
        chromium(),
        chromedriver(),
        redis_server(),
    ]


#: The environment variables through which HTTP clients find a proxy (lower and upper case).
PROXY_VARIABLES = tuple(
    name for base in ("http_proxy", "https_proxy", "all_proxy") for name in (base, base.upper())
)


@contextlib.contextmanager
def without_proxy_variables() -> Iterator[None]:
    """Remove the proxy variables from the environment for the block, then put them back.

    websocket-client honours ``http_proxy`` and friends even for ``ws://127.0.0.1``; every
    connection in this series is on loopback, where a proxy can only get in the way.
    """
    saved = {name: os.environ.pop(name) for name in PROXY_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
