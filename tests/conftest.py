from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["NOTEBOOKS", "ROOT", "notebook_paths", "tomllib"]


@pytest.fixture(autouse=True, scope="session")
def _no_proxy_variables() -> Iterator[None]:
    """Every test talks to 127.0.0.1 only, and websocket-client, websockets and Selenium all
    honour proxy variables (even for loopback): clear them for the whole session."""
    names = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.lower() in names:
                patch.delenv(name)
        yield
