"""The collector imports only the wire contract and the Reading record from the edge agent."""

from __future__ import annotations

import ast
from pathlib import Path

import collector

ALLOWED = ("wire", "wire.points")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_collector_imports_only_the_contract_from_edge_agent() -> None:
    root = Path(collector.__file__).parent
    bad = [
        f"{path.relative_to(root.parent)}: {name}"
        for path in sorted(root.rglob("*.py"))
        for name in _imports(path)
        if (name == "edge_agent" or name.startswith("edge_agent."))
        and not any(name == a or name.startswith(a + ".") for a in ALLOWED)
    ]
    assert bad == []
