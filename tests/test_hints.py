"""The hints of notebooks 00, 01, 03, 04, 05 and 07 name the mistake without giving the answer."""

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


@pytest.mark.parametrize("notebook", ["00", "01", "03", "04", "05", "07"])
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


def test_handshakes_hint_fits_a_websocket_without_a_connection() -> None:
    # websocket=0 used to get the generic "does this strategy close the connection?" hint
    def none_for_websocket(strategy: str, polls: int) -> int:
        return {"short": polls + 1, "websocket": 0}.get(strategy, 1)

    text = hint("07.handshakes", none_for_websocket)
    assert "0 connections" in text and "TCP" in text
    assert "close the connection" not in text


def test_handshakes_hint_names_a_connection_per_keepalive_request() -> None:
    def per_request(strategy: str, polls: int) -> int:
        return 1 if strategy == "websocket" else polls + 1

    text = hint("07.handshakes", per_request)
    assert "keepalive" in text and "every request" in text
