"""The buffer on a really full disk: each scenario runs in a child process on a small tmpfs — mounted
directly as root (CI), otherwise by the child in its own user and mount namespaces (``unshare``: no
root needed, and the mount dies with the child); see :mod:`harness.tmpfs`. The scenarios are in
:mod:`tests.edge_agent.disk_scenarios`; they report JSON, checked here.

What must hold on a full disk: no append raises anything but :class:`BufferFull`, the poller task lives,
every reading is accounted for — committed = still in the buffer + confirmed + dropped (by reason), and
every reading handed to the buffer is committed or counted as ``dropped_disk_full`` — the ``_agent``
points say so, the file passes ``PRAGMA integrity_check`` and reopens with everything in it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_agent.buffer.database import no_space
from edge_agent.buffer.disk import DiskPlan, DiskUsage
from edge_agent.counters import Counter
from harness.tmpfs import Mount, how_to_mount, mounted

ROOT = Path(__file__).resolve().parents[2]
UNSHARE = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c"]
MOUNT_AND_RUN = (
    'mount -t tmpfs -o size="$1" tmpfs "$2" && exec "$3" -m tests.edge_agent.disk_scenarios "$4" "$2"'
)
FITS = 2 << 20  # the scenarios' cap that fits their 4 MiB disk (disk_scenarios.FITS)


@pytest.fixture(scope="module")
def how(tmp_path_factory: pytest.TempPathFactory) -> Mount:
    """How this machine mounts the scenarios' tmpfs; skips (naming what) where it cannot, fails in CI."""
    return how_to_mount(tmp_path_factory.mktemp("probe"), "the buffer on a really full disk (tmpfs)")


def run(scenario: str, size: str, tmp_path: Path, how: Mount) -> dict[str, Any]:
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    scenario_argv = [sys.executable, "-m", "tests.edge_agent.disk_scenarios", scenario, str(mountpoint)]
    if how is Mount.DIRECT:
        with mounted(size, mountpoint):
            proc = subprocess.run(
                scenario_argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
            )
    else:
        proc = subprocess.run(
            [*UNSHARE, MOUNT_AND_RUN, "sh", size, str(mountpoint), sys.executable, scenario],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not mountpoint.is_mount()
    assert list(mountpoint.iterdir()) == []  # everything was on the tmpfs, gone with it
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def assert_accounted(out: dict[str, Any]) -> None:
    """Every reading is where the counters say, checked against the file itself and a reopen."""
    tally, file = out["tally"], out["file"]
    c = file["counters"]
    assert tally["errors"] == []  # nothing but BufferFull ever came out of an append
    assert file["integrity"] == "ok"
    assert c[Counter.COMMITTED] == tally["ok"]  # every append that returned was committed
    assert c[Counter.DROPPED_DISK_FULL] == tally["refused"]  # every refused reading is counted
    assert c[Counter.CONFIRMED] == tally["confirmed"]
    dropped = (
        c[Counter.DROPPED_BUFFER_FULL]
        + c[Counter.DROPPED_UNCONFIRMED]
        + c[Counter.DROPPED_THINNED]
        + c[Counter.DROPPED_AGE]
    )
    assert c[Counter.COMMITTED] == file["unsealed"] + file["sealed"] + c[Counter.CONFIRMED] + dropped
    assert out["reopened"] == {"unsealed": file["unsealed"], "sealed": file["sealed"], "counters": c}


@pytest.mark.parametrize(("policy", "size"), [("drop_oldest", "4m"), ("thin", "2m")])
def test_buffer_that_fills_the_disk_keeps_to_the_disks_cap(
    policy: str, size: str, tmp_path: Path, how: Mount
) -> None:
    """The buffer alone fills a disk smaller than buffer.max_bytes: the cap derived from the free space
    takes the clean path — no write ever fails, the disk is never full, the policy drops, counted."""
    out = run(f"fill-{policy}", size, tmp_path, how)
    assert_accounted(out)
    assert out["tally"]["refused"] == 0
    assert out["min_free"] > 0  # the disk itself never filled up
    assert out["reserve_kept"]  # the reserve was never needed
    assert out["cap"] < out["fs_bytes"]
    counters = out["file"]["counters"]
    if policy == "thin":
        assert counters[Counter.DROPPED_THINNED] > 0
    else:
        # The oldest readings may be in units never sent (dropped_buffer_full) or in units the
        # uplink-like task took and has not had confirmed (dropped_unconfirmed): which, depends on the
        # timing.
        assert counters[Counter.DROPPED_BUFFER_FULL] + counters[Counter.DROPPED_UNCONFIRMED] > 0
    assert counters[Counter.COMMITTED] > 2 * out["fs_bytes"] // 250  # well past what the disk holds
    assert out["disk_full_seen"]  # reported (buffer_disk_full) ...
    assert out["errors_logged"] == 1  # ... and logged once


def test_another_file_takes_the_disk_between_two_commits(tmp_path: Path, how: Mount) -> None:
    """The space goes while the WAL holds pages a checkpoint must still add to the file: the reserve
    gets the buffer out, it makes room inside its file and keeps committing on the full disk."""
    out = run("eaten", "4m", tmp_path, how)
    assert_accounted(out)
    assert out["disk_after_filler"]["free"] < 64 << 10
    # The buffer needed its reserve to finish a checkpoint, then made room inside its own file:
    assert out["reserve_released"] == 1
    assert out["tally"]["refused"] == 0
    assert all(out["tail_ok"])  # the disk stays full, every append commits
    assert out["poller_alive"]
    assert out["polls_during"] > 0
    assert out["episode_errors"] == 1  # logged once
    points = out["points"]
    assert points["buffer_disk_full"] is True
    assert points["buffer_cap_bytes"] < FITS
    assert points["buffer_disk_free_bytes"] < 1 << 20
    assert points[Counter.DROPPED_BUFFER_FULL] > 0
    assert points["readings_dropped_total"] == sum(
        points[k]
        for k in (
            Counter.DROPPED_BUFFER_FULL,
            Counter.DROPPED_UNCONFIRMED,
            Counter.DROPPED_THINNED,
            Counter.DROPPED_AGE,
            Counter.DROPPED_DISK_FULL,
        )
    )
    # The agent restarts on the full disk without anyone's help, and goes on:
    assert all(out["after_restart_ok"])
    # Space comes back: the episode ends (INFO), the reserve is allocated again.
    assert out["disk_full_after_cleanup"] is False
    assert out["reserve_after_cleanup"]
    assert out["space_back_logged"] == 1
    assert out["final_stats"]["cap"] == FITS


def test_what_cannot_be_committed_is_counted_until_space_comes_back(tmp_path: Path, how: Mount) -> None:
    """No reserve, and the disk full while a checkpoint needs to grow the file: the WAL cannot start
    over, nothing can be written. Polling goes on; each refused reading is counted; space back, the
    count is committed with the first readings that get in."""
    out = run("wedged", "4m", tmp_path, how)
    assert_accounted(out)
    assert not any(out["outcomes"][-10:])  # wedged ...
    assert all(out["after_space_back"])  # ... until the filler goes
    assert out["poller_alive"]
    assert out["poller_not_buffered"] > 0
    assert out["live_dropped_disk_full"] == out["refused_so_far"] > 0  # counted while nothing is written
    points = out["points"]
    assert points["buffer_disk_full"] is True
    assert points[Counter.DROPPED_DISK_FULL] == out["refused_so_far"]
    assert points["readings_dropped_total"] >= out["refused_so_far"]
    assert out["refuse_errors"] == 1  # ERROR once ...
    assert out["episode_errors"] == 1
    # The agent restarts on it: still nothing gets in, and the count from before the restart is kept
    assert not any(out["after_restart"])
    assert out["live_after_restart"] == out["tally"]["refused"]  # both runs' refusals (none came later)
    assert out["commits_again_logged"] >= 1  # ... recovery at INFO (once per run that recovers)
    # Space back: nothing more given up for it. (While wedged, the buffer may or may not have found
    # WAL room for a first drop step at the disk's cap, depending on where the WAL stood.)
    assert out["file"]["counters"][Counter.DROPPED_BUFFER_FULL] == out["dropped_while_wedged"]
    assert out["final_stats"]["disk_full"] is False


def test_a_runaway_writer_that_takes_every_freed_byte(tmp_path: Path, how: Mount) -> None:
    """It takes the reserve too: the buffer cannot get out and refuses, counted, until the writer stops
    and its file goes — timing decides how much is refused, never whether it is accounted for."""
    out = run("hungry", "4m", tmp_path, how)
    assert_accounted(out)
    assert out["eaten_bytes"] > 0  # the writer ran; how much the buffer had to refuse is up to timing
    assert out["poller_alive"]
    assert out["poller_alive_after_restart"]
    assert all(out["after_space_back"])


def test_the_disk_plan_keeps_room_for_the_wal_and_the_reserve() -> None:
    mib = 1 << 20
    small = DiskPlan.for_filesystem(8 * mib, 4096)
    assert small.wal_pages == 32
    assert DiskPlan.for_filesystem(1024 * mib, 4096).wal_pages == 512
    roomy = DiskPlan.for_filesystem(32 * 1024 * mib, 4096)
    assert roomy.wal_pages == 1000  # SQLite's default
    assert roomy.reserve_bytes == roomy.wal_bytes < 9 * mib
    assert roomy.step_bytes <= roomy.wal_pages * 4096  # a step fits in the WAL's room
    empty = DiskUsage(total=32 * 1024 * mib, free=10 * 1024 * mib, db=0, wal=0, reserve=0)
    assert roomy.cap(empty, 256 * mib) == 256 * mib  # room enough: the configured cap
    # Another process took all but 10 MiB; the buffer holds 100 MiB, its WAL and its reserve:
    tight = DiskUsage(
        total=32 * 1024 * mib, free=10 * mib, db=100 * mib, wal=mib, reserve=roomy.reserve_bytes
    )
    assert roomy.cap(tight, 256 * mib) == 10 * mib + 100 * mib + mib - roomy.wal_bytes
    full = DiskUsage(total=32 * 1024 * mib, free=0, db=mib, wal=0, reserve=0)
    assert roomy.cap(full, 256 * mib) == 64 * 4096  # never below 64 pages


def test_no_space_tells_a_full_disk_from_other_errors() -> None:
    import sqlite3

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL
    shm = sqlite3.OperationalError("disk I/O error")
    shm.sqlite_errorcode = sqlite3.SQLITE_IOERR_SHMSIZE
    other = sqlite3.OperationalError("disk I/O error")
    other.sqlite_errorcode = sqlite3.SQLITE_IOERR
    corrupt = sqlite3.DatabaseError("database disk image is malformed")
    corrupt.sqlite_errorcode = sqlite3.SQLITE_CORRUPT
    assert no_space(full)
    assert no_space(shm)
    assert not no_space(other)
    assert not no_space(corrupt)
    assert not no_space(ValueError("full"))
