"""One shipped capture: what it shows, how it is made, and the function that records it again.

:mod:`wslib.lab.recordings` lists every :class:`Scenario` (its own, and those of
:mod:`wslib.lab.polling` and :mod:`wslib.lab.proxy`) and regenerates ``data/pcaps/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .capture import Capture

__all__ = ["Scenario"]


@dataclass(frozen=True)
class Scenario:
    """One shipped capture: its file name (without ``.pcap``), what it shows, how it is made."""

    name: str
    shows: str
    made: str
    run: Callable[[], Capture]
    seconds: float = 1.0  # about how long it takes to record
