"""The hints of the notebooks name the learner's mistake without giving the answer."""

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


@pytest.mark.parametrize("notebook", ["00", "01", "02", "03", "04", "05", "07"])
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


# --- notebook 02 ----------------------------------------------------------------------------------


def nb02() -> dict[str, Any]:
    return {answer.__name__: answer for _, answer in wrong_answers("02")}


def test_length_field_hints_name_the_mistake_not_the_bytes() -> None:
    from wslib.exercises.nb02 import _length_field

    answers = nb02()
    off_by_one = hint("02.length-field", answers["encode_length_off_by_one"])
    assert "125" in off_by_one and "boundary" in off_by_one
    assert _length_field(125, False).hex() not in off_by_one.replace(" ", "")
    assert "16-bit form" in hint("02.length-field", answers["encode_length_always_64_bits"])
    assert "byte order" in hint("02.length-field", answers["encode_length_little_endian"])
    assert "MASK bit" in hint("02.length-field", answers["encode_length_without_mask_bit"])


def test_unmask_hints_say_which_key_bytes_went_wrong() -> None:
    answers = nb02()
    assert "first key byte" in hint("02.unmask", answers["unmask_first_key_byte_only"])
    assert "where your count starts" in hint("02.unmask", answers["unmask_key_shifted"])
    tail = hint("02.unmask", answers["unmask_drops_the_tail"])
    assert "last" in tail and "4" in tail
    for name, answer in answers.items():
        if name.startswith("unmask"):
            assert "b'Hello'" not in hint("02.unmask", answer)


def test_spot_error_hints_do_not_give_the_expected_code() -> None:
    from wslib.exercises import nb02 as checks

    answers = nb02()
    for name, answer in answers.items():
        if name.startswith("encode") or name.startswith("unmask"):
            continue
        text = hint("02.spot-error", answer)
        index = int(text.split("SPOT_THE_ERROR[")[1].split("]")[0])
        raw = checks.SPOT_THE_ERROR[index]
        expected = checks._CASES[index][1]
        got = answer(raw)
        assert f"yours says {got!r}" in text or f"yours answers {got!r}" in text, text
        if expected is not None:
            assert str(expected) not in text, f"{name}: {text}"
    # a learner who answers 1002 for bad UTF-8 learns that 1002 means something else
    text = hint("02.spot-error", answers["bad_utf8_is_a_protocol_error"])
    assert "1002" in text and "framing" in text
    # one who lets a broken frame through learns that it breaks a rule, and where to look
    text = hint("02.spot-error", answers["only_checks_the_mask_bit"])
    assert "lets it through" in text and "RSV1" in text


def test_spot_error_says_when_a_good_frame_is_refused() -> None:
    from wslib.exercises import nb02 as checks

    def refuses_everything(raw: bytes) -> int | None:
        return 1002

    text = hint("02.spot-error", refuses_everything)
    assert "SPOT_THE_ERROR[0]" in text and "nothing wrong" in text
    assert checks._CASES[0][1] is None


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


# --- notebook 14 ----------------------------------------------------------------------------------


def test_cluster_hints_name_each_mistake_and_keep_the_answer() -> None:
    from wslib.exercises.nb14 import ID_SETS, _id

    answers = wrong_answers("14")
    texts = {(name, answer.__name__): hint(name, answer) for name, answer in answers}
    for (name, _), text in texts.items():
        for giveaway in ("the answer is", "should be", "should return"):
            assert giveaway not in text.lower(), f"{name}: {text}"
        if name == "14.newest-id":  # the newest ID is never named, outside the list quoted
            ids = next(ids for ids in ID_SETS if str(ids) in text)
            assert f"'{max(ids, key=_id)}'" not in text.replace(str(ids), ""), text
    per_exercise: dict[str, set[str]] = {}
    for (name, _), text in texts.items():
        per_exercise.setdefault(name, set()).add(text)
    assert all(len(found) == 3 for found in per_exercise.values()), per_exercise
