"""``collector run`` with a fault in its store — for the fault suite only, never shipped.

    python -m harness.faults.fault_collector --config collector.yaml --control DIR [--fault F] [...]

Every run appends the keys of the batches it stored to ``DIR/<collector_id>.stored`` (which collector
took which part of the load). Faults, injected through the sink interface the collector already has:

- ``none``;
- ``stall``: each write waits while the file ``DIR/stall`` exists (a store that stopped answering);
- ``slow``: each write takes ``--delay`` s more (a busy store), and while it is under way the file
  ``DIR/writing`` lists its batches (received, not yet committed nor acknowledged): a test can stop the
  process inside a write and kill it there;
- ``kill-after-commit``: after the ``--after``-th commit, SIGKILL itself — after the commit, before
  acknowledging the broker or confirming to the gateway; the keys go to ``DIR/killed-after-commit``;
- ``confirm-before-commit``: the NEGATIVE CONTROL. It answers "stored" at once and commits
  ``--delay`` s later: a collector that confirms before its commit, which must lose data when it dies
  in between. The suite must see that loss, or it could not see any.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from collector.config import load_config
from collector.runtime import serve
from collector.sinks import open_sink
from collector.sinks.base import Sink, WriteOutcome
from harness.sink_wrappers import SinkWrapper
from wire.telemetry import TelemetryBatch


class Fault(enum.StrEnum):
    NONE = "none"
    STALL = "stall"
    SLOW = "slow"
    KILL_AFTER_COMMIT = "kill-after-commit"
    CONFIRM_BEFORE_COMMIT = "confirm-before-commit"


def _keys(batches: Sequence[TelemetryBatch], outcomes: Sequence[WriteOutcome]) -> str:
    return "".join(
        f"{b.key.gateway} {b.key.epoch} {b.key.seq}\n"
        for b, o in zip(batches, outcomes, strict=True)
        if o is WriteOutcome.STORED
    )


class RecordingSink(SinkWrapper):
    """Appends the keys of the batches it stored to a file."""

    def __init__(self, inner: Sink, record: Path) -> None:
        super().__init__(inner)
        self._fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        outcomes = await self.inner.write(batches)
        os.write(self._fd, _keys(batches, outcomes).encode())
        return outcomes


class StallingSink(SinkWrapper):
    def __init__(self, inner: Sink, flag: Path) -> None:
        super().__init__(inner)
        self._flag = flag

    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        while self._flag.exists():  # noqa: ASYNC110 (a file is the test's switch)
            await asyncio.sleep(0.05)
        return await self.inner.write(batches)


class SlowSink(SinkWrapper):
    def __init__(self, inner: Sink, delay_s: float, marker: Path) -> None:
        super().__init__(inner)
        self._delay_s = delay_s
        self._marker = marker

    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        listed = self._marker.with_suffix(".new")
        listed.write_text("".join(f"{b.key.gateway} {b.key.epoch} {b.key.seq}\n" for b in batches))
        listed.replace(self._marker)  # whole or not at all
        try:
            await asyncio.sleep(self._delay_s)
            return await self.inner.write(batches)
        finally:
            self._marker.unlink(missing_ok=True)


class KillAfterCommitSink(SinkWrapper):
    def __init__(self, inner: Sink, after: int, record: Path) -> None:
        super().__init__(inner)
        self._left = after
        self._record = record

    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        outcomes = await self.inner.write(batches)  # committed
        if WriteOutcome.STORED in outcomes:
            self._left -= 1
            if self._left == 0:
                self._record.write_text(_keys(batches, outcomes))
                os.kill(os.getpid(), signal.SIGKILL)
        return outcomes


class ConfirmBeforeCommitSink(SinkWrapper):
    def __init__(self, inner: Sink, delay_s: float) -> None:
        super().__init__(inner)
        self._delay_s = delay_s
        self._later: set[asyncio.Task[list[WriteOutcome]]] = set()

    async def write(self, batches: Sequence[TelemetryBatch]) -> list[WriteOutcome]:
        task = asyncio.create_task(self._write_later(list(batches)))
        self._later.add(task)
        task.add_done_callback(self._later.discard)
        return [WriteOutcome.STORED] * len(batches)  # the lie this sink exists to tell

    async def _write_later(self, batches: list[TelemetryBatch]) -> list[WriteOutcome]:
        await asyncio.sleep(self._delay_s)
        return await self.inner.write(batches)


async def _run(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    control: Path = args.control
    sink: Sink = await open_sink(config.store.store_url)
    sink = RecordingSink(sink, control / f"{config.collector_id}.stored")
    match Fault(args.fault):
        case Fault.STALL:
            sink = StallingSink(sink, control / "stall")
        case Fault.SLOW:
            sink = SlowSink(sink, args.delay, control / "writing")
        case Fault.KILL_AFTER_COMMIT:
            sink = KillAfterCommitSink(sink, args.after, control / "killed-after-commit")
        case Fault.CONFIRM_BEFORE_COMMIT:
            sink = ConfirmBeforeCommitSink(sink, args.delay)
        case Fault.NONE:
            pass
    await serve(config, sink)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--control", type=Path, required=True)
    ap.add_argument("--fault", choices=[f.value for f in Fault], default=Fault.NONE.value)
    ap.add_argument("--after", type=int, default=3, help="kill-after-commit: the commit to die after")
    ap.add_argument(
        "--delay",
        type=float,
        default=2.0,
        help="confirm-before-commit: commit this late; slow: each write this much longer",
    )
    args = ap.parse_args()
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
