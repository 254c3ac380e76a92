from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TypeVar

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

T = TypeVar("T")


def run_parser(gen: Generator[None, None, T]) -> T:
    """Run a generator-based parser to its result on what is already buffered.

    Fails the test if the parser still waits for data (wslib's parsers ``yield`` when they do).
    """
    try:
        next(gen)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise AssertionError("the parser waits for more data")


__all__ = ["NOTEBOOKS", "ROOT", "notebook_paths", "run_parser", "tomllib"]


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
