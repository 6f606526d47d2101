"""Commands to luminaires on a DALI line (kind ``dali_serial`` with ``profile: dali-luminaire``): the
config resolves the profile's actions per gear and refuses what cannot work, the executor runs each
action on the simulated Lunatone interface (a real pty) and reads it back, the night floor judges as
for the gateway's luminaires, and the command path takes the gear without mistaking them for traffic
controllers (no central watchdog for them)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from configfile.secrets import write_secret
from drivers.base import Driver
from drivers.dali.curve import arc_to_percent
from drivers.scheduler import BusScheduler
from edge_agent.commands.executor import Executor
from edge_agent.commands.wiring import CommandPath, command_targets
from edge_agent.config.load import load_config
from edge_agent.config.problems import ConfigError
from edge_agent.outbox.store import Outbox
from edge_agent.poll.build import build_driver
from mqtt_session import MqttLink
from simulators.dali.lunatone import DaliSerialSim
from tests.drivers.conftest import PROFILES
from tests.edge_agent.test_executor import DIJON, SimClock
from wire.commands import Command, CommandResult, ResultState
from wire.points import Value
from wire.signing import new_key_texts

DEVICE = (
    "{name: 'lum-{sa}', repeat: {sa: [0, 1]}, short_address: sa, poll_interval_s: 60,"
    " points: [status, level], profile: dali-luminaire, params: {night_floor: 30}}"
)


def write_config(tmp_path: Path, port: str, device: str = DEVICE) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"gateway: cab-dali\nsite: s\nbuffer: {{path: {tmp_path / 'b.db'}}}\nprofile_paths: [{PROFILES}]\n"
        f"buses:\n  - {{name: line-1, kind: dali_serial, port: '{port}', devices: [{device}]}}\n"
    )
    return path


@dataclass
class Line:
    clock: SimClock
    sim: DaliSerialSim
    config: Path
    drivers: list[Driver]

    def executor(self) -> Executor:
        resolved = load_config(self.config)
        targets = command_targets(resolved.buses, self.drivers)
        return Executor(gateway="cab-dali", key_id="k", targets=targets, clock=self.clock, location=DIJON)

    async def run(self, ex: Executor, device: str, action: str, **args: Value) -> CommandResult:
        now = self.clock.now_ms()
        cmd = Command(uuid.uuid4(), "cab-dali", device, action, args, now, now + 30_000, "t", "centre-k")
        return await ex.run(cmd)


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    clock = SimClock()  # 2026-01-01 00:00 UTC: night in Dijon
    async with DaliSerialSim(count=2, now=clock) as sim:
        config = write_config(tmp_path, sim.path)
        (bus,) = load_config(config).buses
        drivers = [build_driver(bus, BusScheduler(bus.name, 0.0))]
        try:
            yield Line(clock, sim, config, drivers)
        finally:
            await drivers[0].aclose()


def read_back(result: CommandResult) -> dict[str, Value]:
    return {r.point: r.value for r in result.read_back}


def test_the_readme_device_with_commands_loads(tmp_path: Path) -> None:
    readme = (PROFILES.parents[1] / "drivers" / "dali" / "README.md").read_text()
    block = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)[1]
    device = json.dumps(yaml.safe_load(block)[0])  # JSON is a YAML flow mapping
    config = load_config(write_config(tmp_path, "/dev/ttyUSB0", device))
    (bus,) = config.buses
    assert [d.name for d in bus.devices] == ["lum-00", "lum-01"]
    assert all(getattr(d, "actions", None) is not None for d in bus.devices)


def test_each_gear_gets_the_profile_actions_with_its_params(line: Line) -> None:
    resolved = load_config(line.config)
    (bus,) = resolved.buses
    for dev in bus.devices:
        actions = getattr(dev, "actions", None)
        assert actions is not None, dev.name
        assert list(actions.actions) == ["set_level", "off", "recall_max", "recall_min"]
        assert actions.methods == {
            "set_level": "DAPC",
            "off": "OFF",
            "recall_max": "RECALL_MAX_LEVEL",
            "recall_min": "RECALL_MIN_LEVEL",
        }
        assert actions.number("night_floor") == 30  # the device's param over the profile's default


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (
            "{name: lum, short_address: 0, points: [status], profile: dali-luminaire}",
            "buses[0].devices[0].points: profile 'dali-luminaire' reads back or interlocks on ['level']",
        ),
        (
            "{name: lum, short_address: 0, points: [level], params: {min_level: 5}}",
            "buses[0].devices[0].params: params are for a profile's actions, and there is no profile",
        ),
        (
            "{name: lum, short_address: 0, points: [level], profile: dali-gw-luminaire}",
            "buses[0].devices[0].profile: profile 'dali-gw-luminaire' is for modbus, not a DALI device",
        ),
    ],
)
def test_a_dali_device_whose_profile_cannot_work_is_refused(
    tmp_path: Path, device: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, "/dev/null", device))
    assert expected in str(info.value), str(info.value)


async def test_every_action_runs_on_the_gear_and_reads_back(line: Line) -> None:
    ex = line.executor()
    gear = line.sim.gear(1).luminaire
    done = await line.run(ex, "lum-1", "set_level", level=60)
    assert done.state is ResultState.DONE, done.reason
    level = read_back(done)["level"]
    assert isinstance(level, float)
    assert abs(level - 60) <= 1.5
    done = await line.run(ex, "lum-1", "recall_max")
    assert done.state is ResultState.DONE, done.reason
    assert read_back(done) == {"level": arc_to_percent(gear.settings.max_level)}
    done = await line.run(ex, "lum-1", "recall_min", below_floor=True)
    assert done.state is ResultState.DONE, done.reason
    assert read_back(done) == {"level": round(arc_to_percent(gear.settings.min_level), 3)}
    done = await line.run(ex, "lum-1", "off", below_floor=True)
    assert done.state is ResultState.DONE, done.reason
    assert read_back(done) == {"level": 0.0}
    assert gear.state().target_arc == 0
    assert line.sim.gear(0).luminaire.state().target_arc == gear.settings.power_on  # not the other gear


async def test_at_night_the_floor_refuses_before_the_line(line: Line) -> None:
    ex = line.executor()
    sent = len(line.sim.frames)
    low = await line.run(ex, "lum-0", "set_level", level=20)  # the device's floor is 30
    off = await line.run(ex, "lum-0", "off")
    assert low.state is ResultState.REFUSED
    assert str(low.reason).startswith("interlock 'night_floor': level 20")
    assert off.state is ResultState.REFUSED
    assert "night_floor_off" in str(off.reason)
    assert [f.command for f in line.sim.frames[sent:] if f.command in ("DAPC", "Off")] == []  # only reads


async def test_the_command_path_takes_the_gear_and_feeds_no_watchdog(line: Line, tmp_path: Path) -> None:
    private, _ = new_key_texts("cab-dali-k")
    write_secret(tmp_path / "cab.key", private)
    centre_public = new_key_texts("centre-k")[1].split(": ", 1)[1]
    with line.config.open("a") as f:
        f.write(
            f"commands:\n  key_id: cab-dali-k\n  key_file: cab.key\n  ledger: {tmp_path / 'ledger.db'}\n"
            f'  centre_keys: {{centre-k: "{centre_public}"}}\n'
        )
    outbox = await Outbox.open(tmp_path / "outbox.db", gateway="cab-dali", clock=line.clock, max_messages=10)
    path = await CommandPath.build(
        load_config(line.config),
        link=MqttLink(client_id="unused", host="127.0.0.1", port=1),
        results=outbox,
        drivers=line.drivers,
        last_heard=line.clock.monotonic,
        clock=line.clock,
    )
    try:
        assert path is not None
        assert path.executor.devices == ("lum-0", "lum-1")
        assert path.feeder is None  # a DALI gear is not a traffic controller: no Heartbeat for it
    finally:
        if path is not None:
            await path.close()
        await outbox.close()
