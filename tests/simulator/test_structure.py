"""The simulator's shape: composed parts over one state record, imports running one way.

It was one class over five mixin modules that re-declared each other's methods under
``TYPE_CHECKING`` and imported each other in a circle; these keep it from growing back.
"""

from __future__ import annotations

import ast
import pathlib

import simulator
from simulator.smsc import Simulator

PACKAGE = pathlib.Path(simulator.__file__).parent


def _imports() -> dict[str, set[str]]:
    """simulator module -> the simulator modules it imports (anywhere in the module)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        name = "simulator" if path.stem == "__init__" else f"simulator.{path.stem}"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("simulator."):
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("simulator.")}
        graph[name] = found - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        for dep in sorted(graph.get(node, ())):
            if dep in path:
                return [*path[path.index(dep) :], dep]
            if dep not in done:
                found = visit(dep, [*path, dep])
                if found:
                    return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [start])
        if found:
            return found
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_simulator_module_imports_one_that_imports_it() -> None:
    graph = _imports()
    assert {"simulator.smsc", "simulator.binds", "simulator.submission"} <= set(graph)
    assert _cycle(graph) is None


def test_simulator_is_composed_not_a_stack_of_mixins() -> None:
    assert Simulator.__bases__ == (object,)
    # No class declares methods it expects a sibling class to supply.
    for path in PACKAGE.glob("*.py"):
        for cls in ast.walk(ast.parse(path.read_text())):
            if isinstance(cls, ast.ClassDef):
                guarded = [
                    n for n in cls.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
                ]
                assert not guarded, f"{path.name}: class {cls.name} declares methods under TYPE_CHECKING"
