"""A small, real tmpfs for the disk-full tests, and what a test does when this machine cannot have one.

Two ways to mount one, probed in this order:

- ``DIRECT``: as root (CI runs as root), ``mount -t tmpfs -o size=…`` on a folder of the test's,
  unmounted after (:func:`mounted`);
- ``NAMESPACE``: otherwise, inside a user and mount namespace of its own (``unshare --user
  --map-root-user --mount``): no root needed, and the mount dies with the namespace.

Where neither works, the test is skipped naming what it could not test, or in CI fails
(:func:`harness.missing.cannot_test`).
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.missing import cannot_test


class Mount(enum.Enum):
    DIRECT = "direct"
    NAMESPACE = "namespace"


def mount(size: str | int, where: Path) -> None:
    """Mount a tmpfs of ``size`` bytes (or ``4m``) on ``where``, directly (root only)."""
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )


def umount(where: Path) -> None:
    # Lazy: a process of a failed test may still hold a file open; the mount goes once it lets go.
    subprocess.run(["umount", "--lazy", str(where)], check=True, capture_output=True, text=True, timeout=30)


@contextmanager
def mounted(size: str | int, where: Path) -> Iterator[Path]:
    """A tmpfs on ``where`` for the block's duration (root only)."""
    mount(size, where)
    try:
        yield where
    finally:
        umount(where)


def how_to_mount(probe: Path, what: str) -> Mount:
    """How this machine mounts a small tmpfs (tried on the empty folder ``probe``); where it cannot, the
    test of ``what`` is skipped (in CI: fails)."""
    reasons: list[str] = []
    if os.geteuid() == 0:
        try:
            with mounted("1m", probe):
                pass
        except subprocess.CalledProcessError as exc:
            reasons.append(f"root, but mount -t tmpfs failed: {exc.stderr.strip()}")
        except OSError as exc:
            reasons.append(f"root, but no mount(8): {exc}")
        else:
            return Mount.DIRECT
    else:
        reasons.append("not root")
    if shutil.which("unshare") is None:
        reasons.append("no unshare(1) for a user namespace")
    else:
        script = 'mount -t tmpfs tmpfs "$1"'
        proc = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(probe)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode == 0:
            return Mount.NAMESPACE
        reasons.append(f"no tmpfs in a user namespace: {proc.stderr.strip()}")
    return cannot_test(what, "; ".join(reasons))
