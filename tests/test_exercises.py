"""Every exercise check accepts its reference solution and rejects plausible wrong answers."""

from __future__ import annotations

import importlib.util
import json
import re
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from wslib.exercises import EXERCISES, Wrong, _load_all, check, exercise

from .conftest import NOTEBOOKS, notebook_paths

_load_all()


def load_solutions() -> dict[str, tuple[Any, list[Any]]]:
    found: dict[str, tuple[Any, list[Any]]] = {}
    for path in sorted((NOTEBOOKS / "solutions").glob("nb*.py")):
        spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
        assert spec and spec.loader
        module = ModuleType(spec.name)
        spec.loader.exec_module(module)
        for name, solution in module.SOLUTIONS.items():
            found[name] = (solution, module.WRONG_ANSWERS.get(name, []))
    return found


SOLUTIONS = load_solutions()


def exercises_in_notebooks() -> set[str]:
    names: set[str] = set()
    for path in notebook_paths():
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        names |= set(re.findall(r"check\(\s*\"(\d\d\.[a-z0-9-]+)\"", code))
    return names


def test_every_exercise_has_a_solution_and_a_wrong_answer() -> None:
    assert EXERCISES, "no exercises registered"
    for name in EXERCISES:
        assert name in SOLUTIONS, f"{name}: no reference solution in notebooks/solutions/"
        assert SOLUTIONS[name][1], f"{name}: no plausible wrong answer to prove the check rejects"


def test_notebooks_use_exactly_the_registered_exercises() -> None:
    assert exercises_in_notebooks() == set(EXERCISES)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_check_accepts_the_reference_solution(name: str) -> None:
    assert check(name, SOLUTIONS[name][0]) is True


SOLUTIONS_DIR = (NOTEBOOKS / "solutions").resolve()


def raised_in_the_answer(error: BaseException) -> bool:
    """Did the exception pass through the answer's own code (a file in notebooks/solutions/)?

    Then the learner's code failed, which check() rightly reports as a rejection. An exception
    that never went through the answer is the checker crashing: a bug that must not pass for a
    rejection."""
    return any(
        Path(frame.filename).resolve().is_relative_to(SOLUTIONS_DIR)
        for frame in traceback.extract_tb(error.__traceback__)
    )


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_check_rejects_wrong_answers(name: str) -> None:
    for wrong in SOLUTIONS[name][1]:
        assert check(name, wrong, quiet=True) is False, f"{name} accepted a wrong answer: {wrong!r}"
        # Why it was rejected: the checker said Wrong, or the wrong answer itself raised.
        try:
            EXERCISES[name].checker(wrong)
        except Wrong:
            continue
        except Exception as error:
            assert raised_in_the_answer(error), (
                f"{name}: the checker itself crashed on {wrong!r} "
                f"({type(error).__name__}: {error}) instead of raising Wrong"
            )
        else:  # pragma: no cover - check() returned False, so the checker raised
            raise AssertionError(f"{name}: the checker accepted {wrong!r}")


def test_a_crashing_checker_is_told_from_a_crashing_answer() -> None:
    """The test above fails on a checker bug, and still accepts a wrong answer that crashes."""
    namespace: dict[str, object] = {}
    code = "def answer(value):\n    return value[99]\n"  # a wrong answer that raises itself
    exec(compile(code, str(SOLUTIONS_DIR / "nb99.py"), "exec"), namespace)
    answer = namespace["answer"]
    assert callable(answer)

    def checker(answer: object) -> None:  # calls the answer: its IndexError is the answer's
        assert callable(answer)
        answer([])

    def crashing_checker(answer: object) -> None:  # a bug: fails before it looks at the answer
        raise KeyError("a bug in the checker")

    for run, expected in ((checker, True), (crashing_checker, False)):
        with pytest.raises(Exception) as info:
            run(answer)
        assert raised_in_the_answer(info.value) is expected


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_unsolved_exercise_says_so_and_does_not_raise(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def stub(*args: object, **kwargs: object) -> object:
        raise NotImplementedError

    for unsolved in (None, ..., stub):
        assert check(name, unsolved) is False
        assert "not solved yet" in capsys.readouterr().out


def test_check_survives_any_error_in_the_learner_code(capsys: pytest.CaptureFixture[str]) -> None:
    name = sorted(EXERCISES)[0]

    def broken(*args: object, **kwargs: object) -> object:
        return 1 / 0

    assert check(name, broken) is False
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out
    assert "Traceback" not in out


def test_unknown_exercise_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert check("99.no-such-thing", 1) is False
    assert "no exercise called" in capsys.readouterr().out


def test_exercise_names_are_unique() -> None:
    @exercise("99.tmp-unique", "a task")
    def checker(answer: object) -> None:
        raise Wrong("never")

    try:
        with pytest.raises(ValueError):
            exercise("99.tmp-unique", "again")(checker)
    finally:
        del EXERCISES["99.tmp-unique"]
