"""The ``commands:`` section of the agent config: whose commands the gateway obeys and how it signs its
results (``docs/protocol.md``, "Commands and results"). Resolved into a key ring and a signer, with the
private key read from its file, so that ``check-config`` refuses what ``run`` would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from configfile.secrets import SecretFileError, read_secret
from wire.signing import KeyRing, Signer, parse_private_key, parse_public_key

DEFAULT_KEYS = Path("/etc/streetgate/keys")


class CommandsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(description="this gateway's key id: it signs its results with it")
    key_file: str | None = Field(
        default=None,
        description="its private key (edge-agent keygen); default /etc/streetgate/keys/<key_id>.key",
    )
    centre_keys: dict[str, str] = Field(
        min_length=1,
        description="the centre's public keys by key id (`ed25519:...`), two at most during a rotation",
    )
    revoked: tuple[str, ...] = Field(default=(), description="key ids refused even if still listed")
    skew_s: float = Field(default=5.0, ge=0, le=300, description="clock-skew allowance with the centre")
    ledger: str = Field(
        default="/var/lib/streetgate/commands.db", description="the ids of commands received (replay store)"
    )

    @model_validator(mode="after")
    def _ring(self) -> CommandsConfig:
        for key_id, text in self.centre_keys.items():
            try:
                parse_public_key(text)
            except ValueError as exc:
                raise ValueError(f"centre_keys.{key_id}: {exc}") from None
        self.key_ring()  # the ring's own rules: key ids, two valid keys at most
        Signer(self.key_id, bytes(32))  # the key id's form
        return self

    def key_ring(self) -> KeyRing:
        return KeyRing.parse(self.centre_keys, self.revoked)


@dataclass(frozen=True, slots=True)
class ResolvedCommands:
    ring: KeyRing  # the centre's keys
    signer: Signer  # this gateway's
    skew_ms: int
    ledger_path: Path


def resolve_commands(cfg: CommandsConfig, base: Path) -> ResolvedCommands:
    """Read the private key; raises ValueError naming ``commands.key_file`` and the file."""
    key_file = base / cfg.key_file if cfg.key_file else DEFAULT_KEYS / f"{cfg.key_id}.key"
    try:
        private = parse_private_key(read_secret(key_file))
    except SecretFileError as exc:
        raise ValueError(f"commands.key_file: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"commands.key_file: {key_file}: {exc}") from None
    return ResolvedCommands(
        ring=cfg.key_ring(),
        signer=Signer(cfg.key_id, private),
        skew_ms=round(cfg.skew_s * 1000),
        ledger_path=(base / cfg.ledger).resolve(),
    )
