"""OPC-UA config before any I/O: node ids, browse paths, templates and ``repeat``, the shipped profile,
an ``opcua`` bus in the agent's config (errors name the file, the path and the reason), the README's
sample block, and asyncua staying out of every process whose config has no OPC-UA server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from drivers.errors import PointError
from drivers.opcua.config import OpcUaDevice, OpcUaPointSpec, ReadMode, ValueType
from drivers.opcua.nodes import BrowseName, IdKind, NodeRef, parse_node_id, parse_path
from drivers.opcua.resolve import resolve_points
from drivers.profiles.template import fill
from edge_agent.config.load import ConfigError, load_config
from edge_agent.config.model import OpcUaBus
from tests.fixtures.traffic_sim import profile, tlc_device

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "drivers" / "opcua" / "README.md"


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("ns=2;s=Intersection_1/Status/Stage", NodeRef(2, IdKind.STRING, "Intersection_1/Status/Stage")),
        ("i=2258", NodeRef(0, IdKind.NUMERIC, "2258")),
        ("nsu=urn:streetgate:sim-tlc;i=5", NodeRef("urn:streetgate:sim-tlc", IdKind.NUMERIC, "5")),
        (
            "ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a",
            NodeRef(1, IdKind.GUID, "09087e75-8e5e-499b-954f-f2a9603db28a"),
        ),
        ("ns=3;s=with;semicolon", NodeRef(3, IdKind.STRING, "with;semicolon")),
    ],
)
def test_node_ids_parse(text: str, ref: NodeRef) -> None:
    assert parse_node_id(text) == ref
    assert str(parse_node_id(text)) == (text if text.startswith(("ns=", "nsu=")) else f"ns=0;{text}")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Status/Stage", "is not a node id"),
        ("ns=2;x=1", "is not a node id"),
        ("i=abc", "numeric identifier"),
        ("ns=70000;i=1", "namespace index"),
        ("g=not-a-guid", "guid"),
    ],
)
def test_bad_node_ids_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_node_id(text)


def test_browse_paths_parse() -> None:
    assert parse_path("Status/Stage") == (BrowseName("Status"), BrowseName("Stage"))
    assert parse_path("0:Server/0:ServerStatus") == (BrowseName("Server", 0), BrowseName("ServerStatus", 0))
    for bad in ("Status//Stage", "a:b", "Status/"):
        with pytest.raises(ValueError, match="browse path"):
            parse_path(bad)


def test_templates_fill_params_and_nothing_else() -> None:
    assert fill("lum-{sa:02d}", {"sa": 3}) == "lum-03"
    assert fill("Intersection_{id}", {"id": "A7"}) == "Intersection_A7"
    with pytest.raises(ValueError, match=r"uses \{n\}, not a param \(id\)"):
        fill("SG{n}", {"id": 1})
    with pytest.raises(ValueError, match="brace"):
        fill("SG{n.real}", {"n": 1})
    with pytest.raises(ValueError, match="does not format"):
        fill("{id:02d}", {"id": "x"})


def test_a_point_needs_a_node_or_a_path_and_a_fitting_enum() -> None:
    with pytest.raises(ValidationError, match="exactly one of node"):
        OpcUaPointSpec(name="x", node="i=1", path="A/B")
    with pytest.raises(ValidationError, match="exactly one of node"):
        OpcUaPointSpec(name="x")
    with pytest.raises(ValidationError, match="cannot be used with type float"):
        OpcUaPointSpec(name="x", path="A", type=ValueType.FLOAT, enum={0: "off"})
    with pytest.raises(ValidationError, match="given to codes 0 and 1"):
        OpcUaPointSpec(name="x", path="A", enum={0: "off", 1: "off"})


def test_repeat_expands_with_param_bounds_and_duplicates_are_refused() -> None:
    specs = (
        OpcUaPointSpec(name="sg{n}_state", path="SignalGroups/SG{n}/State", repeat={"n": (1, "groups")}),
        OpcUaPointSpec(name="stage", path="Status/Stage", read=ReadMode.POLL, sampling_interval_ms=250),
    )
    points = resolve_points(specs, {"groups": 3}, read=ReadMode.SUBSCRIPTION, namespace="urn:x")
    assert [p.name for p in points] == ["sg1_state", "sg2_state", "sg3_state", "stage"]
    assert points[2].path == (BrowseName("SignalGroups"), BrowseName("SG3"), BrowseName("State"))
    assert (points[0].read, points[3].read, points[3].sampling_interval_ms) == (
        ReadMode.SUBSCRIPTION,
        ReadMode.POLL,
        250,
    )
    with pytest.raises(PointError) as dup:
        resolve_points((*specs, OpcUaPointSpec(name="sg2_state", path="X")), {"groups": 3}, namespace="urn:x")
    assert (dup.value.index, dup.value.field) == (2, "name")
    with pytest.raises(PointError) as nons:
        resolve_points(specs, {"groups": 3})
    assert "no namespace is set" in nons.value.reason
    with pytest.raises(PointError) as bound:
        resolve_points(specs, {}, namespace="urn:x")
    assert bound.value.field == "repeat.n"


def test_the_traffic_controller_profile_resolves_to_its_points() -> None:
    p = profile()
    assert (p.name, p.protocol, p.params) == (
        "traffic-controller",
        "opcua",
        ("id", "signal_groups", "detectors"),
    )
    device = tlc_device(intersection=7)
    names = [pt.name for pt in device.points]
    assert len(names) == 60
    assert names[:7] == [
        "control_mode",
        "functional_position",
        "plan",
        "plan_source",
        "stage",
        "cycle_second",
        "cycle_time",
    ]
    for group in ("sg5_state", "sg5_color", "d4_count", "d4_occupancy", "alarm_a0006", "prio4_state"):
        assert group in names
    assert device.root == (BrowseName("Intersection_7"),)
    assert {pt.read for pt in device.points} == {ReadMode.SUBSCRIPTION}


AGENT = """
gateway: cab-1
site: test
profile_paths: [{profiles}]
buses:
  - name: tlc-bus
    kind: opcua
    endpoint: opc.tcp://127.0.0.1:4840/
    devices:
      - name: tlc-7
        profile: traffic-controller
        params: {{id: 7, signal_groups: 5, detectors: 4}}
        poll_interval_s: 1
        points:
          - {{name: server_time, node: "i=2258", read: poll}}
"""


def agent(tmp_path: Path, text: str = AGENT) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text.format(profiles=ROOT / "configs" / "profiles"))
    return path


def errors(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_an_opcua_bus_resolves_next_to_the_modbus_path(tmp_path: Path) -> None:
    cfg = load_config(agent(tmp_path))
    (bus,) = cfg.buses
    assert bus.link.kind == "opcua"
    (dev,) = cfg.devices
    assert isinstance(dev, OpcUaDevice)
    assert (dev.name, len(dev.points), dev.namespace) == ("tlc-7", 61, "urn:streetgate:sim-tlc")
    assert dev.points[-1].node == NodeRef(0, IdKind.NUMERIC, "2258")
    assert dev.points[-1].read is ReadMode.POLL
    assert bus.link.security == "none"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("endpoint: opc.tcp://127.0.0.1:4840/", "endpoint: http://x"), "agent.yaml: buses[0].endpoint"),
        (
            ("signal_groups: 5, ", ""),
            "buses[0].devices[0].params: profile 'traffic-controller' needs ['signal_groups']",
        ),
        (('node: "i=2258"', 'node: "i=x"'), "buses[0].devices[0] (tlc-7).points[0].node: 'i=x'"),
        (("kind: opcua", "kind: opc_ua"), "'opcua'"),
        (
            ("poll_interval_s: 1", "poll_interval_s: 1\n        scan: 2"),
            "buses[0].devices[0].scan: Extra inputs",
        ),
    ],
)
def test_errors_name_the_file_the_field_and_the_reason(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    assert message in errors(agent(tmp_path, AGENT.replace(*change)))


def test_a_profile_point_error_says_it_comes_from_the_profile(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "tlc.yaml").write_text(
        "name: tlc\nprotocol: opcua\nnamespace: urn:x\nparams: [id]\nroot: 'I_{id}'\npoints:\n"
        "  - {name: ok, path: A}\n  - {name: 'bad_{nope}', path: B}\n"
    )
    text = AGENT.replace("profile: traffic-controller", "profile: tlc").replace(
        "{{id: 7, signal_groups: 5, detectors: 4}}", "{{id: 7}}"
    )
    path = agent(tmp_path, text.replace("profile_paths: [{profiles}]", "profile_paths: [profiles]"))
    assert (
        "buses[0].devices[0] (tlc-7).points[1].name (from profile 'tlc'): 'bad_{nope}' uses {nope}"
        in errors(path)
    )


def test_profiles_are_kept_to_their_protocol(tmp_path: Path) -> None:
    msg = errors(agent(tmp_path, AGENT.replace("profile: traffic-controller", "profile: dali-gw-luminaire")))
    assert "profile 'dali-gw-luminaire' is for modbus, not an OPC-UA device" in msg
    modbus = """
gateway: cab-1
site: test
profile_paths: [{profiles}]
buses:
  - {{name: gw, kind: modbus_tcp, host: 127.0.0.1, devices: [{{name: x, profile: traffic-controller}}]}}
"""
    assert "profile 'traffic-controller' is for opcua, not a Modbus device" in errors(agent(tmp_path, modbus))


def test_certificate_paths_are_relative_to_the_config_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    for name in ("agent.pem", "agent-key.pem"):
        (tmp_path / "pki" / name).write_text("x")
    security = (
        "security: {{policy: Basic256Sha256, mode: Sign, certificate: pki/agent.pem, "
        "private_key: pki/agent-key.pem, server_certificate: pki/server.pem}}"
    )
    text = AGENT.replace("    devices:\n", f"    {security}\n    devices:\n", 1)
    msg = errors(agent(tmp_path, text))
    assert f"buses[0].security.server_certificate: no file {tmp_path / 'pki' / 'server.pem'}" in msg
    (tmp_path / "pki" / "server.pem").write_text("x")
    (bus,) = load_config(agent(tmp_path, text)).buses
    assert isinstance(bus.link, OpcUaBus)
    assert not isinstance(bus.link.security, str)
    assert bus.link.security.certificate == str(tmp_path / "pki" / "agent.pem")
    bad_mode = text.replace("mode: Sign", "mode: Encrypt")
    assert "buses[0].security" in errors(agent(tmp_path, bad_mode))


def test_the_readme_config_block_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1
    config: dict[str, Any] = {
        "gateway": "cab-1",
        "site": "test",
        "profile_paths": [str(ROOT / "configs" / "profiles")],
    }
    config.update(yaml.safe_load(blocks[0]))
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(config))
    (dev,) = load_config(tmp_path / "agent.yaml").devices
    assert (dev.name, len(dev.points), dev.poll_interval_s) == ("tlc-7", 60, 1)


def test_asyncua_is_imported_only_by_a_config_with_an_opcua_bus(tmp_path: Path) -> None:
    script = f"""
import sys
from edge_agent.config.load import load_config
import edge_agent.runtime, drivers.opcua.config, drivers.opcua.codec, simulators.traffic.controller
cfg = load_config({str(agent(tmp_path))!r})
assert "asyncua" not in sys.modules, "config loading imported asyncua"
from edge_agent.poll.build import build_driver
from drivers.scheduler import BusScheduler
(bus,) = cfg.buses
driver = build_driver(bus, BusScheduler(bus.name))
assert "asyncua" in sys.modules and type(driver).__name__ == "OpcUaDriver"
"""
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
