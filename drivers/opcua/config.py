"""What an OPC-UA server, device and point are: the YAML models (pydantic) and the resolved form
(dataclasses). Node ids and browse paths are parsed by :mod:`drivers.opcua.nodes`, points and devices
resolved by :mod:`drivers.opcua.resolve`, before any I/O; nothing here imports asyncua.

A point names its variable either by node id (``node: "ns=2;s=Tlc.Stage"``, ``nsu=<uri>;`` also works,
and survives a server that renumbers its namespaces) or by browse path relative to the device's root
(``path: Status/Stage``; the root is itself a browse path from the Objects folder). A path element
without a prefix is a browse name in the device's ``namespace`` (a URI, looked up on every connect);
``0:Server`` names namespace index 0 explicitly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.enum_map import EnumMap
from drivers.opcua.nodes import BrowseName, NodeRef, format_path
from drivers.profiles.device_actions import DeviceActions

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class ReadMode(enum.StrEnum):
    POLL = "poll"  # one Read request for all the device's polled nodes, at each read(device)
    SUBSCRIPTION = "subscription"  # monitored items: the driver keeps the latest value of each node


class TimestampSource(enum.StrEnum):
    """Which time a point's reading carries."""

    POLL = "poll"  # when the agent read it (the default)
    SOURCE = "source"  # the value's SourceTimestamp: when the device took it (else the poll's time)
    SERVER = "server"  # the value's ServerTimestamp: when the server last had it (else the poll's time)


class ValueType(enum.StrEnum):
    """What the point's value must be; a value of another kind is an error for that point."""

    AUTO = "auto"  # whatever scalar the server sends (bool, integer, float, text)
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STRING = "string"


class SecurityPolicy(enum.StrEnum):
    BASIC256SHA256 = "Basic256Sha256"


class SecurityMode(enum.StrEnum):
    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpcUaSecurity(_Model):
    """A secure channel. The server's certificate is pinned: a server showing another one is refused."""

    policy: SecurityPolicy
    mode: SecurityMode
    certificate: str = Field(min_length=1, description="our application instance certificate (PEM or DER)")
    private_key: str = Field(min_length=1, description="its private key (PEM or DER, unencrypted)")
    server_certificate: str = Field(min_length=1, description="the server's certificate (PEM or DER)")


class Reconnect(_Model):
    initial_s: float = Field(default=1.0, gt=0, le=60, description="wait after the first failed connect")
    max_s: float = Field(default=30.0, gt=0, le=3600, description="the wait doubles up to this")

    @model_validator(mode="after")
    def _ordered(self) -> Reconnect:
        if self.initial_s > self.max_s:
            raise ValueError(f"initial_s {self.initial_s} is above max_s {self.max_s}")
        return self


class OpcUaLink(_Model):
    kind: Literal["opcua"]
    endpoint: str = Field(
        pattern=r"^opc\.tcp://[^/:\s]+(:\d{1,5})?(/\S*)?$", description="opc.tcp://host:port"
    )
    security: Literal["none"] | OpcUaSecurity = "none"
    application_uri: str = Field(
        default="urn:streetgate:edge-agent", min_length=1, description="must match our certificate's URI"
    )
    timeout_s: float = Field(default=2.0, gt=0, le=60, description="for each request")
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120, description="TCP, hello, channel, session")
    session_timeout_s: float = Field(default=60.0, ge=10, le=3600, description="the server drops us after")
    keepalive_s: float = Field(default=5.0, ge=0.5, le=600, description="how often a silent server is probed")
    reconnect: Reconnect = Reconnect()

    @property
    def frame_gap_s(self) -> float:
        return 0.0  # a TCP session: no silence needed between requests


class OpcUaPointSpec(_Model):
    """One point as written in a config or profile. ``name``, ``node`` and ``path`` may use ``{param}``
    fields; ``repeat: {n: [1, signal_groups]}`` makes one point per value (bounds may be params)."""

    name: str = Field(min_length=1, max_length=64)
    node: str | None = None
    path: str | None = None
    type: ValueType = ValueType.AUTO
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    enum: EnumMap | None = Field(
        default=None, description="integer code -> label; a code not listed is an error"
    )
    read: ReadMode | None = None  # None: the device's
    sampling_interval_ms: float | None = Field(default=None, ge=0, le=3_600_000)
    timestamp: TimestampSource = TimestampSource.POLL
    repeat: dict[str, tuple[int | str, int | str]] | None = None

    @model_validator(mode="after")
    def _node_or_path(self) -> OpcUaPointSpec:
        if (self.node is None) == (self.path is None):
            raise ValueError("a point needs exactly one of node (a node id) and path (a browse path)")
        return self

    @model_validator(mode="after")
    def _enum_fits(self) -> OpcUaPointSpec:
        if self.enum is not None:
            if self.type not in (ValueType.AUTO, ValueType.INT):
                raise ValueError(f"enum maps integer codes: it cannot be used with type {self.type.value}")
            if self.scale != 1 or self.offset != 0:
                raise ValueError("enum maps raw codes: it cannot be combined with scale or offset")
        return self


@dataclass(frozen=True, slots=True)
class OpcUaPoint:
    name: str
    node: NodeRef | None  # exactly one of node and path
    path: tuple[BrowseName, ...] | None  # relative to the device's root
    type: ValueType = ValueType.AUTO
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    enum: tuple[tuple[int, str], ...] = ()  # (code, label), codes ascending; () = a plain value
    read: ReadMode = ReadMode.POLL
    sampling_interval_ms: float = 1000.0
    timestamp: TimestampSource = TimestampSource.POLL

    def where(self) -> str:
        return str(self.node) if self.node is not None else format_path(self.path or ())


@dataclass(frozen=True, slots=True)
class OpcUaDevice:
    name: str
    poll_interval_s: float
    points: tuple[OpcUaPoint, ...]
    root: tuple[BrowseName, ...] = ()  # browse path from the Objects folder; () = the Objects folder
    namespace: str | None = None  # URI of the browse names without a prefix
    timeout_s: float | None = None  # None: the link's timeout_s
    actions: DeviceActions | None = None  # from its profile's ``actions:``; None: it takes no command
