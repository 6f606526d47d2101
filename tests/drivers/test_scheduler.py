"""drivers.scheduler: one slot at a time, the silent gap, commands first, cancellation, counters."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from drivers.scheduler import BusScheduler, Priority


async def _hold(
    bus: BusScheduler, name: str, log: list[tuple[str, float, float]], priority: Priority
) -> None:
    async with bus.slot(priority):
        start = time.monotonic()
        await asyncio.sleep(0.01)
        log.append((name, start, time.monotonic()))


async def test_one_slot_at_a_time_with_the_gap_between() -> None:
    bus = BusScheduler("line", gap_s=0.005)
    log: list[tuple[str, float, float]] = []
    await asyncio.gather(*(_hold(bus, f"r{i}", log, Priority.POLL) for i in range(8)))
    assert [name for name, _, _ in log] == [f"r{i}" for i in range(8)]  # first come, first served
    for (_, _, end), (_, start, _) in itertools.pairwise(log):
        assert start - end >= 0.005
    stats = bus.stats()
    assert (stats.requests, stats.queue_depth, stats.queue_max) == (8, 0, 7)
    assert stats.by_priority[Priority.POLL] == 8
    assert 8 * 0.01 <= stats.busy_s < stats.elapsed_s
    assert 0 < stats.busy_fraction < 1


async def test_a_command_takes_the_next_slot_and_retries_wait_behind_polls() -> None:
    bus = BusScheduler("line")
    log: list[tuple[str, float, float]] = []
    first = asyncio.create_task(_hold(bus, "poll-0", log, Priority.POLL))
    await asyncio.sleep(0)  # poll-0 holds the line
    tasks = [
        asyncio.create_task(_hold(bus, "retry", log, Priority.RETRY)),
        asyncio.create_task(_hold(bus, "poll-1", log, Priority.POLL)),
        asyncio.create_task(_hold(bus, "poll-2", log, Priority.POLL)),
    ]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(_hold(bus, "write", log, Priority.COMMAND)))
    await asyncio.gather(first, *tasks)
    assert [name for name, _, _ in log] == ["poll-0", "write", "poll-1", "poll-2", "retry"]


async def test_who_goes_next_is_decided_after_the_gap() -> None:
    bus = BusScheduler("line", gap_s=0.5)  # long: the write surely comes within it, even on a busy machine
    log: list[tuple[str, float, float]] = []
    first = asyncio.create_task(_hold(bus, "poll-0", log, Priority.POLL))
    await asyncio.sleep(0)
    polls = [asyncio.create_task(_hold(bus, f"poll-{i}", log, Priority.POLL)) for i in (1, 2)]
    await first  # poll-0 is done, poll-1 was waiting; the line is in its silent gap
    write = asyncio.create_task(_hold(bus, "write", log, Priority.COMMAND))
    await asyncio.gather(write, *polls)
    assert [name for name, _, _ in log] == ["poll-0", "write", "poll-1", "poll-2"]
    assert log[1][1] - log[0][2] >= 0.5


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    bus = BusScheduler("line")
    log: list[tuple[str, float, float]] = []
    first = asyncio.create_task(_hold(bus, "a", log, Priority.POLL))
    await asyncio.sleep(0)
    gone = asyncio.create_task(_hold(bus, "b", log, Priority.POLL))
    last = asyncio.create_task(_hold(bus, "c", log, Priority.POLL))
    await asyncio.sleep(0)
    assert bus.queue_depth == 2
    gone.cancel()
    await asyncio.sleep(0)
    assert bus.queue_depth == 1
    await asyncio.gather(first, last)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert [name for name, _, _ in log] == ["a", "c"]


async def test_a_waiter_cancelled_as_it_is_handed_the_line_passes_it_on() -> None:
    bus = BusScheduler("line")
    entered: list[str] = []

    async def take(name: str) -> None:
        async with bus.slot():
            entered.append(name)

    async with bus.slot():
        handed = asyncio.create_task(take("handed"))
        after = asyncio.create_task(take("after"))
        await asyncio.sleep(0)
    handed.cancel()  # its turn was granted as the slot above closed; it has not run since
    await asyncio.gather(handed, after, return_exceptions=True)
    assert handed.cancelled()
    assert entered == ["after"]
    async with asyncio.timeout(1):  # and the line is free again
        async with bus.slot():
            pass


async def test_a_waiter_cancelled_just_before_the_line_is_freed_leaves_quietly() -> None:
    """The cancelled waiter's entry is dropped by the hand-over before the waiter runs again: it
    must not look for it in the queue (that raised ValueError and stopped the agent at shutdown)."""
    bus = BusScheduler("line")
    entered: list[str] = []

    async def take(name: str) -> None:
        async with bus.slot():
            entered.append(name)

    async with bus.slot():
        gone = asyncio.create_task(take("gone"))
        await asyncio.sleep(0)
        assert bus.queue_depth == 1
        gone.cancel()  # its turn future is cancelled now; the task runs its handler later
    # leaving the slot handed the line over: the cancelled entry was popped and skipped
    assert bus.queue_depth == 0
    await asyncio.gather(gone, return_exceptions=True)
    assert gone.cancelled()  # cancelled, not failed with ValueError
    assert entered == []
    async with asyncio.timeout(1):
        async with bus.slot():
            pass


async def test_an_idle_line_is_taken_at_once_and_freed_after_an_error() -> None:
    bus = BusScheduler("line", gap_s=0.0)
    with pytest.raises(RuntimeError, match="boom"):
        async with bus.slot():
            raise RuntimeError("boom")
    turned: list[bool] = []
    asyncio.get_running_loop().call_soon(turned.append, True)  # runs at the loop's next turn
    async with bus.slot():
        assert turned == []  # taken without giving the loop a turn: nothing was waited for
    assert bus.stats().queue_max == 0


def test_a_negative_gap_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        BusScheduler("line", gap_s=-0.001)
