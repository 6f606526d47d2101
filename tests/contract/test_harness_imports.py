"""The harness that the demo, the benchmarks and the tests share lives in ``harness/``: ``tests/`` and
``bench/`` import from it and never from each other, and the harness and the demo import neither.

A module run as a process counts too: ``python -m tests.x`` in the benchmarks is an import of tests.
One deliberate exception: ``tests/test_bench_runs.py`` runs each benchmark as a process at a toy size,
to see that it still runs; it shares no code with them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {  # folder -> top-level packages its modules must not import
    "tests": {"bench"},
    "bench": {"tests"},
    "harness": {"tests", "bench"},
    "demo": {"tests", "bench"},
}
_MODULE = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)+$")


def imported(path: Path) -> list[str]:
    """The modules ``path`` imports, and the dotted module names it spells out in a string (``-m x.y``)."""
    tree = ast.parse(path.read_text(), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE.match(node.value):
            names.append(node.value)
    return names


def cross_imports(root: Path) -> list[str]:
    bad = []
    for folder, forbidden in FORBIDDEN.items():
        for path in sorted((root / folder).rglob("*.py")):
            for name in imported(path):
                if name.split(".")[0] in forbidden:
                    bad.append(f"{path.relative_to(root)} imports {name}")
    return bad


def test_tests_and_bench_do_not_import_each_other() -> None:
    bad = cross_imports(ROOT)
    assert not bad, "\n".join(bad)


def test_a_cross_import_is_found(tmp_path: Path) -> None:
    for folder in FORBIDDEN:
        (tmp_path / folder).mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("from bench.stackrun import sample\n")
    (tmp_path / "bench" / "soak.py").write_text("import tests.faults\nargv = ['-m', 'tests.faults.x']\n")
    (tmp_path / "harness" / "stack.py").write_text("from harness.broker import Broker\n")
    assert cross_imports(tmp_path) == [
        "tests/test_x.py imports bench.stackrun",
        "bench/soak.py imports tests.faults",
        "bench/soak.py imports tests.faults.x",
    ]
