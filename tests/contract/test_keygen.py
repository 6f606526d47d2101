"""``edge-agent keygen`` and ``collector keygen``: a key pair whose halves sign and verify each other,
the private half in a file only its owner reads, never overwritten by accident."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from configfile.secrets import SecretFileError, read_secret, write_secret
from harness.stack import BIN
from wire.commands import Command
from wire.signing import KeyRing, Signer, parse_private_key


def keygen(program: str, key_id: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / program), "keygen", "--key-id", key_id, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("program", ["edge-agent", "collector"])
def test_the_two_halves_sign_and_verify(program: str, tmp_path: Path) -> None:
    out = tmp_path / "keys" / "k.key"
    done = keygen(program, "centre-2027", out)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key_id, public = done.stdout.strip().split(": ", 1)
    assert key_id == "centre-2027"
    signer = Signer("centre-2027", parse_private_key(read_secret(out)))
    t0 = 1_767_225_600_000
    cmd = Command(uuid.uuid4(), "cab-1", "lum-01", "off", {}, t0, t0 + 30_000, "test", "centre-2027")
    ring = KeyRing.parse({key_id: public})
    assert ring.verify(signer.seal_command(cmd)) == cmd  # the printed line verifies what the file signs


@pytest.mark.parametrize("program", ["edge-agent", "collector"])
def test_an_existing_key_is_kept_unless_forced(program: str, tmp_path: Path) -> None:
    out = tmp_path / "k.key"
    assert keygen(program, "k1", out).returncode == 0
    first = out.read_text()
    again = keygen(program, "k1", out)
    assert again.returncode == 2
    assert "exists already" in again.stderr
    assert "--force" in again.stderr
    assert out.read_text() == first
    assert keygen(program, "k1", out, "--force").returncode == 0
    assert out.read_text() != first


def test_a_bad_key_id_is_refused_and_nothing_written(tmp_path: Path) -> None:
    out = tmp_path / "k.key"
    done = keygen("edge-agent", "no spaces", out)
    assert done.returncode == 2
    assert "key id 'no spaces'" in done.stderr
    assert not out.exists()


def test_a_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.key"
    write_secret(path, "ed25519-private:x")
    assert read_secret(path) == "ed25519-private:x"
    os.chmod(path, 0o644)
    with pytest.raises(SecretFileError, match="readable by others"):
        read_secret(path)
    with pytest.raises(SecretFileError, match="cannot read"):
        read_secret(tmp_path / "missing.key")


def test_a_private_key_text_is_checked() -> None:
    with pytest.raises(ValueError, match="must start with"):
        parse_private_key("ed25519:abc")
    with pytest.raises(ValueError, match="32 bytes"):
        parse_private_key("ed25519-private:AAAA")


@pytest.mark.parametrize("program", ["edge-agent", "collector"])
def test_keygen_help_renders(program: str) -> None:
    done = subprocess.run(
        [str(BIN / program), "keygen", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--key-id" in done.stdout
    assert "/etc/streetgate/keys" in done.stdout
