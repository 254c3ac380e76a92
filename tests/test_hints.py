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


# --- notebooks 08 and 09 --------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", ["08", "09"])
def test_proxy_hints_name_the_mistake_not_the_answer(notebook: str) -> None:
    answers = wrong_answers(notebook)
    assert answers
    texts = [hint(name, answer) for name, answer in answers]
    for (name, _answer), text in zip(answers, texts, strict=True):
        for giveaway in ("the answer is", "should be", "must answer", "should return", ", not '"):
            assert giveaway not in text.lower(), f"{name}: {text}"
    # each plausible mistake gets its own hint, not one catch-all sentence for all of them
    per_exercise: dict[str, list[str]] = {}
    for (name, _answer), text in zip(answers, texts, strict=True):
        per_exercise.setdefault(name, []).append(text.split(":")[0] + text[-40:])
    for name, found in per_exercise.items():
        if name != "09.ping-interval":  # two wrong answers there make the same mistake
            assert len(set(found)) == len(found), f"{name}: {found}"


def test_real_client_hint_does_not_reveal_the_address() -> None:
    from wslib.exercises.nb08 import REAL_CLIENT_CASES

    def always(xff: str, remote: str, trusted: set[str]) -> str:
        return "192.0.2.250"  # an address that is in no chain

    text = hint("08.real-client", always)
    # the chain is quoted (it is the input), the address to pick out of it is not named again
    for (xff, remote, _trusted), address in REAL_CLIENT_CASES:
        chain = f"{xff}, {remote}"
        if chain in text:
            assert text.count(address) == chain.count(address), text
            break
    else:
        raise AssertionError(f"the hint quotes no chain: {text}")


def test_who_closed_hint_does_not_reveal_the_side() -> None:
    def nobody(conversation: Any) -> str | None:
        return None

    text = hint("09.who-closed", nobody)
    assert "came from the" not in text and "None" in text, text


def section_headings(notebook: str) -> dict[int, str]:
    import nbformat

    path = next((SOLUTIONS.parent).glob(f"{notebook}-*.ipynb"))
    headings = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## ") and line[3:4].isdigit():
                    number, _, title = line[3:].partition(".")
                    headings[int(number)] = title.strip()
    return headings


@pytest.mark.parametrize(
    ("notebook", "about"),
    [("08", "Breaking the recipe")],  # every section nb08's hints cite is the measured table
)
def test_section_references_in_hints_point_at_the_right_heading(notebook: str, about: str) -> None:
    import re

    source = Path(__file__).resolve().parent.parent / "wslib" / "exercises" / f"nb{notebook}.py"
    cited = {int(n) for n in re.findall(r"[Ss]ection (\d+)", source.read_text())}
    headings = section_headings(notebook)
    assert cited, "no section cited"
    for number in cited:
        assert about in headings.get(number, ""), f"section {number} is {headings.get(number)!r}"
