"""The gateway's checks on a command, in order, before anything runs: authenticity (no result when it
fails), gateway/expiry/TTL (a signed refusal), the outbox's room, the ledger (no second result for a
replay, also after a restart), then ``accepted`` and the runner's final result, signed by the gateway.

The runner and the outbox are stand-ins that record what they are given (the executor and the outbox
are built separately); the ledger, the signatures and, in the last test, the broker are real."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.clock import ManualClock
from edge_agent.commands.ledger import Ledger
from edge_agent.commands.receiver import OUTCOME_UNKNOWN, Receiver
from edge_agent.counters import Counter
from harness.broker import Broker
from mqtt_session import MqttLink
from wire import topics
from wire.commands import Command, CommandResult, ResultState
from wire.errors import Refusal
from wire.signing import KeyRing, Signer, generate_key_pair

T0 = 1_767_225_600_000
GW = "cab-1"
CENTRE = generate_key_pair()
OTHER = generate_key_pair()
GATEWAY_KEY = generate_key_pair()
CENTRE_SIGNER = Signer("centre-2027", CENTRE.private)
RING = KeyRing({"centre-2027": CENTRE.public, "centre-old": OTHER.public}, revoked=["centre-old"])
GATEWAY_RING = KeyRing({"cab-1": GATEWAY_KEY.public})


class RecordingRunner:
    def __init__(self) -> None:
        self.ran: list[Command] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    def max_ttl_ms(self, device: str, action: str) -> int:
        if action == "nonsense":
            raise Refusal(f"{device} has no action {action!r}")
        return 60_000

    async def run(self, cmd: Command) -> CommandResult:
        self.ran.append(cmd)
        self.started.set()
        await self.release.wait()
        return CommandResult(cmd.id, GW, ResultState.DONE, T0, "cab-1")


class RecordingOutbox:
    def __init__(self) -> None:
        self.results: list[CommandResult] = []
        self.full: str | None = None
        self.arrived = asyncio.Event()

    def refusal(self) -> str | None:
        return self.full

    async def put_result(self, payload: bytes) -> None:
        self.results.append(GATEWAY_RING.verify_result(payload))  # signed by the gateway's own key
        self.arrived.set()

    def states(self) -> list[ResultState]:
        return [r.state for r in self.results]


def command(
    *,
    gateway: str = GW,
    issued: int = T0,
    ttl_ms: int = 30_000,
    action: str = "set_level",
    key_id: str = "centre-2027",
) -> Command:
    return Command(
        uuid.uuid4(), gateway, "lum-01", action, {"level": 40}, issued, issued + ttl_ms, "op", key_id
    )


def signed(cmd: Command, signer: Signer = CENTRE_SIGNER) -> bytes:
    return signer.seal_command(cmd)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    led = await Ledger.open(tmp_path / "commands.db", clock=ManualClock(wall_ms=T0 + 1000), skew_ms=2000)
    yield led
    await led.close()


def receiver(
    ledger: Ledger, runner: RecordingRunner, outbox: RecordingOutbox, now_ms: int = T0 + 1000
) -> Receiver:
    return Receiver(
        gateway=GW,
        ring=RING,
        signer=Signer("cab-1", GATEWAY_KEY.private),
        ledger=ledger,
        runner=runner,
        results=outbox,
        clock=ManualClock(wall_ms=now_ms),
        skew_ms=2000,
    )


async def settle(rx: Receiver) -> None:
    """Until the commands the receiver started have their final results."""
    async with asyncio.timeout(5):
        await rx.idle()


async def test_an_authentic_command_is_accepted_run_once_and_reported(ledger: Ledger) -> None:
    runner, outbox = RecordingRunner(), RecordingOutbox()
    rx = receiver(ledger, runner, outbox)
    cmd = command()
    await rx.handle(signed(cmd))
    await settle(rx)
    assert [c.id for c in runner.ran] == [cmd.id]
    assert outbox.states() == [ResultState.ACCEPTED, ResultState.DONE]
    assert {r.command_id for r in outbox.results} == {cmd.id}
    entry = await ledger.get(cmd.id)
    assert entry is not None
    assert entry.state is ResultState.DONE


@pytest.mark.parametrize(
    ("key_id", "private", "damage"),
    [
        pytest.param("centre-2027", OTHER.private, None, id="forged-signature"),
        pytest.param("centre-x", OTHER.private, None, id="unknown-key"),
        pytest.param("centre-old", OTHER.private, None, id="revoked-key"),
        pytest.param("centre-2027", CENTRE.private, "tamper", id="tampered-bytes"),
        pytest.param("centre-2027", CENTRE.private, "garbage", id="not-an-envelope"),
    ],
)
async def test_what_is_not_authentic_gets_no_result_and_never_runs(
    ledger: Ledger, key_id: str, private: bytes, damage: str | None
) -> None:
    runner, outbox = RecordingRunner(), RecordingOutbox()
    rx = receiver(ledger, runner, outbox)
    cmd = command(key_id=key_id)
    raw = signed(cmd, Signer(key_id, private))
    if damage == "tamper":
        raw = raw.replace(b"set_level", b"set_lever")
    elif damage == "garbage":
        raw = b"\x81\xa1v\x01"
    await rx.handle(raw)
    await settle(rx)
    assert runner.ran == []
    assert outbox.results == []
    assert rx.counters[Counter.COMMANDS_UNAUTHENTIC] == 1
    assert await ledger.get(cmd.id) is None


@pytest.mark.parametrize(
    ("cmd", "now_ms", "state", "reason"),
    [
        (command(gateway="cab-2"), T0 + 1000, ResultState.REFUSED, "addressed to gateway 'cab-2'"),
        (command(ttl_ms=10_000), T0 + 13_000, ResultState.EXPIRED, "expired"),
        (command(issued=T0 + 60_000), T0 + 1000, ResultState.REFUSED, "in the future"),
        (command(ttl_ms=120_000), T0 + 1000, ResultState.REFUSED, "allows at most 60000 ms"),
        (command(action="nonsense"), T0 + 1000, ResultState.REFUSED, "no action 'nonsense'"),
    ],
)
async def test_a_command_that_must_not_run_gets_a_signed_refusal(
    ledger: Ledger, cmd: Command, now_ms: int, state: ResultState, reason: str
) -> None:
    runner, outbox = RecordingRunner(), RecordingOutbox()
    rx = receiver(ledger, runner, outbox, now_ms=now_ms)
    await rx.handle(signed(cmd))
    assert runner.ran == []
    assert outbox.states() == [state]
    assert reason in (outbox.results[0].reason or "")
    assert rx.counters[Counter.COMMANDS_REFUSED] == 1


async def test_a_replay_gets_no_second_result_also_after_a_restart(ledger: Ledger, tmp_path: Path) -> None:
    runner, outbox = RecordingRunner(), RecordingOutbox()
    rx = receiver(ledger, runner, outbox)
    payload = signed(command())
    await rx.handle(payload)
    await settle(rx)
    await rx.handle(payload)  # the broker's redelivery, or an attacker's replay
    await settle(rx)
    assert len(runner.ran) == 1
    assert outbox.states() == [ResultState.ACCEPTED, ResultState.DONE]
    assert rx.counters[Counter.COMMANDS_REPLAYED] == 1

    again = await Ledger.open(tmp_path / "commands.db", clock=ManualClock(wall_ms=T0 + 2000), skew_ms=2000)
    try:
        after = receiver(again, runner, outbox)
        await after.handle(payload)
        await settle(after)
    finally:
        await again.close()
    assert len(runner.ran) == 1
    assert after.counters[Counter.COMMANDS_REPLAYED] == 1


async def test_a_full_outbox_refuses_new_commands_with_its_reason(ledger: Ledger) -> None:
    runner, outbox = RecordingRunner(), RecordingOutbox()
    outbox.full = "outbox full: 500 results wait for the collector"
    rx = receiver(ledger, runner, outbox)
    cmd = command()
    await rx.handle(signed(cmd))
    assert runner.ran == []
    assert outbox.states() == [ResultState.REFUSED]
    assert outbox.results[0].reason == "outbox full: 500 results wait for the collector"
    assert await ledger.get(cmd.id) is None  # not admitted: the centre may send it again


async def test_an_accepted_command_without_result_is_failed_after_a_restart(
    ledger: Ledger, tmp_path: Path
) -> None:
    runner, outbox = RecordingRunner(), RecordingOutbox()
    runner.release.clear()  # the write is under way ...
    rx = receiver(ledger, runner, outbox)
    cmd = command()
    await rx.handle(signed(cmd))
    await asyncio.wait_for(runner.started.wait(), 5)  # the runner has it, and holds it
    assert outbox.states() == [ResultState.ACCEPTED]
    # ... and the agent dies here (its tasks are gone); a new one starts on the same ledger
    again = await Ledger.open(tmp_path / "commands.db", clock=ManualClock(wall_ms=T0 + 5000), skew_ms=2000)
    try:
        fresh_runner, fresh_outbox = RecordingRunner(), RecordingOutbox()
        assert await receiver(again, fresh_runner, fresh_outbox).recover() == 1
        assert fresh_outbox.states() == [ResultState.FAILED]
        assert fresh_outbox.results[0].reason == OUTCOME_UNKNOWN
        assert fresh_runner.ran == []  # never run again
        assert await again.unfinished() == []
    finally:
        await again.close()


async def test_commands_arrive_through_the_broker(broker: Broker, ledger: Ledger) -> None:
    runner, outbox = RecordingRunner(), RecordingOutbox()
    rx = receiver(ledger, runner, outbox)
    agent = MqttLink(client_id="cab-1", host=broker.host, port=broker.port)
    agent.route(topics.topic("test", GW, topics.TopicKind.COMMAND), rx.on_message)
    centre = MqttLink(client_id="centre", host=broker.host, port=broker.port)
    tasks = [asyncio.create_task(t) for t in (agent.run(), centre.run(), rx.run())]
    try:
        await asyncio.wait_for(asyncio.gather(agent.subscribed.wait(), centre.subscribed.wait()), 10)
        cmd = command()
        await centre.publish_confirmed(topics.topic("test", GW, topics.TopicKind.COMMAND), signed(cmd))
        async with asyncio.timeout(10):
            while outbox.states() != [ResultState.ACCEPTED, ResultState.DONE]:
                outbox.arrived.clear()
                await outbox.arrived.wait()
    finally:
        await agent.close()
        await centre.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert [c.id for c in runner.ran] == [cmd.id]
