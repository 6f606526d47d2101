"""The ``commands:`` section of the collector config: the centre's signing key, and each gateway's site
and public keys (which verify its results)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from configfile.secrets import SecretFileError, read_secret
from wire.signing import KeyRing, Signer, parse_private_key, parse_public_key
from wire.topics import check_name


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GatewayKeys(_Model):
    site: str
    keys: dict[str, str] = Field(min_length=1, description="the gateway's public keys by key id")
    revoked: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ring(self) -> GatewayKeys:
        check_name("site", self.site)
        for key_id, text in self.keys.items():
            try:
                parse_public_key(text)
            except ValueError as exc:
                raise ValueError(f"keys.{key_id}: {exc}") from None
        self.key_ring()
        return self

    def key_ring(self) -> KeyRing:
        return KeyRing.parse(self.keys, self.revoked)


class CommandsConfig(_Model):
    key_id: str = Field(description="the centre's key id: commands are signed with it")
    key_file: str | None = Field(
        default=None,
        description="its private key (collector keygen); default /etc/streetgate/keys/<key_id>.key",
    )
    default_expiry_s: Annotated[float, Field(gt=0, le=86_400)] = 30.0
    gateways: dict[str, GatewayKeys] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> CommandsConfig:
        Signer(self.key_id, bytes(32))  # the key id's form
        for gateway in self.gateways:
            check_name("gateway", gateway)
        return self

    def key_path(self, base: Path | None) -> Path:
        if self.key_file is None:
            return Path("/etc/streetgate/keys") / f"{self.key_id}.key"
        path = Path(self.key_file)
        return path if path.is_absolute() or base is None else base / path

    def signer(self, base: Path | None) -> Signer:
        """The centre's signer; raises ValueError naming ``commands.key_file`` and the file."""
        path = self.key_path(base)
        try:
            return Signer(self.key_id, parse_private_key(read_secret(path)))
        except SecretFileError as exc:
            raise ValueError(f"commands.key_file: {exc}") from None
        except ValueError as exc:
            raise ValueError(f"commands.key_file: {path}: {exc}") from None
