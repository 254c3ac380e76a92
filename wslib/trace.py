"""The trace switch of both I/O layers: every frame in and out, one line each.

``trace=True`` on :func:`wslib.serve`, :func:`wslib.connect` and their :mod:`wslib.asyncio`
versions prints each line (through the ``logging`` logger ``"wslib.trace"``); a function, such as
``print`` or ``lines.append``, receives each line instead. No I/O here: the I/O layers call it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from .frames import Frame

__all__ = ["Trace", "frame_tracer", "make_tracer", "trace_logger"]

trace_logger = logging.getLogger("wslib.trace")

#: A trace option: ``True`` (print and log), or a function that takes each trace line.
Trace = bool | Callable[[str], Any]


class _PrintHandler(logging.Handler):
    """Print trace lines to the *current* ``sys.stdout`` (a notebook cell, pytest's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stdout, flush=True)
        except Exception:  # pragma: no cover - logging must never break the connection
            self.handleError(record)


def _print_trace_line(line: str) -> None:
    if not any(isinstance(h, _PrintHandler) for h in trace_logger.handlers):
        trace_logger.addHandler(_PrintHandler())
        if trace_logger.level == logging.NOTSET:
            trace_logger.setLevel(logging.INFO)
    trace_logger.info(line)


def make_tracer(trace: Trace, who: str) -> Callable[[str], None] | None:
    """Turn the ``trace`` option into a function of one line, or ``None`` when tracing is off.

    ``trace=True`` prints every line (visible in a notebook cell) through the ``logging``
    logger ``"wslib.trace"``; a function, such as ``print`` or ``lines.append``, receives each
    line instead. Each line starts with ``who`` (the peer) and an arrow: ``>`` sent, ``<``
    received, like websocket-client's ``enableTrace``.
    """
    if not trace:
        return None
    emit: Callable[[str], Any] = _print_trace_line if trace is True else trace

    def line(text: str) -> None:
        emit(f"{who} {text}")

    return line


def frame_tracer(line: Callable[[str], None] | None) -> Callable[[str, Frame], None] | None:
    """The protocol's trace callback: ``("<" or ">", frame)`` -> ``< TEXT fin=1 len=5 'hi'``."""
    if line is None:
        return None

    def trace_frame(direction: str, frame: Frame) -> None:
        line(f"{direction} {frame}")

    return trace_frame
