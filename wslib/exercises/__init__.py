"""Automatic checks for the exercises in the notebooks.

Each notebook ends with exercises. A learner writes an answer (usually a function) and calls
:func:`check` with the exercise's name::

    from wslib.exercises import check

    def accept_key_by_hand(key: str) -> str:
        raise NotImplementedError  # your code here

    check("01.accept-key", accept_key_by_hand)

:func:`check` never raises: an unsolved exercise prints "not solved yet" and the notebook goes
on, so that "Run All" always reaches the end. It returns True when the answer is right.

The checks live in one module per notebook (``wslib/exercises/nbNN.py``), each registering its
exercises with :func:`exercise`. Reference solutions for instructors, with plausible wrong
answers that the checks must reject, are in ``notebooks/solutions/``; the tests run both.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["EXERCISES", "Exercise", "Wrong", "check", "exercise"]


class Wrong(Exception):
    """Raised by a checker when an answer is wrong; the message is the hint shown to the learner."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its name (``"NN.short-name"``), what to do, and the function that checks it.

    ``checker(answer)`` returns normally when the answer is right and raises :class:`Wrong` with
    a hint when it is not.
    """

    name: str
    task: str
    checker: Callable[[Any], None]


EXERCISES: dict[str, Exercise] = {}


def exercise(name: str, task: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register the decorated function as the checker of exercise ``name``."""

    def register(checker: Callable[[Any], None]) -> Callable[[Any], None]:
        if name in EXERCISES:
            raise ValueError(f"exercise {name!r} is registered twice")
        EXERCISES[name] = Exercise(name, task, checker)
        return checker

    return register


def _load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def _is_unanswered(answer: Any) -> bool:
    return answer is None or answer is Ellipsis


def check(name: str, answer: Any, *, quiet: bool = False) -> bool:
    """Check ``answer`` to exercise ``name``; print the verdict and return True if it is right.

    Never raises, whatever the answer does: an exercise left as it is prints "not solved yet".
    """
    _load_all()
    try:
        ex = EXERCISES[name]
    except KeyError:
        known = ", ".join(sorted(EXERCISES))
        if not quiet:
            print(f"❓ There is no exercise called {name!r}. Known exercises: {known}")
        return False

    def say(text: str) -> None:
        if not quiet:
            print(text)

    if _is_unanswered(answer):
        say(f"⏳ Exercise {name}: not solved yet. {ex.task}")
        return False
    try:
        ex.checker(answer)
    except NotImplementedError:
        say(f"⏳ Exercise {name}: not solved yet. {ex.task}")
        return False
    except Wrong as wrong:
        say(f"❌ Exercise {name}: not quite. {wrong}")
        return False
    except Exception as error:  # the learner's code failed: report it in one line, no traceback
        say(f"❌ Exercise {name}: your code raised {type(error).__name__}: {error}")
        return False
    say(f"✅ Exercise {name}: solved!")
    return True
