"""Every action of every profile, round trip: ``collector command send --wait`` (the CLI, a subprocess)
signs and sends, the real agent runtime (built from a config with ``commands:``) runs it through a real
Mosquitto on the simulators — the luminaire bank (Modbus TCP), a bollard site (Modbus TCP), a lighting
cabinet's contactor (Modbus TCP, not wired to the bank here: the lamps keep their mains), a traffic
controller (OPC-UA), a DALI line (the Lunatone serial interface on a pty) — its results come back
through the agent's outbox, and ``collector command show`` has the final state ``done`` with the
read-back values that prove it.

One stand for all actions; the devices' sequences run side by side (each device runs one command at a
time, in its order: a raise needs the site lowered first, a reset needs a fault). The simulators are set
to move fast (bollard travel 3 s, a signal cycle of 6 s, no fade) and the profiles copied with settle
times to match. The list of actions comes from the profiles: an action declared without a round trip
here fails the test, and so does a profile with actions that no device of the stand uses.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from collector.config import load_config as load_collector_config
from collector.sinks import open_sink
from drivers.profiles.model import parse_profile
from edge_agent.config.load import load_config
from edge_agent.runtime import Agent
from harness.broker import Broker
from harness.commands import profiles_with_short_settle, write_command_keys
from harness.stack import BIN
from simulators.bollard.codes import FaultCode, Logic, SiteSettings
from simulators.bollard.server import BollardSiteServer
from simulators.contactor.server import CabinetServer
from simulators.dali.lunatone import DaliSerialSim
from simulators.luminaire.bank import LuminaireBankServer
from simulators.traffic.controller import TrafficController
from simulators.traffic.plan import Intersection, Plan, SignalGroup, Stage, default_intersection
from simulators.traffic.server import TrafficControllerServer
from tests.collector.harness import running
from tests.drivers.conftest import PROFILES
from wire.points import Value

SITE, GW = "e2e", "cab-every"
SECURITY_CODE = "4711"
SETTLE_CAPS = {  # seconds, against the fast simulators below
    "dali-gw-luminaire": 0.5,  # no fade
    "dali-luminaire": 0.5,
    "cabinet-contactor": 0.5,
    "bollard-site": 5.0,  # travel 3 s, pre-warning 0.5 s
    "traffic-controller": 8.0,  # cycles of 6 and 7 s: a plan changes at the next cycle point
}

Check = Callable[[Mapping[str, Value]], str | None]  # the read-back -> what is wrong, or None


def near(point: str, wanted: float, tolerance: float) -> Check:
    def check(rb: Mapping[str, Value]) -> str | None:
        got = rb.get(point)
        ok = isinstance(got, int | float) and not isinstance(got, bool) and abs(got - wanted) <= tolerance
        return None if ok else f"{point} read back {got!r}, expected {wanted} ± {tolerance}"

    return check


def equal(**wanted: Value) -> Check:
    def check(rb: Mapping[str, Value]) -> str | None:
        got = {k: rb.get(k) for k in wanted}
        return None if got == wanted else f"read back {got}, expected {wanted}"

    return check


@dataclass(frozen=True)
class Step:
    action: str
    args: Mapping[str, Value] = field(default_factory=dict)
    check: Check | None = None  # None: the action declares no read-back
    before: Callable[[], None] | None = None  # done to the simulator first (a fault injected)


@dataclass
class Outcome:
    device: str
    step: Step
    problems: list[str]


def fast_intersection() -> Intersection:
    """The default crossroads (5 signal groups, 3 stages, 4 detectors) with short times: 6 s cycles."""
    ix = default_intersection()
    groups = tuple(
        SignalGroup(g.number, min_green_s=1.0, amber_s=0.0 if g.amber_s == 0 else 0.5, red_clear_s=0.5)
        for g in ix.groups
    )
    stages = tuple(Stage(s.number, s.groups) for s in ix.stages)
    return Intersection(groups, stages, ix.detectors, startup_flash_s=0.5, startup_red_s=0.5)


@dataclass(frozen=True)
class Ports:
    broker: int
    lamps: int
    site: int
    tlc: str  # the OPC-UA endpoint
    dali: str  # the DALI interface's serial port
    cabinet: int


def agent_yaml(work: Path, profiles: Path, at: Ports, section: str) -> Path:
    path = work / "agent.yaml"
    path.write_text(
        f"""gateway: {GW}
site: {SITE}
broker: {{host: 127.0.0.1, port: {at.broker}}}
buffer: {{path: {work / "buffer.db"}, commit_interval_s: 0.05}}
status_socket: {work / "agent.sock"}
profile_paths: [{profiles}]
secrets: {{security_code: "{SECURITY_CODE}"}}
buses:
  - name: dali-gw
    kind: modbus_tcp
    host: 127.0.0.1
    port: {at.lamps}
    timeout_s: 1.0
    devices:
      - {{name: lum-00, profile: dali-gw-luminaire, poll_interval_s: 5, params: {{c: 0, sa: 0}}}}
  - name: access
    kind: modbus_tcp
    host: 127.0.0.1
    port: {at.site}
    timeout_s: 1.0
    devices:
      - {{name: site-1, profile: bollard-site, unit: 1, poll_interval_s: 5}}
  - name: cabinet
    kind: modbus_tcp
    host: 127.0.0.1
    port: {at.cabinet}
    timeout_s: 1.0
    devices:
      - {{name: cab-1, profile: cabinet-contactor, poll_interval_s: 5}}
  - name: tlc-bus
    kind: opcua
    endpoint: {at.tlc}
    timeout_s: 2.0
    devices:
      - {{name: tlc-1, profile: traffic-controller, params: {{id: 1, signal_groups: 5, detectors: 4}}}}
  - name: dali-line
    kind: dali_serial
    port: {at.dali}
    devices:
      - {{name: dali-00, short_address: 0, points: [status, level], profile: dali-luminaire}}
{section}"""
    )
    return path


def plan(site: BollardSiteServer) -> dict[str, list[Step]]:
    """Each device's actions in an order where each is legal, with what its read-back must show."""

    def thermal_trip_gone() -> None:  # a fault that stays until reset once its cause is gone
        site.site.set_bollard(0, thermal=True)
        site.site.set_bollard(0, thermal=False)
        fault = site.site.reading().fault
        assert fault is FaultCode.THERMAL, f"the injected fault did not latch: {fault!r}"

    bus: dict[str, Value] = {"type": "new", "request_id": "bus-42", "signal_group": 3, "eta_s": 20}
    bus["vehicle_type"] = "bus"
    return {
        "lum-00": [
            Step("set_level", {"level": 60}, near("level", 60, 1)),
            Step("recall_max", {}, near("level", 100, 1)),
            # off and recall_min go below the night floor after sunset: the signed override says so
            Step("recall_min", {"below_floor": True}, near("level", 1, 1)),
            Step("off", {"below_floor": True}, equal(level=0)),
        ],
        "dali-00": [
            Step("set_level", {"level": 60}, near("level", 60, 1.5)),  # within half an arc step
            Step("recall_max", {}, near("level", 100, 0.01)),
            Step("recall_min", {"below_floor": True}, near("level", 1, 0.02)),  # the gear's MIN: arc 85
            Step("off", {"below_floor": True}, equal(level=0.0)),
        ],
        "cab-1": [
            Step("switch", {"on": True}, equal(output=True)),
            Step("switch", {"on": False}, equal(output=False)),
        ],
        "site-1": [
            Step("lower", {}, equal(state="down", command_result="ok")),
            Step("raise", {}, equal(state="up", command_result="ok")),
            Step("hold_down", {"seconds": 0}, equal(state="down", command_result="ok")),
            Step("release_hold", {}, equal(command_result="ok")),
            Step("emergency_lower", {}, equal(state="emergency_down", command_result="ok")),
            Step("reset_fault", {}, equal(fault_code="none", command_result="ok"), before=thermal_trip_gone),
        ],
        "tlc-1": [
            Step("request_bus_priority", bus),  # no read-back: the request's state is checked below
            Step("set_time_plan", {"plan": 2}, equal(plan=2, plan_source="forced")),
            Step(
                "set_functional_position",
                {"position": "yellow_flash", "timeout_min": 1},
                equal(functional_position="yellow_flash"),
            ),
        ],
    }


def declared_actions(agent_config: Path) -> dict[str, set[str]]:
    """device -> the actions its profile declares, as the agent loaded them."""
    resolved = load_config(agent_config)
    out: dict[str, set[str]] = {}
    for bus in resolved.buses:
        for dev in bus.devices:
            actions = getattr(dev, "actions", None)
            if actions is not None:
                out[dev.name] = set(actions.actions)
    return out


def profiles_used(agent_config: Path) -> set[str]:
    raw = yaml.safe_load(agent_config.read_text(encoding="utf-8"))
    return {d["profile"] for bus in raw["buses"] for d in bus["devices"] if "profile" in d}


def profiles_with_actions() -> set[str]:
    names = set()
    for path in sorted(PROFILES.glob("*.yaml")):
        profile = parse_profile(yaml.safe_load(path.read_text(encoding="utf-8")))
        if profile.actions:
            names.add(profile.name)
    return names


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "collector"), *argv], capture_output=True, text=True, check=False, timeout=90
    )


async def round_trip(collector_yaml: Path, device: str, step: Step) -> list[str]:
    """Send one command with --wait; what is wrong with its audit (empty: done and proven)."""
    if step.before is not None:
        step.before()
    argv = ["command", "send", "-c", str(collector_yaml), "-g", GW, "-d", device, "-a", step.action]
    for name, value in step.args.items():
        argv += ["--arg", f"{name}={json.dumps(value) if isinstance(value, bool) else value}"]
    sent = await asyncio.to_thread(cli, *argv, "--expires", "25s", "--wait")
    if sent.returncode != 0:
        return [f"send --wait exited {sent.returncode}: {sent.stdout.strip()} {sent.stderr.strip()}"]
    command_id = json.loads(sent.stdout.strip().splitlines()[0])["id"]
    shown = await asyncio.to_thread(cli, "command", "show", command_id, "-c", str(collector_yaml))
    if shown.returncode != 0:
        return [f"command show exited {shown.returncode}: {shown.stderr.strip()}"]
    audit: dict[str, Any] = json.loads(shown.stdout)
    states = [s["state"] for s in audit["states"]]
    if audit["status"] != "done" or states != ["accepted", "done"]:
        return [f"status {audit['status']!r}, states {states}: {audit['states'][-1].get('reason')}"]
    read_back = {r["point"]: r["value"] for r in audit["states"][-1]["read_back"]}
    if step.check is None:
        return [f"read back {read_back}, the action declares none"] if read_back else []
    problem = step.check(read_back)
    return [problem] if problem else []


async def run_device(collector_yaml: Path, device: str, steps: list[Step]) -> list[Outcome]:
    return [Outcome(device, s, await round_trip(collector_yaml, device, s)) for s in steps]


async def test_every_declared_action_round_trips_to_done_in_the_audit(broker: Broker, tmp_path: Path) -> None:
    keys = write_command_keys(tmp_path, gateway=GW, site=SITE)
    profiles = profiles_with_short_settle(PROFILES, tmp_path / "profiles", SETTLE_CAPS)
    plans = {1: Plan(1, (1.0, 1.0, 1.0)), 2: Plan(2, (2.0, 1.0, 1.0))}
    model = TrafficController(fast_intersection(), plans, security_code=SECURITY_CODE)
    fast = SiteSettings(rise_s=3.0, lower_s=3.0, prewarn_s=0.5, travel_timeout_s=8.0)
    async with (
        LuminaireBankServer(count=1) as lamps,
        BollardSiteServer(settings=fast, logic=Logic.SEMI_AUTOMATIC) as site,
        TrafficControllerServer(model, port=0, refresh_s=0.05) as tlc,
        DaliSerialSim(count=1) as dali,
        CabinetServer() as cabinet,
    ):
        ports = Ports(broker.port, lamps.port, site.port, tlc.endpoint, dali.path, cabinet.port)
        config = agent_yaml(tmp_path, profiles, ports, keys.agent_section)
        collector_yaml = tmp_path / "collector.yaml"
        collector_yaml.write_text(
            f"collector_id: centre-every\nbroker: {{host: 127.0.0.1, port: {broker.port}, keepalive_s: 10}}\n"
            f"subscription: {{site: {SITE}}}\nstore: {{url: 'sqlite:///store/collector.db'}}\n"
            + keys.collector_section
        )
        steps = plan(site)
        declared = declared_actions(config)
        unused = profiles_with_actions() - profiles_used(config)
        assert not unused, f"profiles with actions that no device of this stand uses: {sorted(unused)}"
        covered = {(d, s.action) for d, per_device in steps.items() for s in per_device}
        missing = sorted((d, a) for d, acts in declared.items() for a in acts if (d, a) not in covered)
        assert not missing, f"declared actions without a round trip: {missing}"
        collector_config = load_collector_config(collector_yaml)
        sink = await open_sink(collector_config.store.url)
        agent = await Agent.build(load_config(config))
        stop = asyncio.Event()
        try:
            async with running(collector_config, sink):
                runner = asyncio.create_task(agent.run(stop))
                try:
                    await asyncio.wait_for(agent.link.subscribed.wait(), 10)
                    done = await asyncio.gather(*(run_device(collector_yaml, d, s) for d, s in steps.items()))
                finally:
                    stop.set()
                    await asyncio.wait_for(runner, 20)
        finally:
            await sink.close()
        request = model.request("bus-42")
    outcomes = [o for per_device in done for o in per_device]
    failures = [f"{o.device} {o.step.action}: {'; '.join(o.problems)}" for o in outcomes if o.problems]
    assert not failures, "\n".join(failures)
    assert {(o.device, o.step.action) for o in outcomes} == {
        (d, a) for d, acts in declared.items() for a in acts
    }
    assert (request.signal_group, request.vehicle_type, request.level) == (3, 0, 7)  # the bus's request
