"""The command ledger: ids admitted durably before any device I/O, replays refused, and a clock stepped
back cannot reopen a replay once the id is forgotten (the horizon)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.clock import ManualClock
from edge_agent.commands.ledger import Ledger
from wire.commands import Command, ResultState
from wire.errors import BeforeHorizon, Replayed
from wire.gate import check_command

T0 = 1_767_225_600_000
SKEW_MS = 2_000
GW = "cab-1"


def command(issued_at_ms: int = T0, ttl_ms: int = 10_000, cmd_id: uuid.UUID | None = None) -> Command:
    return Command(
        cmd_id or uuid.uuid4(),
        GW,
        "lum-01",
        "set_level",
        {"level": 40},
        issued_at_ms,
        issued_at_ms + ttl_ms,
        "operator:alice",
        "centre-2026",
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(wall_ms=T0 + 100)


@pytest.fixture
async def ledger(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Ledger]:
    led = await Ledger.open(tmp_path / "commands.db", clock=clock, skew_ms=SKEW_MS)
    yield led
    await led.close()


async def test_an_id_is_admitted_once(ledger: Ledger) -> None:
    cmd = command()
    await ledger.admit(cmd)
    entry = await ledger.get(cmd.id)
    assert entry is not None
    assert entry.state is ResultState.ACCEPTED
    with pytest.raises(Replayed, match=str(cmd.id)):
        await ledger.admit(cmd)
    await ledger.finish(cmd.id, ResultState.DONE)
    with pytest.raises(Replayed, match="done"):  # a finished command is no more runnable than a running one
        await ledger.admit(cmd)


async def test_final_states_only_and_once(ledger: Ledger) -> None:
    cmd = command()
    await ledger.admit(cmd)
    with pytest.raises(ValueError, match="not a final state"):
        await ledger.finish(cmd.id, ResultState.ACCEPTED)
    await ledger.finish(cmd.id, ResultState.FAILED)
    with pytest.raises(KeyError, match="final state already"):
        await ledger.finish(cmd.id, ResultState.DONE)
    with pytest.raises(KeyError, match="not in the ledger"):
        await ledger.finish(uuid.uuid4(), ResultState.DONE)
    assert await ledger.unfinished() == []


def test_an_admitted_id_survives_kill_9_and_is_reported_unfinished(tmp_path: Path) -> None:
    """The process is killed the instant ``admit`` returns, as if the device write came next."""
    path = tmp_path / "commands.db"
    cmd_id = uuid.uuid4()
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, uuid
        from edge_agent.clock import ManualClock
        from edge_agent.commands.ledger import Ledger
        from tests.edge_agent.test_command_ledger import command

        async def main():
            led = await Ledger.open({str(path)!r}, clock=ManualClock(wall_ms={T0 + 100}), skew_ms=0)
            await led.admit(command(cmd_id=uuid.UUID({str(cmd_id)!r})))
            print("admitted", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == -9, done.stderr
    assert done.stdout.strip() == "admitted"

    async def after_restart() -> None:
        led = await Ledger.open(path, clock=ManualClock(wall_ms=T0 + 200), skew_ms=0)
        try:
            unfinished = await led.unfinished()
            assert [e.id for e in unfinished] == [cmd_id]
            assert unfinished[0].state is ResultState.ACCEPTED
            with pytest.raises(Replayed):  # never run again
                await led.admit(command(cmd_id=cmd_id))
            await led.finish(cmd_id, ResultState.FAILED)  # reported "failed: outcome unknown"
            assert await led.unfinished() == []
        finally:
            await led.close()

    asyncio.run(after_restart())


async def test_ids_are_kept_until_expiry_plus_skew(ledger: Ledger, clock: ManualClock) -> None:
    cmd = command(ttl_ms=10_000)
    await ledger.admit(cmd)
    await ledger.finish(cmd.id, ResultState.DONE)
    clock.step_wall(cmd.expires_at_ms + SKEW_MS - clock.now_ms() - 1)  # 1 ms inside the allowance
    assert await ledger.prune() == 0
    with pytest.raises(Replayed):
        await ledger.admit(cmd)
    clock.step_wall(2)
    assert await ledger.prune() == 1
    assert ledger.horizon_ms == cmd.issued_at_ms


async def test_unfinished_commands_are_never_forgotten(ledger: Ledger, clock: ManualClock) -> None:
    cmd = command()
    await ledger.admit(cmd)
    clock.step_wall(3_600_000)
    assert await ledger.prune() == 0
    assert [e.id for e in await ledger.unfinished()] == [cmd.id]


async def test_a_clock_stepped_back_cannot_reopen_a_forgotten_replay(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "commands.db"
    cmd = command(ttl_ms=10_000)
    ledger = await Ledger.open(path, clock=clock, skew_ms=SKEW_MS)
    try:
        await ledger.admit(cmd)
        await ledger.finish(cmd.id, ResultState.DONE)
        clock.step_wall(60_000)
        assert await ledger.prune() == 1  # forgotten

        clock.step_wall(-58_000)  # an NTP correction: the gateway now believes the command still valid
        check_command(cmd, gateway=GW, now_ms=clock.now_ms(), skew_ms=SKEW_MS, max_ttl_ms=60_000)  # passes
        with pytest.raises(BeforeHorizon, match="replay horizon"):
            await ledger.admit(cmd)
    finally:
        await ledger.close()

    again = await Ledger.open(path, clock=clock, skew_ms=SKEW_MS)  # the horizon is durable
    try:
        with pytest.raises(BeforeHorizon):
            await again.admit(cmd)
        fresh = command(issued_at_ms=clock.now_ms())  # a new command after the horizon runs
        await again.admit(fresh)
    finally:
        await again.close()


def test_a_negative_skew_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="skew_ms"):
        asyncio.run(Ledger.open(tmp_path / "c.db", clock=ManualClock(), skew_ms=-1))
