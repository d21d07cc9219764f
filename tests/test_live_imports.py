"""No import cycle among the modules of halab.live: every ``import`` statement, at the top or
inside a function, read with ``ast``, so that a cycle hidden in a function is found too."""

from __future__ import annotations

import ast
from pathlib import Path

LIVE = Path(__file__).resolve().parents[1] / "halab" / "live"


def _module(path: Path) -> str:
    parts = path.relative_to(LIVE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """The halab.live modules that ``path`` imports (``from halab.live import x`` counts x
    when x is a module)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in known:
                out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names} & known
    return out


def graph() -> dict[str, set[str]]:
    paths = [p for p in LIVE.rglob("*.py") if "__pycache__" not in p.parts]
    known = {_module(p) for p in paths}
    # a package's own __init__ re-exports lazily; an edge into a package is left out
    return {_module(p): _imports(p, known) - {"halab.live"} for p in paths}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``edges`` as a list of names (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_walk_sees_the_modules_it_must():
    edges = graph()
    assert "halab.live.production" in edges
    assert "halab.live.cluster" in edges["halab.live.production"]
    assert "halab.live.drill" in edges["halab.live.cluster"]


def test_no_import_cycle_in_halab_live():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
