"""What an OPC-UA server, device and point are: the YAML models (pydantic) and the resolved form
(dataclasses). Node ids and browse paths are parsed here, before any I/O; nothing here imports asyncua.

A point names its variable either by node id (``node: "ns=2;s=Tlc.Stage"``, ``nsu=<uri>;`` also works,
and survives a server that renumbers its namespaces) or by browse path relative to the device's root
(``path: Status/Stage``; the root is itself a browse path from the Objects folder). A path element
without a prefix is a browse name in the device's ``namespace`` (a URI, looked up on every connect);
``0:Server`` names namespace index 0 explicitly.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.enum_map import EnumMap
from drivers.profiles.expr import evaluate
from drivers.profiles.template import fill

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


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


# --- node ids and browse paths ----------------------------------------------------------------


class IdKind(enum.StrEnum):
    NUMERIC = "i"
    STRING = "s"
    GUID = "g"
    OPAQUE = "b"


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node id: in namespace ``namespace`` (an index, or a URI resolved on connect)."""

    namespace: int | str
    kind: IdKind
    identifier: str

    def __str__(self) -> str:
        ns = f"ns={self.namespace};" if isinstance(self.namespace, int) else f"nsu={self.namespace};"
        return f"{ns}{self.kind.value}={self.identifier}"


_NODE_ID = re.compile(r"^(?:ns=(?P<ns>\d+);|nsu=(?P<nsu>[^;]+);)?(?P<kind>[isgb])=(?P<id>.+)$", re.DOTALL)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_node_id(text: str) -> NodeRef:
    m = _NODE_ID.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a node id ('ns=2;s=Name', 'nsu=urn:x;i=42', 'i=2258')")
    kind = IdKind(m["kind"])
    ident = m["id"]
    if kind is IdKind.NUMERIC and not (ident.isdigit() and int(ident) < 2**32):
        raise ValueError(f"{text!r}: a numeric identifier is 0..4294967295")
    if kind is IdKind.GUID and not _GUID.match(ident):
        raise ValueError(f"{text!r}: a guid identifier is 8-4-4-4-12 hex digits")
    if m["ns"] is not None and int(m["ns"]) > 65535:
        raise ValueError(f"{text!r}: a namespace index is 0..65535")
    namespace: int | str = m["nsu"] if m["nsu"] is not None else int(m["ns"] or 0)
    return NodeRef(namespace, kind, ident)


@dataclass(frozen=True, slots=True)
class BrowseName:
    name: str
    namespace: int | None = None  # None: the device's namespace

    def __str__(self) -> str:
        return self.name if self.namespace is None else f"{self.namespace}:{self.name}"


def parse_path(text: str) -> tuple[BrowseName, ...]:
    """``Status/Stage`` or ``0:Server/0:ServerStatus``: browse names separated by ``/``."""
    if not text:
        return ()
    out = []
    for element in text.split("/"):
        m = re.match(r"^(?:(\d{1,5}):)?([^/:]+)$", element)
        if m is None:
            raise ValueError(f"browse path {text!r}: element {element!r} is not a name or 'index:name'")
        out.append(BrowseName(m[2], int(m[1]) if m[1] is not None else None))
    return tuple(out)


def format_path(path: tuple[BrowseName, ...]) -> str:
    return "/".join(str(b) for b in path)


# --- points and devices -----------------------------------------------------------------------


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


class PointError(ValueError):
    """A point that cannot be resolved; ``index`` and ``field`` place it in its list."""

    def __init__(self, index: int, field: str, reason: str) -> None:
        super().__init__(f"points[{index}].{field}: {reason}")
        self.index = index
        self.field = field
        self.reason = reason


def resolve_points(
    specs: tuple[OpcUaPointSpec, ...],
    params: Mapping[str, int | str],
    *,
    read: ReadMode = ReadMode.POLL,
    sampling_interval_ms: float = 1000.0,
    namespace: str | None = None,
) -> tuple[OpcUaPoint, ...]:
    """Expand ``repeat``, fill the templates, parse node ids and paths, refuse duplicate names."""
    numbers = {k: v for k, v in params.items() if isinstance(v, int)}
    points: list[OpcUaPoint] = []
    names: dict[str, int] = {}
    for i, s in enumerate(specs):
        keys = sorted(s.repeat or {})
        ranges = []
        for k in keys:
            lo, hi = (s.repeat or {})[k]
            try:
                ranges.append(range(evaluate(lo, numbers), evaluate(hi, numbers) + 1))
            except ValueError as exc:
                raise PointError(i, f"repeat.{k}", str(exc)) from None
        for combo in itertools.product(*ranges):
            values = {**params, **dict(zip(keys, combo, strict=True))}
            p = _resolve(i, s, values, read, sampling_interval_ms)
            if p.path is not None and namespace is None and any(b.namespace is None for b in p.path):
                reason = (
                    f"browse path {format_path(p.path)!r} has names without 'index:' and no namespace is set"
                )
                raise PointError(i, "path", reason)
            if p.name in names:
                raise PointError(i, "name", f"duplicate point name {p.name!r} (also points[{names[p.name]}])")
            names[p.name] = i
            points.append(p)
    return tuple(points)


def _resolve(
    i: int,
    s: OpcUaPointSpec,
    values: Mapping[str, int | str],
    read: ReadMode,
    sampling_interval_ms: float,
) -> OpcUaPoint:
    try:
        name = fill(s.name, values)
    except ValueError as exc:
        raise PointError(i, "name", str(exc)) from None
    if not _NAME.match(name):
        raise PointError(i, "name", f"{name!r}: lowercase letters, digits and _, starting with a letter")
    node = path = None
    field = "node" if s.node is not None else "path"
    try:
        if s.node is not None:
            node = parse_node_id(fill(s.node, values))
        else:
            path = parse_path(fill(s.path or "", values))
            if not path:
                raise ValueError("an empty browse path")
    except ValueError as exc:
        raise PointError(i, field, str(exc)) from None
    return OpcUaPoint(
        name=name,
        node=node,
        path=path,
        type=s.type,
        scale=s.scale,
        offset=s.offset,
        unit=s.unit,
        enum=tuple(sorted(s.enum.items())) if s.enum else (),
        read=s.read or read,
        sampling_interval_ms=s.sampling_interval_ms
        if s.sampling_interval_ms is not None
        else sampling_interval_ms,
        timestamp=s.timestamp,
    )


def resolve_device(
    name: str,
    *,
    poll_interval_s: float,
    points: tuple[OpcUaPointSpec, ...],
    params: Mapping[str, int | str],
    root: str = "",
    namespace: str | None = None,
    read: ReadMode = ReadMode.POLL,
    sampling_interval_ms: float = 1000.0,
    timeout_s: float | None = None,
) -> OpcUaDevice:
    """A device from its points (a profile's followed by its own) and params. Raises :class:`PointError`
    for a point, :class:`RootError` for the root."""
    try:
        root_path = parse_path(fill(root, params))
    except ValueError as exc:
        raise RootError(str(exc)) from None
    if namespace is None and any(b.namespace is None for b in root_path):
        raise RootError(f"browse path {root!r} has names without 'index:' and no namespace is set")
    resolved = resolve_points(
        points, params, read=read, sampling_interval_ms=sampling_interval_ms, namespace=namespace
    )
    return OpcUaDevice(name, poll_interval_s, resolved, root_path, namespace, timeout_s)


class RootError(ValueError):
    """The device's root browse path does not resolve."""
