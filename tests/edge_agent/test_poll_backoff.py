"""A poller backing off from a device that does not answer, on an injected clock: when it tries again,
what it skips, how it logs, and that the first answer brings back the normal interval."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

import pytest

from drivers.base import PointValue, Value
from drivers.errors import DeviceUnreachable
from edge_agent.buffer.intake import Intake
from edge_agent.clock import ManualClock
from edge_agent.poll.backoff import MAX_LINE_SHARE, PollBackoff, Reachability
from edge_agent.poll.poller import DevicePoller, offsets
from wire.points import Quality, Reading

START = 1000.1  # ManualClock's monotonic start, plus its first step: when the first poll runs


class ScriptedDriver:
    """A driver whose device is dead while ``dead`` is set, and whose points fail while ``bad`` is set;
    it records the (injected) time of every read."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.dead = False
        self.bad = False
        self.reads: list[float] = []

    @property
    def name(self) -> str:
        return "rs485-1"

    def devices(self) -> Sequence[str]:
        return ("gw7",)

    async def read(self, device: str) -> Sequence[PointValue]:
        self.reads.append(round(self.clock.monotonic() - START, 3))
        if self.dead:
            raise DeviceUnreachable(
                "no response within 0.5 s reading holding 5+2 (2 attempts)", device=device
            )
        if self.bad:
            return [PointValue("level", None, "modbus exception 6 (device busy) reading holding 5+2")]
        return [PointValue("level", 100)]

    async def write(self, device: str, point: str, value: Value) -> None:
        raise NotImplementedError

    async def call(self, device: str, action: str, args: Mapping[str, Value]) -> Value:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


class MemoryBuffer:
    """Keeps what the poller appends: the SQLite buffer's I/O would let the injected clock run ahead."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def append(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)


@pytest.fixture
def memory() -> MemoryBuffer:
    return MemoryBuffer()


@pytest.fixture
def buffer(memory: MemoryBuffer) -> Intake:
    return memory


def poller(driver: ScriptedDriver, buffer: Intake, clock: ManualClock, backoff: PollBackoff) -> DevicePoller:
    return DevicePoller(
        driver=driver,
        device="gw7",
        points=["level"],
        interval_s=1.0,
        offset_s=0.0,
        buffer=buffer,
        clock=clock,
        backoff=backoff,
    )


async def run_for(p: DevicePoller, clock: ManualClock, seconds: float) -> None:
    task = asyncio.create_task(p.run())
    try:
        await clock.advance(seconds)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_first_wait_keeps_a_dead_device_to_five_percent_of_the_line() -> None:
    assert MAX_LINE_SHARE == 0.05
    assert PollBackoff.for_device(1.0, 0.5, 60) == PollBackoff(10.0, 60.0)
    assert PollBackoff.for_device(30.0, 0.5, 60) == PollBackoff(30.0, 60.0)  # never below one interval
    assert PollBackoff.for_device(1.0, 5.0, 60) == PollBackoff(100.0, 100.0)  # the floor beats the cap
    b = PollBackoff(10.0, 60.0)
    assert [b.delay(n) for n in range(1, 7)] == [10, 20, 40, 60, 60, 60]
    with pytest.raises(ValueError, match="first_s <= max_s"):
        PollBackoff(10.0, 5.0)


def test_offsets_spread_a_bus_over_its_interval() -> None:
    assert offsets([1.0, 1.0, 1.0, 1.0]) == [0.0, 0.25, 0.5, 0.75]
    assert offsets([10.0, 2.0]) == [0.0, 1.0]


async def test_a_dead_device_is_tried_once_per_wait_then_polled_again_at_its_first_answer(
    buffer: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    driver = ScriptedDriver(clock)
    driver.dead = True
    p = poller(driver, buffer, clock, PollBackoff(10.0, 60.0))
    caplog.set_level(logging.DEBUG, logger="edge_agent.poll.poller")
    task = asyncio.create_task(p.run())
    await clock.advance(135.5)
    assert driver.reads == [0, 10, 30, 70, 130]  # waits of 10, 20, 40 and 60 s (the cap)
    assert p.health.failures_in_row == 5
    assert p.health.skipped == 136 - 5
    assert p.health.overruns == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        "device gw7 on rs485-1 is not answering: no response within 0.5 s reading holding 5+2 (2 attempts)"
        "; next try in 10 s"
    ]
    assert (
        sum(1 for r in caplog.records if r.levelno == logging.DEBUG and "still failing" in r.getMessage())
        == 4
    )

    driver.dead = False  # it comes back; the next try (t = 190) finds it, then every second again
    driver.reads.clear()
    await clock.advance(60.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert driver.reads[:4] == [190, 191, 192, 193]
    assert p.health.online is True
    assert p.health.failures_in_row == 0
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert infos == ["device gw7 on rs485-1 answers again"]


async def test_readings_only_for_polls_that_reached_the_device(buffer: Intake, memory: MemoryBuffer) -> None:
    clock = ManualClock()
    driver = ScriptedDriver(clock)
    driver.dead = True
    p = poller(driver, buffer, clock, PollBackoff(10.0, 60.0))
    await run_for(p, clock, 25.5)
    assert driver.reads == [0, 10]
    # level OFFLINE and online False, twice; the skipped polls wrote nothing
    assert [(r.point, r.quality, r.value) for r in memory.readings] == [
        ("level", Quality.OFFLINE, None),
        ("online", Quality.GOOD, False),
    ] * 2


async def test_without_backoff_every_poll_reaches_the_device(buffer: Intake) -> None:
    clock = ManualClock()
    driver = ScriptedDriver(clock)
    driver.dead = True
    p = DevicePoller(
        driver=driver,
        device="gw7",
        points=["level"],
        interval_s=1.0,
        offset_s=0.0,
        buffer=buffer,
        clock=clock,
    )
    await run_for(p, clock, 4.5)
    assert driver.reads == [0, 1, 2, 3, 4]


async def test_unusable_points_are_logged_once_and_their_return_once(
    buffer: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    driver = ScriptedDriver(clock)
    p = poller(driver, buffer, clock, PollBackoff(10.0, 60.0))
    caplog.set_level(logging.INFO, logger="edge_agent.poll.poller")
    assert (await p.poll_once())[0].quality is Quality.GOOD
    driver.bad = True
    for _ in range(3):
        readings = await p.poll_once()
        assert readings[0].quality is Quality.BAD
        assert readings[0].reason == "modbus exception 6 (device busy) reading holding 5+2"
        assert readings[1].value is True  # it answered: online, no back-off
    driver.bad = False
    await p.poll_once()
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert messages == [
        (
            logging.ERROR,
            "device gw7 on rs485-1: 1 of 1 points unusable: level: "
            "modbus exception 6 (device busy) reading holding 5+2",
        ),
        (logging.INFO, "device gw7 on rs485-1: every point reads again"),
    ]
    assert p.health.skipped == 0


async def test_devices_behind_one_unit_back_off_together(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    driver = ScriptedDriver(clock)
    driver.dead = True
    memory = MemoryBuffer()
    shared = Reachability(PollBackoff(10.0, 60.0))
    pollers = [
        DevicePoller(
            driver=driver,
            device=name,
            points=["level"],
            interval_s=1.0,
            offset_s=offset,
            buffer=memory,
            clock=clock,
            reachability=shared,
        )
        for name, offset in (("lum-0", 0.0), ("lum-1", 0.5))
    ]
    caplog.set_level(logging.INFO, logger="edge_agent.poll.poller")
    tasks = [asyncio.create_task(p.run()) for p in pollers]
    await clock.advance(25.2)
    assert driver.reads == [0, 10]  # one try per wait for the unit, by whichever slot comes first
    assert [p.health.online for p in pollers] == [False, False]
    offline = [(r.device, r.quality) for r in memory.readings if r.point == "level"]
    assert offline == [("lum-0", Quality.OFFLINE), ("lum-1", Quality.OFFLINE), ("lum-0", Quality.OFFLINE)]
    assert memory.readings[0].reason == "no response within 0.5 s reading holding 5+2 (2 attempts)"
    assert memory.readings[2].reason == (
        "its unit does not answer (lum-0: no response within 0.5 s reading holding 5+2 (2 attempts))"
    )
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2  # once per device
    driver.dead = False
    await clock.advance(20.0)  # the next try, at 30 s, finds it: both back on their interval
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert driver.reads[2:6] == [30, 30.5, 31, 31.5]
    assert [p.health.online for p in pollers] == [True, True]
    assert len([r for r in caplog.records if "answers again" in r.getMessage()]) == 2


def test_a_driver_that_says_when_it_retries_sets_the_next_try_not_the_policy() -> None:
    reach = Reachability(PollBackoff(20.0, 60.0))
    assert reach.failed(100.0, "tlc", "session lost", retry_at=100.5) == 0.5
    assert not reach.may_try(100.4)
    assert reach.may_try(100.5)
    assert reach.failed(101.0, "tlc", "connect refused") == 40.0  # no hint: the policy's doubling
