"""The ``commands:`` section: the centre's keys and this gateway's signing key, checked by check-config
as ``run`` would (the private key file is read)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from configfile.secrets import write_secret
from edge_agent.config.load import ConfigError, load_config
from tests.drivers.conftest import PROFILES
from tests.edge_agent.test_config import BASE, write
from wire.signing import new_key_texts, parse_public_key


def section(
    tmp_path: Path, *, centre: dict[str, str], revoked: str = "[]", key_file: str = "keys/cab-1.key"
) -> str:
    keys = "\n".join(f"    {k}: {v!r}" for k, v in centre.items())
    return (
        BASE
        + f"commands:\n  key_id: cab-1\n  key_file: {key_file}\n  ledger: commands.db\n  revoked: {revoked}\n"
        + f"  centre_keys:\n{keys}\n"
    )


def centre_key(key_id: str) -> tuple[str, str]:
    line = new_key_texts(key_id)[1]
    k, public = line.split(": ", 1)
    return k, public


@pytest.fixture
def own_key(tmp_path: Path) -> str:
    private, public = new_key_texts("cab-1")
    write_secret(tmp_path / "keys" / "cab-1.key", private)
    return public.split(": ", 1)[1]


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_a_commands_section_resolves_to_a_ring_and_a_signer(tmp_path: Path, own_key: str) -> None:
    kid, public = centre_key("centre-2027")
    cfg = load_config(write(tmp_path, section(tmp_path, centre={kid: public})))
    assert cfg.commands is not None
    assert cfg.commands.ring.valid == {"centre-2027"}
    assert cfg.commands.signer.public == parse_public_key(own_key)
    assert cfg.commands.skew_ms == 5000
    assert cfg.commands.ledger_path == (tmp_path / "commands.db").resolve()


def test_no_section_takes_no_commands(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BASE)).commands is None


def test_a_missing_or_open_key_file_is_refused_naming_it(tmp_path: Path, own_key: str) -> None:
    kid, public = centre_key("centre-2027")
    missing = write(tmp_path, section(tmp_path, centre={kid: public}, key_file="keys/none.key"))
    assert "commands.key_file" in refused(missing)
    assert "none.key" in refused(missing)
    os.chmod(tmp_path / "keys" / "cab-1.key", 0o644)
    shared = write(tmp_path, section(tmp_path, centre={kid: public}))
    assert "readable by others" in refused(shared)


def test_a_bad_centre_key_is_refused_naming_its_id(tmp_path: Path, own_key: str) -> None:
    path = write(tmp_path, section(tmp_path, centre={"centre-2027": "ed25519:AAAA"}))
    assert "centre_keys.centre-2027" in refused(path)
    assert "32 bytes" in refused(path)


def test_three_valid_centre_keys_are_refused_until_one_is_revoked(tmp_path: Path, own_key: str) -> None:
    keys = dict(centre_key(f"centre-{i}") for i in range(3))
    path = write(tmp_path, section(tmp_path, centre=keys))
    assert "at most 2 at once" in refused(path)
    ok = write(tmp_path, section(tmp_path, centre=keys, revoked="[centre-0]"))
    cfg = load_config(ok)
    assert cfg.commands is not None
    assert cfg.commands.ring.valid == {"centre-1", "centre-2"}


TLC_BUS = """
  - name: tlc-bus
    kind: opcua
    endpoint: opc.tcp://127.0.0.1:4840/
    devices:
      - {name: tlc-1, profile: traffic-controller, params: {id: 1, signal_groups: 5, detectors: 4}}
"""


def with_controller(tmp_path: Path, extra: str) -> Path:
    """The base config with a traffic controller first (its actions need the ``security_code`` secret)."""
    kid, public = centre_key("centre-2027")
    text = section(tmp_path, centre={kid: public}).replace("buses:\n", "buses:" + TLC_BUS, 1)
    return write(tmp_path, text + f"profile_paths: [{PROFILES}]\n" + extra)


def test_a_method_input_from_a_secret_the_config_lacks_is_refused(tmp_path: Path, own_key: str) -> None:
    problem = refused(with_controller(tmp_path, ""))
    assert "secrets: 'security_code' is not set (buses[0] device 'tlc-1', action 'set_time_plan'" in problem


def test_secrets_and_a_location_load(tmp_path: Path, own_key: str) -> None:
    extra = 'secrets: {security_code: "1234"}\nlocation: {latitude: 47.32, longitude: 5.04}\n'
    cfg = load_config(with_controller(tmp_path, extra))
    assert cfg.config.secrets == {"security_code": "1234"}
    assert cfg.config.location is not None
    assert (cfg.config.location.latitude, cfg.config.location.longitude) == (47.32, 5.04)


def test_a_latitude_out_of_range_is_refused(tmp_path: Path, own_key: str) -> None:
    extra = 'secrets: {security_code: "1234"}\nlocation: {latitude: 91, longitude: 5.04}\n'
    assert "location.latitude" in refused(with_controller(tmp_path, extra))
