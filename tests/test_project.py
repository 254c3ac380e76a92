"""The project's own rules: dependencies that agree, notebooks that follow the conventions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from .conftest import NOTEBOOKS, ROOT, notebook_paths, tomllib

NAME = re.compile(r"^(\d\d)-[a-z0-9]+(-[a-z0-9]+)*\.ipynb$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def split_requirement(req: str) -> tuple[str, str]:
    """'scapy>=2.5,<3; python_version<...' -> ('scapy', '<3,>=2.5')."""
    req = req.split(";")[0].strip()
    match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert match, req
    name, spec = match.groups()
    parts = sorted(p.strip().replace(" ", "") for p in spec.split(",") if p.strip())
    return canonical(name), ",".join(parts)


def pip_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return dict(split_requirement(r) for r in reqs)


# conda-forge names of the PyPI packages, where they differ
CONDA_TO_PIP: dict[str, str] = {"redis-py": "redis"}
SYSTEM_PACKAGES = {"python", "pip", "nginx", "libpcap", "wireshark", "redis-server"}


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    reqs: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            assert dep.get("pip") == ["-e ."], "pip section should only install wslib itself"
            continue
        name, spec = split_requirement(dep)
        if name in SYSTEM_PACKAGES:
            continue
        reqs[CONDA_TO_PIP.get(name, name)] = spec
    return reqs


def test_environment_yml_agrees_with_pyproject() -> None:
    pip = pip_requirements()
    conda = conda_requirements()
    assert sorted(pip) == sorted(conda), "package lists differ"
    for name, spec in pip.items():
        assert conda[name] == spec, (
            f"{name}: pyproject says {spec!r}, environment.yml {conda[name]!r}"
        )


def test_environment_yml_brings_the_system_tools() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = {split_requirement(d)[0] for d in env["dependencies"] if isinstance(d, str)}
    assert {"nginx", "libpcap", "wireshark", "python"} <= names
    assert env["channels"] == ["conda-forge"]


def test_every_dependency_has_a_compatible_range() -> None:
    for name, spec in pip_requirements().items():
        assert ">=" in spec and "<" in spec, (
            f"{name} should be pinned to a compatible range: {spec!r}"
        )


def test_package_is_typed() -> None:
    assert (ROOT / "wslib" / "py.typed").exists()


def test_ci_entry_point_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get update" in ci
    assert "make test" in ci
    assert "make test" in (ROOT / "README.md").read_text()


def test_readme_has_exactly_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^```(?:bash|sh|console)?\n(.*?)^```", quick, re.M | re.S)
    lines = [ln.strip() for block in commands for ln in block.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("#")]
    assert lines == ["make lab", "make test"]


def test_readme_learning_path_lists_every_notebook() -> None:
    readme = (ROOT / "README.md").read_text()
    for path in notebook_paths():
        assert f"notebooks/{path.name}" in readme, f"README's learning path misses {path.name}"


# --- notebook conventions ----------------------------------------------------------------------


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def markdown(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


def test_notebook_names_give_the_order() -> None:
    paths = notebook_paths()
    assert paths, "no notebooks"
    numbers = []
    for path in paths:
        match = NAME.match(path.name)
        assert match, f"{path.name} should be named NN-topic.ipynb"
        numbers.append(int(match.group(1)))
    assert numbers == list(range(len(numbers))), f"numbers should run 00, 01, ...: {numbers}"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_notebook_is_stripped(path: Path) -> None:
    nb = load(path)
    for i, cell in enumerate(nb["cells"]):
        # make strip (nbstripout) numbers the cells; anything else would change on the next strip
        assert cell.get("id") == str(i), f"{path.name}: cell ids not as `make strip` leaves them"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: outputs committed (run `make strip`)"
            assert cell["execution_count"] is None, f"{path.name}: execution count committed"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_notebook_opening(path: Path) -> None:
    first = markdown(load(path))[0]
    assert first.startswith("# "), f"{path.name}: the first cell should be a title"
    lowered = first.lower()
    assert "you will be able to" in lowered, f"{path.name}: goals missing in the first cell"
    assert "prerequisites" in lowered, f"{path.name}: prerequisites missing in the first cell"
    assert "series" in lowered, f"{path.name}: say where it sits in the series"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_notebook_closing(path: Path) -> None:
    cells = markdown(load(path))
    text = "\n".join(cells).lower()
    assert "## summary" in text, f"{path.name}: no Summary section"
    assert "## exercises" in text, f"{path.name}: no Exercises section"
    last = cells[-1]
    paths = notebook_paths()
    index = paths.index(path)
    linked = set(re.findall(r"\]\((\d\d-[a-z0-9-]+\.ipynb)\)", last))
    for name in linked:
        assert (NOTEBOOKS / name).exists(), f"{path.name} links to missing {name}"
    if index > 0:
        assert paths[index - 1].name in linked, f"{path.name}: no link to the previous notebook"
    if index + 1 < len(paths):
        assert paths[index + 1].name in linked, f"{path.name}: no link to the next notebook"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_notebook_exercises_are_checked(path: Path) -> None:
    code = "\n".join("".join(c["source"]) for c in load(path)["cells"] if c["cell_type"] == "code")
    prefix = path.name[:2]
    used = set(re.findall(r"check\(\s*\"(\d\d\.[a-z0-9-]+)\"", code))
    assert used, f"{path.name}: no exercise calls check(...)"
    assert all(name.startswith(prefix + ".") for name in used), used
