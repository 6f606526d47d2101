"""wait_for_work: the uplink's senders idle until work, a lost link or a deadline, and leave nothing
hooked into the events behind them."""

from __future__ import annotations

import asyncio

import pytest

from edge_agent.uplink.waiting import wait_for_work


def hooked(*events: asyncio.Event) -> int:
    return sum(len(e._waiters) for e in events)


@pytest.mark.parametrize("which", ["wake", "lost"])
async def test_either_event_ends_the_wait(which: str) -> None:
    wake, lost = asyncio.Event(), asyncio.Event()
    waiting = asyncio.create_task(wait_for_work(wake, lost, 5.0))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    assert hooked(wake, lost) == 2  # one future in both events
    (wake if which == "wake" else lost).set()
    await asyncio.wait_for(waiting, 1)
    assert hooked(wake, lost) == 0


async def test_the_deadline_ends_the_wait() -> None:
    wake, lost = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.wait_for(wait_for_work(wake, lost, 0.05), 1)
    assert loop.time() - start >= 0.04
    assert hooked(wake, lost) == 0


async def test_work_already_there_returns_at_once() -> None:
    wake, lost = asyncio.Event(), asyncio.Event()
    wake.set()
    await asyncio.wait_for(wait_for_work(wake, lost, 5.0), 0.1)
    wake.clear()
    lost.set()
    await asyncio.wait_for(wait_for_work(wake, lost, 5.0), 0.1)


async def test_a_cancelled_wait_unhooks_and_stops() -> None:
    wake, lost = asyncio.Event(), asyncio.Event()
    waiting = asyncio.create_task(wait_for_work(wake, lost, 5.0))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert hooked(wake, lost) == 0
    wake.set()  # nothing left to resolve


async def test_events_of_another_kind_are_waited_with_tasks() -> None:
    class Other(asyncio.Event):
        def __init__(self) -> None:
            super().__init__()
            self._waiters = []  # type: ignore[assignment]  # not a deque: the fallback path

    wake, lost = Other(), asyncio.Event()
    waiting = asyncio.create_task(wait_for_work(wake, lost, 5.0))
    await asyncio.sleep(0.01)
    lost.set()
    await asyncio.wait_for(waiting, 1)
