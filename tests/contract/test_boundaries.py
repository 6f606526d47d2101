"""The collector imports only the wire contract from the agent, and importing a package does nothing
heavy: the agent must not pull asyncua (25 MB) or the collector's store into a gateway."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = ("wire", "wire.points")


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_collector_imports_only_the_wire_contract_from_the_agent() -> None:
    bad = []
    for path in sorted((ROOT / "collector").rglob("*.py")):
        for name in imports(path):
            if name.startswith("edge_agent") and not name.startswith(ALLOWED):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_agent_never_imports_the_collector() -> None:
    bad = [
        f"{p.relative_to(ROOT)} imports {n}"
        for p in sorted((ROOT / "edge_agent").rglob("*.py"))
        for n in imports(p)
        if n.startswith("collector")
    ]
    assert not bad, "\n".join(bad)


def test_agent_runtime_imports_no_protocol_it_does_not_use() -> None:
    code = (
        "import sys, edge_agent.runtime, edge_agent.cli.main\n"
        "heavy = [m for m in ('asyncua', 'pymodbus', 'collector', 'serial') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


def test_the_shared_config_loader_imports_neither_service() -> None:
    services = ("edge_agent", "collector", "drivers", "mqtt_session", "simulators")
    bad = [
        f"{p.relative_to(ROOT)} imports {n}"
        for p in sorted((ROOT / "configfile").rglob("*.py"))
        for n in imports(p)
        if n.split(".")[0] in services
    ]
    assert not bad, "\n".join(bad)
