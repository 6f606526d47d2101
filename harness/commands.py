"""Signed commands in the stack (optional, ``Stack(commands=True)``): a centre key and a gateway key,
the private keys written as secrets in the stack's folder, and the ``commands:`` sections of the agent's
and the collector's configs that name them (as tests/edge_agent/test_commands_e2e.py and
tests/collector/test_command_audit.py configure them)."""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from configfile.secrets import write_secret
from wire.signing import new_key_texts

CENTRE_KEY_ID = "centre-k"
# Where the cabinet stands (Dijon): the luminaire profile's night-floor interlock needs it.
LOCATION = "location: {latitude: 47.32, longitude: 5.04}\n"


@dataclass(frozen=True, slots=True)
class CommandKeys:
    """The key files written and the config sections that name them."""

    agent_section: str  # top-level agent YAML: ``commands:`` and ``location:``
    collector_section: str  # top-level collector YAML: ``commands:``


def write_command_keys(workdir: Path, *, gateway: str, site: str) -> CommandKeys:
    """New keys for the centre and for ``gateway``; private keys under ``workdir/keys`` (mode 0600)."""
    centre_private, centre_line = new_key_texts(CENTRE_KEY_ID)
    gw_key_id = f"{gateway}-k"
    gw_private, gw_line = new_key_texts(gw_key_id)
    write_secret(workdir / "keys" / f"{CENTRE_KEY_ID}.key", centre_private)
    write_secret(workdir / "keys" / f"{gw_key_id}.key", gw_private)
    centre_public = centre_line.split(": ", 1)[1]
    gw_public = gw_line.split(": ", 1)[1]
    agent = (
        f"commands:\n  key_id: {gw_key_id}\n  key_file: keys/{gw_key_id}.key\n"
        f'  centre_keys: {{{CENTRE_KEY_ID}: "{centre_public}"}}\n'
        f"  ledger: {workdir / 'commands.db'}\n{LOCATION}"
    )
    collector = (
        f"commands:\n  key_id: {CENTRE_KEY_ID}\n  key_file: keys/{CENTRE_KEY_ID}.key\n"
        f"  default_expiry_s: 60\n"
        f"  gateways:\n    {gateway}: {{site: {site}, keys: {{{gw_key_id}: '{gw_public}'}}}}\n"
    )
    return CommandKeys(agent, collector)


def profiles_with_settle(
    source: Path, target: Path, settle_s: float, profile: str = "dali-gw-luminaire"
) -> Path:
    """A copy of the profile folder ``source`` in ``target`` where every action of ``profile`` has the
    read-back ``settle_s`` given (a benchmark's short settle: the simulator's gear fades in no time)."""
    shutil.copytree(source, target, dirs_exist_ok=True)
    _rewrite_settle(target / f"{profile}.yaml", lambda _: settle_s)
    return target


def profiles_with_short_settle(source: Path, target: Path, caps: Mapping[str, float]) -> Path:
    """A copy of the profile folder ``source`` in ``target`` where no action of a profile named in
    ``caps`` settles longer than its cap (a shorter declared settle stays): for simulators set to move
    fast (short bollard travel, a short signal cycle, no fade)."""
    shutil.copytree(source, target, dirs_exist_ok=True)
    for profile, cap in caps.items():
        _rewrite_settle(target / f"{profile}.yaml", functools.partial(min, cap))
    return target


def _rewrite_settle(path: Path, settle: Callable[[float], float]) -> None:
    text = path.read_text(encoding="utf-8")
    found = _SETTLE.findall(text)
    if not found:
        raise ValueError(f"{path}: no settle_s to change")
    path.write_text(_SETTLE.sub(lambda m: f"settle_s: {settle(float(m.group(1)))}", text), encoding="utf-8")


_SETTLE = re.compile(r"settle_s: ([0-9.]+)")
