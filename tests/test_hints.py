"""The hints of notebooks 00, 01 and 03 name the learner's mistake without giving the answer."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from wslib.exercises import EXERCISES, Wrong, _load_all

_load_all()
SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def wrong_answers(notebook: str) -> list[tuple[str, Any]]:
    path = SOLUTIONS / f"nb{notebook}.py"
    spec = importlib.util.spec_from_file_location(f"hints_{path.stem}", path)
    assert spec and spec.loader
    module = ModuleType(spec.name)
    spec.loader.exec_module(module)
    return [(name, w) for name, ws in module.WRONG_ANSWERS.items() for w in ws]


def hint(name: str, answer: Any) -> str:
    with pytest.raises(Wrong) as caught:
        EXERCISES[name].checker(answer)
    return str(caught.value)


@pytest.mark.parametrize("notebook", ["00", "01", "03"])
def test_hints_do_not_give_the_answer(notebook: str) -> None:
    answers = wrong_answers(notebook)
    assert answers
    for name, answer in answers:
        text = hint(name, answer).lower()
        for giveaway in ("the answer is", "should be", "must answer", "should return"):
            assert giveaway not in text, f"{name}: {text}"


def test_spot_the_event_hint_does_not_list_the_expected_events() -> None:
    from wslib.exercises import nb03

    def off_by_one(raw: bytes) -> list[str]:
        return [*nb03._event_names(raw), "Ping"]

    text = hint("03.spot-the-event", off_by_one)
    assert "more events" in text
    expected = nb03._event_names(nb03.SPOT_THE_EVENT[0])
    assert str(expected) not in text
