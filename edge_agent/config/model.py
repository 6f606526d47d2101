"""The agent config as written in YAML (frozen pydantic models, unknown keys refused).

Buses are a tagged union on ``kind`` (``modbus_tcp``, ``modbus_rtu``, ``dali_serial``, ``opcua``); each
bus lists the devices reached through it, and one bus is one physical link with one request queue
(:mod:`drivers.scheduler`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drivers.dali.config import DaliDeviceSpec, DaliSerialLink, resolve_devices
from drivers.device import DeviceName, DeviceSpec
from drivers.modbus.config import ModbusPointSpec, ModbusRtuLink, ModbusTcpLink, Order
from drivers.opcua.config import OpcUaLink, OpcUaPointSpec, ReadMode
from edge_agent.buffer.retention import WhenFull
from edge_agent.config.commands import CommandsConfig
from edge_agent.config.lighting import LightingConfig
from edge_agent.poll.report import ReportSpec
from wire.topics import check_name


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BrokerConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    client_id: str | None = None  # default: the gateway id
    reconnect_initial_s: float = Field(default=0.2, gt=0, le=60)
    reconnect_cap_s: float = Field(
        default=1.5, gt=0, le=600, description="upper bound of the jittered reconnect delay"
    )
    session_expiry_s: int = Field(
        default=3600,
        ge=0,
        le=7 * 86400,
        description="the broker keeps the session (and queues QoS-1 commands) this long while the agent "
        "is away; 0: a clean session on every connect",
    )


class BufferConfig(_Model):
    path: str = "/var/lib/streetgate/buffer.db"
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=256 * 1024, description="disk cap of the buffer")
    commit_interval_s: float = Field(
        default=0.5, ge=0, le=5, description="group commits at most this often (each commit is an fsync)"
    )
    when_full: WhenFull = Field(
        default=WhenFull.DROP_OLDEST, description="drop_oldest, or thin: keep every n-th old measurement"
    )
    thin_keep: int = Field(default=2, ge=2, le=100, description="with thin: keep every n-th measurement")
    max_age_s: float | None = Field(default=None, gt=0, description="readings older than this are dropped")


class UplinkConfig(_Model):
    batch_max_readings: int = Field(
        default=1000, ge=1, le=20000, description="the most readings in a live batch (a chunk of the buffer)"
    )
    batch_linger_s: float = Field(
        default=0.1,
        ge=0,
        le=60,
        description="while the uplink is idle, fresh readings wait at most this long (and never past the "
        "next group commit) to share a batch",
    )
    in_flight_batches: int = Field(default=8, ge=1, le=1000, description="sent, not yet confirmed")
    confirm_timeout_s: float = Field(default=15.0, gt=0, le=3600, description="re-send after this")
    max_queued_confirmations: int = Field(
        default=1000, ge=1, le=100_000, description="received, not yet applied; past it: drop the newest"
    )
    backlog_topic: bool = Field(
        default=True,
        description="the backlog and re-sends on .../telemetry/backlog; false: all on .../telemetry "
        "(for a collector older than the backlog topic)",
    )


class OutboxConfig(_Model):
    """Command results and events wait here until the collector confirms them; never dropped."""

    path: str | None = Field(
        default=None, description="the outbox's SQLite file; default: outbox.db beside buffer.path"
    )
    max_messages: int = Field(
        default=500, ge=1, le=100_000, description="the bound: when reached, new work is refused"
    )
    confirm_timeout_s: float = Field(default=15.0, gt=0, le=3600, description="re-send after this")


class ModbusDeviceSpec(DeviceSpec):
    """A Modbus device (a unit id), or one per value of its ``repeat`` (the values are params too)."""

    unit: int = Field(default=1, ge=0, le=247)
    timeout_s: float | None = Field(default=None, gt=0, le=60, description="overrides the bus timeout_s")
    profile: str | None = None
    params: dict[str, int] = Field(default_factory=dict)
    word_order: Order | None = None
    byte_order: Order | None = None
    points: tuple[ModbusPointSpec, ...] = ()

    @model_validator(mode="after")
    def _points_or_profile(self) -> ModbusDeviceSpec:
        if not self.points and self.profile is None:
            raise ValueError("a device needs points or a profile")
        return self


BackoffMax = Annotated[
    float, Field(ge=1, le=3600, description="longest wait between two tries of a device that does not answer")
]


class ModbusTcpBus(ModbusTcpLink):
    name: DeviceName
    backoff_max_s: BackoffMax = 60.0
    devices: tuple[ModbusDeviceSpec, ...] = Field(min_length=1)


class ModbusRtuBus(ModbusRtuLink):
    name: DeviceName
    backoff_max_s: BackoffMax = 60.0
    devices: tuple[ModbusDeviceSpec, ...] = Field(min_length=1)


class DaliSerialBus(DaliSerialLink):
    """A DALI line through a serial interface (drivers/dali): refused when its devices' reads do not fit
    their poll intervals on the bus (≈ 50 ms a query, devices.md §1.7)."""

    name: DeviceName
    backoff_max_s: BackoffMax = 60.0
    devices: tuple[DaliDeviceSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _fits_the_line(self) -> DaliSerialBus:
        from drivers.dali.plan import line_problems

        resolve_devices(self.devices)  # a short address or name used twice
        problems = line_problems(self, self.devices)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class OpcUaDeviceSpec(DeviceSpec):
    """A device on an OPC-UA server: a profile (``traffic-controller``) with its params, or points of its
    own, or both; ``root``, ``namespace``, ``read`` and ``sampling_interval_ms`` override the profile's."""

    timeout_s: float | None = Field(default=None, gt=0, le=60, description="overrides the bus timeout_s")
    profile: str | None = None
    params: dict[str, int | str] = Field(default_factory=dict)
    root: str | None = Field(default=None, description="browse path from the Objects folder")
    namespace: str | None = Field(default=None, description="URI of the browse names without a prefix")
    read: ReadMode | None = None
    sampling_interval_ms: float | None = Field(default=None, ge=0, le=3_600_000)
    points: tuple[OpcUaPointSpec, ...] = ()

    @model_validator(mode="after")
    def _points_or_profile(self) -> OpcUaDeviceSpec:
        if not self.points and self.profile is None:
            raise ValueError("a device needs points or a profile")
        return self


class OpcUaBus(OpcUaLink):
    """An OPC-UA server (drivers/opcua): one session, shared by the devices it serves."""

    name: DeviceName
    backoff_max_s: BackoffMax = 60.0
    devices: tuple[OpcUaDeviceSpec, ...] = Field(min_length=1)


BusConfig = ModbusTcpBus | ModbusRtuBus
AnyBus = BusConfig | DaliSerialBus | OpcUaBus
Bus = Annotated[AnyBus, Field(discriminator="kind")]


class Location(_Model):
    """Where the cabinet stands: the astronomical clock's sunset and sunrise (night-floor interlocks)."""

    latitude: float = Field(ge=-90, le=90, description="degrees, north positive")
    longitude: float = Field(ge=-180, le=180, description="degrees, east positive")


class ReportRule(ReportSpec):
    """Report by exception for the points it matches (shell-style patterns: ``lum-*``, ``active_*``)."""

    devices: str = "*"
    points: tuple[str, ...] = ("*",)


class AgentConfig(_Model):
    gateway: str
    site: str
    broker: BrokerConfig = BrokerConfig()
    buffer: BufferConfig = BufferConfig()
    uplink: UplinkConfig = UplinkConfig()
    outbox: OutboxConfig = OutboxConfig()
    status_socket: str = Field(
        default="/run/streetgate/edge-agent.sock", description="local socket for `edge-agent status`"
    )
    health_interval_s: float = Field(default=60.0, ge=1, le=86400, description="`_agent` points period")
    profile_paths: tuple[str, ...] = ("profiles",)
    report: tuple[ReportRule, ...] = Field(
        default=(), description="report by exception: the first rule matching a device and point applies"
    )
    buses: tuple[Bus, ...] = Field(min_length=1)
    commands: CommandsConfig | None = None  # absent: the gateway takes no commands
    location: Location | None = Field(
        default=None, description="absent: a command a night-floor interlock judges is refused"
    )
    lighting: LightingConfig | None = Field(
        default=None,
        description="absent: the gateway runs no lighting program (needs commands: and location:)",
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="values a profile's method calls take by name (a controller's security code); "
        "never from a command",
    )

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, v: str) -> str:
        return check_name("gateway", v)

    @field_validator("site")
    @classmethod
    def _site(cls, v: str) -> str:
        return check_name("site", v)

    @model_validator(mode="after")
    def _lighting_needs(self) -> AgentConfig:
        if self.lighting is not None and self.commands is None:
            raise ValueError("lighting: needs a commands: section (the centre's keys sign the program set)")
        if self.lighting is not None and self.location is None:
            raise ValueError("lighting: needs location: (latitude and longitude: sunset and sunrise)")
        return self

    @model_validator(mode="after")
    def _outbox_apart(self) -> AgentConfig:
        if self.outbox.path is not None and self.outbox.path == self.buffer.path:
            raise ValueError("outbox.path: must not be buffer.path (each has its own file)")
        return self

    @field_validator("buses")
    @classmethod
    def _unique_buses(cls, v: tuple[AnyBus, ...]) -> tuple[AnyBus, ...]:
        seen: set[str] = set()
        ports: dict[str, int] = {}
        for i, b in enumerate(v):
            if b.name in seen:
                raise ValueError(f"buses[{i}].name: duplicate bus name {b.name!r}")
            seen.add(b.name)
            if isinstance(b, ModbusRtuBus | DaliSerialBus):
                if b.port in ports:
                    # two queues on one line would put two requests on the wire at once
                    raise ValueError(
                        f"buses[{i}].port: {b.port} is also buses[{ports[b.port]}]: one line, one bus"
                    )
                ports[b.port] = i
        return v
