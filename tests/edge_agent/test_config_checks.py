"""What the agent's config check refuses that an older one let through: a key given twice (in the config
or in a profile), a device name used on two buses of different kinds, a point that no request of its bus
can carry (``edge-agent run`` refused it at start-up; ``check-config`` passed it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_agent.cli.main import app
from edge_agent.config.load import ConfigError, load_config
from tests.edge_agent.test_config import BASE, write

runner = CliRunner()


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_a_key_given_twice_in_the_config_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("site: test\n", "site: test\nsite: other\n"))
    assert refused(path) == f"{path}:4:1: duplicate key 'site' (first at line 3)"
    nested = write(tmp_path, BASE.replace("        unit: 3\n", "        unit: 3\n        unit: 4\n"))
    assert refused(nested) == f"{nested}:12:9: duplicate key 'unit' (first at line 11)"


def test_a_key_given_twice_in_a_profile_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    profile = tmp_path / "profiles" / "lamp.yaml"
    profile.write_text("name: lamp\npoints:\n  - name: level\n    register: 6\n    register: 7\n")
    text = BASE.replace(
        "        points:\n          - {name: voltage, register: 10, type: uint16, scale: 0.1, unit: V}\n"
        "          - {name: energy, register: 12, type: uint32, word_order: little}\n",
        "        profile: lamp\n",
    )
    message = refused(write(tmp_path, text))
    assert f"{profile}:5:5: duplicate key 'register' (first at line 4)" in message


def test_a_device_name_is_unique_across_buses_of_every_kind(tmp_path: Path) -> None:
    dali = (
        "  - name: line-1\n    kind: dali_serial\n    port: /dev/ttyUSB9\n    devices:\n"
        "      - {name: 'lum-{sa}', repeat: {sa: [0, 1]}, short_address: sa, points: [level]}\n"
        "      - {name: meter, short_address: 5, points: [level]}\n"
        "      - {name: lum-1, short_address: 6, points: [level]}\n"
    )
    message = refused(write(tmp_path, BASE + dali))
    assert message.splitlines() == [
        f"{tmp_path / 'agent.yaml'}: buses[1].devices[1].name: device 'meter' is also buses[0].devices[0]",
        f"{tmp_path / 'agent.yaml'}: buses[1].devices[2].name: device 'lum-1' is also buses[1].devices[0]",
    ]


def test_check_config_refuses_a_point_no_request_of_its_bus_can_carry(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("    port: 5020\n", "    port: 5020\n    max_registers: 1\n"))
    r = runner.invoke(app, ["check-config", str(path)])
    assert r.exit_code == 2
    assert (
        "buses[0].devices[0] (meter).points: energy: 2 registers do not fit a request of at most 1"
        in r.output
    )
    r = runner.invoke(app, ["check-config", str(write(tmp_path, BASE))])
    assert r.exit_code == 0, r.output
