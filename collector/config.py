"""The collector's configuration: frozen pydantic models, loaded and checked before any I/O.

:func:`load_config` is the only place that sees YAML; every problem becomes a :class:`ConfigError`
naming the file, the field path (``broker.port``) and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

import configfile.loader
from collector.commands.config import CommandsConfig
from collector.errors import ConfigError
from collector.reports.config import ReportsConfig
from collector.sinks.url import StoreUrl
from configfile.loader import YamlError
from wire.topics import check_name

MIB = 1024 * 1024


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class BrokerConfig(_Model):
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    # The broker keeps the collector's subscriptions and unacknowledged messages this long while it is
    # away; 0 would turn a collector restart into data loss, so it is refused.
    session_expiry_s: Annotated[int, Field(ge=1, le=0xFFFFFFFF)] = 86_400
    # Unacknowledged messages the broker may have in flight to us (MQTT 5 flow control): on the live
    # session (.../telemetry) and on the backlog session (.../telemetry/backlog), each its own window.
    receive_maximum: Annotated[int, Field(ge=1, le=65535)] = 200
    backlog_receive_maximum: Annotated[int, Field(ge=1, le=65535)] = 200
    # MQTT 5 shared subscription group, for several collectors splitting the load (later scale-out).
    share_group: str | None = None

    @field_validator("share_group")
    @classmethod
    def _group(cls, v: str | None) -> str | None:
        return None if v is None else check_name("share group", v)


class SubscriptionConfig(_Model):
    site: str = "+"  # one site, or "+" for all

    @field_validator("site")
    @classmethod
    def _site(cls, v: str) -> str:
        return v if v == "+" else check_name("site", v)


class StoreConfig(_Model):
    # Four slashes: an absolute path (three would make it relative to the config file's folder).
    url: str = "sqlite:////var/lib/streetgate/collector.db"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str, info: ValidationInfo) -> str:
        url = StoreUrl.parse(v).check_built()  # what `collector run` would refuse, check-config refuses
        base = (info.context or {}).get("base_dir")
        return url.resolved(base).url if isinstance(base, Path) else url.url

    @property
    def store_url(self) -> StoreUrl:
        return StoreUrl.parse(self.url)


class IngestConfig(_Model):
    max_payload_bytes: Annotated[int, Field(ge=1024, le=256 * MIB)] = 4 * MIB
    max_messages_per_commit: Annotated[int, Field(ge=1, le=10_000)] = 64
    # Messages received but not yet committed. A broker must not send more than
    # broker.receive_maximum unacknowledged, but Mosquitto 2.0.11 does (each PUBACK releases another
    # window), so this is the bound that holds. Full: refuse and count (``overflow``); the refused
    # message is acknowledged (so it holds no in-flight slot) but neither stored nor confirmed: the
    # gateway re-sends it.
    max_queued_messages: Annotated[int, Field(ge=1, le=1_000_000)] = 2000
    # The same bound for the backlog session's messages (its own queue: a commit takes live ones first).
    max_queued_backlog_messages: Annotated[int, Field(ge=1, le=1_000_000)] = 2000


class CollectorConfig(_Model):
    collector_id: str = "collector-1"
    broker: BrokerConfig
    subscription: SubscriptionConfig = SubscriptionConfig()
    store: StoreConfig = StoreConfig()
    ingest: IngestConfig = IngestConfig()
    commands: CommandsConfig | None = None  # absent: this collector sends no commands
    reports: ReportsConfig | None = None  # absent: `collector report` has nothing to report on

    @field_validator("collector_id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_name("collector_id", v)

    @model_validator(mode="after")
    def _queue_holds_a_window(self) -> CollectorConfig:
        ingest, broker = self.ingest, self.broker
        pairs = (
            ("max_queued_messages", ingest.max_queued_messages, "receive_maximum", broker.receive_maximum),
            (
                "max_queued_backlog_messages",
                ingest.max_queued_backlog_messages,
                "backlog_receive_maximum",
                broker.backlog_receive_maximum,
            ),
        )
        for queue, q, window, r in pairs:
            if q < r:
                raise PydanticCustomError(
                    "queue_too_small",
                    "ingest.{queue}: must be at least broker.{window} ({r}), got {q}",
                    {"queue": queue, "window": window, "q": q, "r": r},
                )
        return self

    @property
    def backlog_client_id(self) -> str:
        """The MQTT client id of the backlog session."""
        return f"{self.collector_id}-backlog"


def load_config(path: Path | str) -> CollectorConfig:
    """Read, parse and validate a config file; relative SQLite paths are relative to its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("", f"cannot read: {exc}")]) from exc
    raw = _parse_yaml(path, text)
    try:
        config = CollectorConfig.model_validate(raw, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        raise ConfigError(path, [_problem(e) for e in exc.errors()]) from exc
    if config.commands is not None:  # what `command send` would refuse, check-config refuses
        try:
            config.commands.signer(path.parent.resolve())
        except ValueError as exc:
            raise ConfigError(
                path, [("commands.key_file", str(exc).removeprefix("commands.key_file: "))]
            ) from None
    return config


def _parse_yaml(path: Path, text: str) -> dict[str, Any]:
    try:
        raw = configfile.loader.parse(text, path)
    except YamlError as exc:
        where = f"line {exc.line}, column {exc.column}" if exc.line is not None else ""
        raise ConfigError(path, [(where, exc.reason)]) from exc
    if raw is None:
        raise ConfigError(
            path, [("", "the file is empty: expected a mapping with at least 'broker: {host: …}'")]
        )
    if not isinstance(raw, dict):
        raise ConfigError(path, [("", f"the top level must be a mapping, not a {type(raw).__name__}")])
    return raw


def _problem(error: ErrorDetails) -> tuple[str, str]:
    loc: tuple[str | int, ...] = error["loc"]
    where = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))
    if error["type"] == "extra_forbidden":
        return where, "unknown key"
    reason = str(error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    if error["type"] not in ("missing", "value_error") and not isinstance(given, dict | list):
        reason += f" (got {given!r})"
    return where, reason
