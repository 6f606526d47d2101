"""A small, real filesystem that fills up: a tmpfs, mounted directly as root, else in a namespace.

As root (CI), the tmpfs is mounted on the folder directly and unmounted on exit; programs see it as
they are. Otherwise a holder process (``unshare --user --map-root-user --mount``, no root needed)
mounts it and sleeps; programs that must see it run through ``nsenter`` into its namespaces
(:meth:`SmallDisk.wrap`). Then nothing is mounted where the rest of the machine could see it, and the
mount goes away with the holder, whatever happens to the test.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

from harness.tmpfs import mount, umount


class SmallDisk:
    def __init__(self, mountpoint: Path, size_bytes: int) -> None:
        self.mountpoint = mountpoint
        self.size_bytes = size_bytes
        self._holder: subprocess.Popen[bytes] | None = None
        self._direct = False  # mounted here, as root

    def __enter__(self) -> SmallDisk:
        if os.geteuid() == 0:
            self.mountpoint.mkdir(parents=True, exist_ok=True)
            mount(self.size_bytes, self.mountpoint)
            self._direct = True
            return self
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
        if self._direct:
            umount(self.mountpoint)
            self._direct = False
        if self._holder is not None:
            self._holder.kill()
            self._holder.wait(5)
            if self._holder.stderr:
                self._holder.stderr.close()
            self._holder = None

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` run where it sees the small disk: as it is when mounted directly, else inside the
        holder's namespaces (same uid, same cwd)."""
        if self._direct:
            return argv
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
