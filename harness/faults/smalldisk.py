"""A small, real filesystem that fills up: a tmpfs in a mount namespace of its own.

A holder process (``unshare --user --map-root-user --mount``, no root needed) mounts a tmpfs of the
given size on a folder and sleeps; programs that must see it run through ``nsenter`` into its
namespaces (:meth:`SmallDisk.wrap`). Nothing is mounted where the rest of the machine could see it,
and the mount goes away with the holder, whatever happens to the test.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType


class SmallDisk:
    def __init__(self, mountpoint: Path, size_bytes: int) -> None:
        self.mountpoint = mountpoint
        self.size_bytes = size_bytes
        self._holder: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SmallDisk:
        for tool in ("unshare", "nsenter"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} (util-linux) is needed for the disk-full scenario")
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        ready = self.mountpoint.parent / f".{self.mountpoint.name}.ready"
        script = (
            f"mount -t tmpfs -o size={self.size_bytes} tmpfs {shlex.quote(str(self.mountpoint))} "
            f"&& touch {shlex.quote(str(ready))} && exec sleep 86400"
        )
        self._holder = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--mount", "--propagation=private", "sh", "-c", script],
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while not ready.exists():
            if self._holder.poll() is not None or time.monotonic() > deadline:
                err = self._holder.stderr.read().decode() if self._holder.stderr else ""
                self.__exit__(None, None, None)
                raise RuntimeError(f"could not mount a tmpfs in a namespace: {err}")
            time.sleep(0.02)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._holder is not None:
            self._holder.kill()
            self._holder.wait(5)
            if self._holder.stderr:
                self._holder.stderr.close()
            self._holder = None

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the namespace that sees the small disk (same uid, same cwd)."""
        assert self._holder is not None
        return [
            "nsenter",
            f"--target={self._holder.pid}",
            "--user",
            "--mount",
            "--preserve-credentials",
            f"--wd={os.getcwd()}",
            *argv,
        ]
