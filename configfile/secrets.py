"""Secret files (private keys, later the controllers' security codes): written owner-only, never over
an existing one by accident, and read back with an error that names the file."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class SecretFileError(ValueError):
    """A secret file that cannot be written or read, or that others can read; the message names it."""


def write_secret(path: Path, text: str, *, replace: bool = False) -> None:
    """Write ``text`` to ``path`` with mode 0600 (created so: never readable by others, not even briefly).
    An existing file is kept unless ``replace``: a key pair overwritten by mistake strands every device
    that trusts it."""
    if path.exists() and not replace:
        raise SecretFileError(f"{path}: exists already (give --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (text.rstrip("\n") + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_secret(path: Path) -> str:
    """The text of a secret file, refused when group or others may read it (as ssh refuses a key)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(f"{path}: cannot read the secret file: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(f"{path}: readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
    return text.strip()
