"""One shipped recording: what it shows, how it is made, and the function that records it again.

:mod:`wslib.lab.recordings` lists every :class:`Scenario` (its own, and those of
:mod:`wslib.lab.polling` and :mod:`wslib.lab.proxy`) and regenerates ``data/pcaps/``. Most are
captures (``NAME.pcap``); a few are the results of a live experiment that a capture cannot hold
(what a server saw, what a command printed), saved as ``NAME.json`` so that a notebook without
nginx shows them too, labelled as recorded: :func:`recorded` reads one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .tools import PCAP_DIR

if TYPE_CHECKING:
    from .capture import Capture

__all__ = ["Scenario", "recorded"]


@dataclass(frozen=True)
class Scenario:
    """One shipped recording: its name (the file name without suffix), what it shows, how it is
    made. ``run`` returns a :class:`~wslib.lab.capture.Capture` (written as ``NAME.pcap``) or,
    with ``suffix=".json"``, a dict of results (written as ``NAME.json``, see :func:`recorded`)."""

    name: str
    shows: str
    made: str
    run: Callable[[], Capture] | Callable[[], dict[str, Any]]
    seconds: float = 1.0  # about how long it takes to record
    suffix: str = ".pcap"

    @property
    def file(self) -> str:
        """The file name in ``data/pcaps/``: ``NAME.pcap`` or ``NAME.json``."""
        return f"{self.name}{self.suffix}"


def recorded(name: str, directory: Any = PCAP_DIR) -> dict[str, Any]:
    """The results shipped as ``data/pcaps/NAME.json``: a dict with ``name``, ``shows``,
    ``made``, ``regenerate`` (the command that records it again), ``tools`` (the versions it
    was recorded with) and ``results`` (what the experiment returned)."""
    from pathlib import Path

    data: dict[str, Any] = json.loads((Path(directory) / f"{name}.json").read_text("utf-8"))
    return data
