from __future__ import annotations

from pathlib import Path

import pytest

from drivers.modbus.config import ModbusDevice
from edge_agent.config.load import ConfigError, load_config

BASE = """
gateway: cab-1
site: test
buses:
  - name: bus-1
    kind: modbus_tcp
    host: 127.0.0.1
    port: 5020
    devices:
      - name: meter
        unit: 3
        poll_interval_s: 2
        points:
          - {name: voltage, register: 10, type: uint16, scale: 0.1, unit: V}
          - {name: energy, register: 12, type: uint32, word_order: little}
"""


def write(tmp_path: Path, text: str, name: str = "agent.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def errors(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return str(info.value)


def test_minimal_config_resolves(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    (dev,) = cfg.devices
    assert isinstance(dev, ModbusDevice)
    assert dev.name == "meter"
    assert dev.unit == 3
    assert [p.address for p in dev.points] == [10, 12]
    assert dev.points[1].word_order.value == "little"
    assert cfg.buffer_path.is_absolute()


def test_error_names_file_path_and_reason(tmp_path: Path) -> None:
    text = BASE.replace("register: 12, type: uint32", "register: 9, type: uint32")
    msg = errors(tmp_path, text)
    assert "agent.yaml" in msg
    assert "buses[0].devices[0] (meter).points[1].register" in msg
    assert "overlaps voltage" in msg


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (("port: 5020", "port: seventy"), "buses[0].port", "integer"),
        (("unit: 3", "unit: 300"), "buses[0].devices[0].unit", "less than or equal to 247"),
        (("type: uint16", "type: uint17"), "buses[0].devices[0].points[0].type", "uint16"),
        (("scale: 0.1", "scael: 0.1"), "buses[0].devices[0].points[0].scael", "Extra inputs"),
        (("gateway: cab-1", "gateway: cab/1"), "gateway", "letters, digits"),
        (("kind: modbus_tcp", "kind: carrier_pigeon"), "buses[0]", "modbus_tcp"),
    ],
)
def test_field_errors(tmp_path: Path, change: tuple[str, str], where: str, reason: str) -> None:
    msg = errors(tmp_path, BASE.replace(*change))
    assert f"agent.yaml: {where}" in msg
    assert reason in msg


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    msg = errors(tmp_path, BASE.replace("site: test", "site: [test"))
    assert "agent.yaml:" in msg
    assert "YAML syntax error" in msg


def test_not_a_mapping(tmp_path: Path) -> None:
    assert "top level must be a mapping" in errors(tmp_path, "- just\n- a list\n")


def test_missing_profile_and_bad_expression(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "lamp.yaml").write_text(
        "name: lamp\nparams: [sa]\npoints:\n  - {name: level, register: '100*sa + 6'}\n"
        "  - {name: power, register: '100*sa + 7 + zz', type: uint32}\n"
    )
    text = BASE.replace(
        "        points:\n          - {name: voltage, register: 10, type: uint16, scale: 0.1, unit: V}\n"
        "          - {name: energy, register: 12, type: uint32, word_order: little}\n",
        "        profile: lamp\n        params: {sa: 2}\n",
    )
    msg = errors(tmp_path, text)
    assert "buses[0].devices[0] (meter).points[1].register (from profile 'lamp')" in msg
    assert "'zz'" in msg
    msg = errors(tmp_path, text.replace("profile: lamp", "profile: lampe"))
    assert "buses[0].devices[0].profile: no profile 'lampe'" in msg


def test_repeat_expands_devices_and_duplicates_are_refused(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "lamp.yaml").write_text(
        "name: lamp\nparams: [sa]\npoints:\n  - {name: level, register: '100*sa + 6'}\n"
    )
    text = BASE.replace(
        "      - name: meter\n        unit: 3\n        poll_interval_s: 2\n        points:\n"
        "          - {name: voltage, register: 10, type: uint16, scale: 0.1, unit: V}\n"
        "          - {name: energy, register: 12, type: uint32, word_order: little}\n",
        "      - {name: 'lum-{sa:02d}', profile: lamp, repeat: {sa: [0, 4]}}\n"
        "      - {name: lum-03, profile: lamp, params: {sa: 9}}\n",
    )
    msg = errors(tmp_path, text)
    assert "buses[0].devices[1].name: device 'lum-03' is also buses[0].devices[0]" in msg
    cfg = load_config(write(tmp_path, text.replace("name: lum-03,", "name: lum-x,")))
    assert [d.name for d in cfg.devices] == ["lum-00", "lum-01", "lum-02", "lum-03", "lum-04", "lum-x"]
    assert [d.points[0].address for d in cfg.devices if isinstance(d, ModbusDevice)] == [
        6,
        106,
        206,
        306,
        406,
        906,
    ]


def test_example_configs_load() -> None:
    """Every shipped agent config (each example but the collector's) loads and has devices."""
    root = Path(__file__).resolve().parents[2] / "configs"
    paths = sorted(p for p in root.glob("*.example.yaml") if p.name != "collector.example.yaml")
    assert [p.name for p in paths] == [
        "agent.example.yaml",
        "dali-serial.example.yaml",
        "modbus-rtu.example.yaml",
        "opcua.example.yaml",
    ]
    for path in paths:
        cfg = load_config(path)
        assert cfg.devices, path


def test_report_rules_resolve_first_match(tmp_path: Path) -> None:
    text = BASE + (
        "report:\n"
        "  - {devices: 'met*', points: [volt*], deadband: 0.5, max_interval_s: 600}\n"
        "  - {points: ['*'], deadband_percent: 2}\n"
    )
    specs = load_config(write(tmp_path, text)).report_specs()
    assert specs[("meter", "voltage")].deadband == 0.5
    assert specs[("meter", "voltage")].max_interval_s == 600
    assert specs[("meter", "energy")].deadband_percent == 2
    msg = errors(tmp_path, text.replace("deadband_percent: 2", "deadband_percent: 2, deadband: 1"))
    assert "report[1]" in msg
    assert "not both" in msg


def test_the_outbox_file_sits_beside_the_buffer_unless_configured(tmp_path: Path) -> None:
    default = load_config(write(tmp_path, BASE + "buffer: {path: var/buffer.db}\n"))
    assert default.outbox_file == (tmp_path / "var" / "outbox.db").resolve()
    assert default.config.outbox.max_messages == 500
    own = load_config(
        write(tmp_path, BASE + "outbox: {path: box/o.db, max_messages: 20, confirm_timeout_s: 5}\n")
    )
    assert own.outbox_file == (tmp_path / "box" / "o.db").resolve()
    assert (own.config.outbox.max_messages, own.config.outbox.confirm_timeout_s) == (20, 5)


@pytest.mark.parametrize(
    ("block", "where"),
    [
        ("outbox: {max_messages: 0}", "outbox.max_messages"),
        ("outbox: {confirm_timeout_s: 0}", "outbox.confirm_timeout_s"),
        ("outbox: {size: 3}", "outbox.size"),
        ("buffer: {path: same.db}\noutbox: {path: same.db}", "outbox.path: must not be buffer.path"),
    ],
)
def test_a_bad_outbox_block_is_refused_naming_the_field(tmp_path: Path, block: str, where: str) -> None:
    assert where in errors(tmp_path, BASE + block + "\n")
