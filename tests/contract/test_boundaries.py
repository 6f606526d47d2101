"""The seams of the house, enforced by walking every module's imports (shared/STYLE.md, "The shape").

Both services depend on the contract; neither depends on the other. The contract (``wire``) is pure: it
imports nothing that does I/O, so it can be read, tested and reused anywhere. The MQTT session knows no
streetgate topic or payload. Drivers know neither service. Importing the agent's runtime pulls in no
protocol library the config does not use.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "wire",
    "mqtt_session",
    "configfile",
    "lighting",
    "edge_agent",
    "collector",
    "drivers",
    "simulators",
)

# What the contract may import: the standard library's pure modules, the payload codec, and
# `cryptography` (Ed25519 signing and verifying of commands and results is computation, not I/O).
WIRE_MAY_IMPORT = frozenset(
    {"__future__", "base64", "collections", "cryptography", "dataclasses", "datetime", "enum", "functools",
     "hashlib", "itertools", "json", "math", "msgpack", "re", "typing", "uuid", "wire"}
)  # fmt: skip

# package -> packages of ours it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "wire": ("mqtt_session", "edge_agent", "collector", "drivers", "simulators"),
    "mqtt_session": ("wire", "edge_agent", "collector", "drivers", "simulators"),
    "configfile": ("wire", "mqtt_session", "edge_agent", "collector", "drivers", "simulators"),
    "lighting": ("mqtt_session", "edge_agent", "collector", "drivers", "simulators"),
    "collector": ("edge_agent", "drivers", "simulators"),
    "edge_agent": ("collector", "simulators"),
    "drivers": ("edge_agent", "collector", "mqtt_session", "simulators"),
    "simulators": ("edge_agent", "collector", "mqtt_session"),
}


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module, dotted
    name: str  # what it imports, absolute and dotted
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import in one file, at any depth (imports inside functions count), relative ones resolved."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(me, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append(Import(me, name, node.lineno))
    return found


def top(name: str) -> str:
    return name.split(".", 1)[0]


def violations(root: Path = ROOT) -> list[str]:
    bad = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for imp in imports_of(path, root):
                where = f"{path.relative_to(root)}:{imp.line} imports {imp.name}"
                if top(imp.name) in FORBIDDEN[package]:
                    bad.append(where)
                elif package == "wire" and top(imp.name) not in WIRE_MAY_IMPORT:
                    bad.append(f"{where} (the contract imports no I/O library)")
    return bad


def test_no_package_crosses_a_seam() -> None:
    bad = violations()
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("package", "line"),
    [
        ("collector", "from edge_agent.buffer.store import Buffer"),
        ("collector", "import drivers.base"),
        ("edge_agent", "from collector import runtime"),
        ("drivers", "from edge_agent.clock import Clock"),
        ("drivers", "from collector.config import load"),
        ("wire", "import socket"),
        ("wire", "import paho.mqtt.client"),
        ("wire", "from mqtt_session.link import MqttLink"),
        ("mqtt_session", "from wire import topics"),
        ("configfile", "from collector.config import load"),
    ],
)
def test_the_walk_sees_a_crossing(tmp_path: Path, package: str, line: str) -> None:
    """The check above is only as good as its walk: a copy of the tree with one forbidden import planted
    (inside a function, the way lazy imports are written) must be reported."""
    for name in PACKAGES:
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    (tmp_path / package).unlink()
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text(f"def lazy() -> None:\n    {line}\n")
    assert any(f"{package}/__init__.py:2 imports" in v for v in violations(tmp_path))


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    (tmp_path / "collector" / "ingest").mkdir(parents=True)
    path = tmp_path / "collector" / "ingest" / "decode.py"
    path.write_text("from ..sinks import base\nfrom . import counters\n")
    assert [i.name for i in imports_of(path, tmp_path)] == ["collector.sinks", "collector.ingest"]


def test_agent_runtime_imports_no_protocol_it_does_not_use() -> None:
    code = (
        "import sys, edge_agent.runtime, edge_agent.service, edge_agent.cli.main\n"
        "heavy = [m for m in ('asyncua', 'pymodbus', 'collector', 'serial') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"
