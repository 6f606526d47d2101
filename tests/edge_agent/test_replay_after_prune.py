"""A replay after the ledger forgot the command's id: the receiver, the real ledger and the real executor
against the luminaire simulator (a Modbus server with a write log), on one clock the test steps.

Once the id is pruned (after its expiry), a replay is ``expired``; with the gateway's wall clock stepped
back so that the command looks valid again, the ledger's horizon refuses it. Either way the gear's
write log shows the one write of the first run, and nothing more."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from drivers.base import Driver
from drivers.scheduler import BusScheduler
from edge_agent.commands.executor import Executor
from edge_agent.commands.ledger import Ledger
from edge_agent.commands.receiver import Receiver
from edge_agent.commands.targets import Location
from edge_agent.commands.wiring import command_targets
from edge_agent.config.load import load_config
from edge_agent.poll.build import build_driver
from simulators.luminaire.bank import LuminaireBankServer
from tests.drivers.conftest import PROFILES
from wire.commands import Command, CommandResult, ResultState
from wire.signing import KeyRing, Signer, generate_key_pair

T0 = 1_767_268_800_000  # 2026-01-01 12:00 UTC: day in Dijon (no night floor in the way)
CENTRE, GATEWAY = generate_key_pair(), generate_key_pair()


class SteppedClock:
    """Wall and monotonic time; a sleep moves both on (the executor's settle), ``step_wall`` only the wall."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.wall_offset_ms = T0 - 1_000_000

    def __call__(self) -> float:
        return self.t

    def now_ms(self) -> int:
        return self.wall_offset_ms + round(self.t * 1000)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0.01)


class Results:
    def __init__(self) -> None:
        self.results: list[CommandResult] = []

    def refusal(self) -> str | None:
        return None

    async def put_result(self, payload: bytes) -> None:
        self.results.append(KeyRing({"gw-k": GATEWAY.public}).verify_result(payload))


async def test_a_replay_after_its_id_was_pruned_never_touches_the_gear(tmp_path: Path) -> None:
    clock = SteppedClock()
    async with LuminaireBankServer("127.0.0.1", 0, count=1, now=clock) as lamps:
        config = tmp_path / "agent.yaml"
        config.write_text(
            f"gateway: gw\nsite: s\nprofile_paths: [{PROFILES}]\nbuses:\n"
            f"  - {{name: dali-gw, kind: modbus_tcp, host: 127.0.0.1, port: {lamps.port}, timeout_s: 1.0,\n"
            "     devices: [{name: lum-00, profile: dali-gw-luminaire, params: {c: 0, sa: 0}}]}\n"
        )
        resolved = load_config(config)
        drivers: list[Driver] = [build_driver(b, BusScheduler(b.name)) for b in resolved.buses]
        ledger = await Ledger.open(tmp_path / "commands.db", clock=clock, skew_ms=2000)
        try:
            executor = Executor(gateway="gw", key_id="gw-k", targets=command_targets(resolved.buses, drivers),
                                clock=clock, location=Location(47.32, 5.04))  # fmt: skip
            results = Results()
            rx = Receiver(gateway="gw", ring=KeyRing({"centre-k": CENTRE.public}),
                          signer=Signer("gw-k", GATEWAY.private), ledger=ledger, runner=executor,
                          results=results, clock=clock, skew_ms=2000)  # fmt: skip
            now = clock.now_ms()
            cmd = Command(uuid.uuid4(), "gw", "lum-00", "set_level", {"level": 60}, now, now + 30_000, "op",
                          "centre-k")  # fmt: skip
            payload = Signer("centre-k", CENTRE.private).seal_command(cmd)
            await rx.handle(payload)
            await rx.idle()
            assert [r.state for r in results.results] == [ResultState.ACCEPTED, ResultState.DONE]
            writes = list(lamps.writes)
            assert len(writes) == 1

            clock.t += 60  # past the expiry and the skew: the ledger may forget the id
            assert await ledger.prune() == 1
            await rx.handle(payload)  # replayed now: its expiry passed
            await rx.idle()
            assert results.results[-1].state is ResultState.EXPIRED

            clock.wall_offset_ms -= 60_000  # the gateway's clock steps back a minute: it looks valid again
            await rx.handle(payload)
            await rx.idle()
            refused = results.results[-1]
            assert refused.state is ResultState.REFUSED
            assert "horizon" in (refused.reason or "")
            assert lamps.writes == writes  # the gear was written once, by the first run only
        finally:
            await ledger.close()
            for d in drivers:
                await d.aclose()
