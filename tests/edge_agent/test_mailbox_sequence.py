"""The bollard mailbox's sequence number across an agent restart (devices.md §5.3): the device takes a
command whose sequence equals the last it processed for a retry of it and does not run it again. A
restarted agent must not send a number already sent, even when its fresh read cannot show the device's
last processed one (the mailbox answers busy): the executor keeps the last number sent in the ledger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pymodbus.constants import ExcCodes

from drivers.scheduler import BusScheduler
from edge_agent.commands.executor import Executor
from edge_agent.commands.ledger import Ledger
from edge_agent.commands.wiring import command_targets
from edge_agent.config.load import load_config
from edge_agent.poll.build import build_driver
from simulators.bollard.server import BollardSiteServer
from tests.drivers.conftest import PROFILES
from tests.edge_agent.test_executor import DIJON, SimClock, command
from wire.commands import ResultState


class BusyMailbox(BollardSiteServer):
    """The bollard site, whose holding registers (the mailbox) answer reads with "device busy" while
    ``busy``; writes still go through."""

    busy = False

    async def _action(  # noqa: PLR0917 - pymodbus calls the action with six positional arguments
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if self.busy and function_code == 3 and set_values is None:
            return ExcCodes.DEVICE_BUSY
        return await super()._action(function_code, start_address, address, count, registers, set_values)


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"""gateway: cab-0042
site: dijon-centre
profile_paths: [{PROFILES}]
buses:
  - name: access
    kind: modbus_tcp
    host: 127.0.0.1
    port: {port}
    timeout_s: 1.0
    retries: 0
    devices:
      - {{name: site-7, profile: bollard-site, unit: 1}}
"""
    )
    return path


async def test_a_restarted_agent_never_sends_a_sequence_the_device_may_take_for_a_retry(
    tmp_path: Path,
) -> None:
    clock = SimClock()
    async with BusyMailbox(count=1, now=clock) as site:
        resolved = load_config(write_config(tmp_path, site.port))
        drivers = [build_driver(bus, BusScheduler(bus.name)) for bus in resolved.buses]
        targets = command_targets(resolved.buses, drivers)

        async def started() -> tuple[Ledger, Executor]:
            ledger = await Ledger.open(tmp_path / "commands.db", clock=clock, skew_ms=500)
            executor = Executor(
                gateway="cab-0042",
                key_id="cab-0042-k",
                targets=targets,
                clock=clock,
                location=DIJON,
                book=ledger,
                sequences=await ledger.sequences(),
            )
            return ledger, executor

        mailbox: Callable[[], list[int]] = lambda: list(site.map.mailbox)  # noqa: E731
        try:
            ledger, executor = await started()
            lowered = await executor.run(command(clock, "site-7", "lower"))
            assert lowered.state is ResultState.DONE, lowered.reason
            assert mailbox()[2::2] == [1, 1]  # sequence 1 sent, and processed
            await ledger.close()

            ledger, executor = await started()  # the restart: only the ledger's file remains
            site.busy = True  # the fresh read cannot show the device's last processed number
            raised = await executor.run(command(clock, "site-7", "raise"))
            await ledger.close()
        finally:
            for d in drivers:
                await d.aclose()
    assert mailbox()[2] == 2  # a new number ...
    assert mailbox()[4] == 2  # ... so the device ran the raise, and did not take it for a retry of 1
    assert raised.state is ResultState.FAILED  # its read-back could not read the mailbox either
    assert str(raised.reason).startswith("unconfirmed: last_processed_sequence was not read")


async def test_the_sequence_follows_the_device_after_a_restart_when_it_can_be_read(tmp_path: Path) -> None:
    """The same restart with a readable mailbox: one more than what the device processed, which a
    command from elsewhere moved on meanwhile."""
    clock = SimClock()
    async with BusyMailbox(count=1, now=clock) as site:
        resolved = load_config(write_config(tmp_path, site.port))
        drivers = [build_driver(bus, BusScheduler(bus.name)) for bus in resolved.buses]
        try:
            for _ in range(2):  # two runs of the agent, each a fresh executor over the same ledger
                ledger = await Ledger.open(tmp_path / "commands.db", clock=clock, skew_ms=500)
                executor = Executor(
                    gateway="cab-0042",
                    key_id="cab-0042-k",
                    targets=command_targets(resolved.buses, drivers),
                    clock=clock,
                    location=DIJON,
                    book=ledger,
                    sequences=await ledger.sequences(),
                )
                done = await executor.run(command(clock, "site-7", "lower"))
                assert done.state is ResultState.DONE, done.reason
                site.map.write_holding(100, [6, 0, site.map.mailbox[4] + 10])  # someone else's reset
                await ledger.close()
        finally:
            for d in drivers:
                await d.aclose()
    assert site.map.mailbox[4] == 22  # 1, then 11 (elsewhere), then 12, then 22 (elsewhere)
