"""The package's layout draws its architecture: the layers' imports only point down, no cycles.

Layers, bottom first: the protocol core (``wslib/*.py``), the I/O models (``wslib.sync``), the
series' instruments (``wslib.lab``) and the exercise checks (``wslib.exercises``). Read from the
source with :mod:`ast`, so that a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "wslib"

#: Layers, bottom first. ``wslib`` itself (``__init__``) re-exports the core and wslib.sync.
LAYERS = ["core", "sync", "lab", "exercises"]
#: Command-line entry points (``python -m wslib.dump``) may start a layer above them.
ENTRY_POINTS = {"wslib.dump", "wslib.conformance", "wslib.cluster"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "core"


def imports_of(path: Path) -> set[str]:
    """Every ``wslib`` module that ``path`` imports, anywhere in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {c for c in candidates if c == "wslib" or c.startswith("wslib.")}
    return found


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
GRAPH = {
    name: {m for m in imports_of(path) if m in MODULES and m != name}
    for name, path in MODULES.items()
}


def test_the_layers_exist() -> None:
    assert {"wslib.sync", "wslib.lab", "wslib.exercises", "wslib.protocol"} <= set(MODULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name: str) -> None:
    if name in ENTRY_POINTS or name == "wslib":
        return
    mine = LAYERS.index(layer(name))
    upward = sorted(m for m in GRAPH[name] if m != "wslib" and LAYERS.index(layer(m)) > mine)
    assert not upward, f"{name} ({layer(name)}) imports a higher layer: {upward}"


def test_the_core_never_imports_the_package_root() -> None:
    # ``import wslib`` loads wslib.sync, so a core module importing ``wslib`` would go up a layer.
    offenders = [n for n in MODULES if layer(n) == "core" and n != "wslib" and "wslib" in GRAPH[n]]
    assert not offenders


def test_neither_client_imports_a_server() -> None:
    for name, deps in GRAPH.items():
        if name.endswith(".client"):
            servers = [d for d in deps if d.endswith(".server")]
            assert not servers, f"{name} imports {servers}"


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(GRAPH[node]):
            if dep == "wslib" or dep in ENTRY_POINTS:
                continue
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])


def test_the_cycle_detector_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check above must be able to fail: add the cycle the package once had.
    monkeypatch.setitem(GRAPH, "wslib.lab.scenario", {"wslib.lab.recordings"})
    with pytest.raises(pytest.fail.Exception, match="import cycle"):
        test_no_import_cycles()
