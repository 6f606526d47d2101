"""The agent config as written in YAML (frozen pydantic models, unknown keys refused).

Buses are a tagged union on ``kind`` so that serial lines (``modbus_rtu``), OPC-UA servers and DALI
interfaces join later as new members; each bus lists the devices reached through it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drivers.modbus.config import ModbusPointSpec, ModbusTcpLink, Order
from edge_agent.wire.topics import check_name

DeviceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.{}:-]{0,63}$")]


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


class BufferConfig(_Model):
    path: str = "/var/lib/streetgate/buffer.db"
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024, description="disk cap of the buffer")
    commit_interval_s: float = Field(
        default=0.5, ge=0, le=5, description="group commits at most this often (each commit is an fsync)"
    )


class UplinkConfig(_Model):
    batch_max_readings: int = Field(default=1000, ge=1, le=20000)
    batch_linger_s: float = Field(default=1.0, ge=0, le=60, description="wait this long to fill a batch")
    in_flight_batches: int = Field(default=8, ge=1, le=1000, description="sent, not yet confirmed")
    confirm_timeout_s: float = Field(default=15.0, gt=0, le=3600, description="re-send after this")


class ModbusDeviceSpec(_Model):
    name: DeviceName
    unit: int = Field(default=1, ge=0, le=247)
    poll_interval_s: float = Field(default=10.0, ge=0.05, le=86400)
    profile: str | None = None
    params: dict[str, int] = Field(default_factory=dict)
    repeat: dict[str, tuple[int, int]] | None = Field(
        default=None, description="expand into one device per value: {sa: [0, 49]}; name uses {sa}"
    )
    word_order: Order | None = None
    byte_order: Order | None = None
    points: tuple[ModbusPointSpec, ...] = ()

    @model_validator(mode="after")
    def _points_or_profile(self) -> ModbusDeviceSpec:
        if not self.points and self.profile is None:
            raise ValueError("a device needs points or a profile")
        if self.repeat:
            for key, (lo, hi) in self.repeat.items():
                if lo > hi:
                    raise ValueError(f"repeat.{key}: first value {lo} is above last {hi}")
                if "{" + key not in self.name:
                    raise ValueError(f"repeat over {key!r} needs {{{key}}} in the device name")
        return self


class ModbusTcpBus(ModbusTcpLink):
    name: DeviceName
    devices: tuple[ModbusDeviceSpec, ...] = Field(min_length=1)


Bus = Annotated[ModbusTcpBus, Field(discriminator="kind")]


class AgentConfig(_Model):
    gateway: str
    site: str
    broker: BrokerConfig = BrokerConfig()
    buffer: BufferConfig = BufferConfig()
    uplink: UplinkConfig = UplinkConfig()
    status_socket: str = Field(
        default="/run/streetgate/edge-agent.sock", description="local socket for `edge-agent status`"
    )
    health_interval_s: float = Field(default=60.0, ge=1, le=86400, description="`_agent` points period")
    profile_paths: tuple[str, ...] = ("profiles",)
    buses: tuple[Bus, ...] = Field(min_length=1)

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, v: str) -> str:
        return check_name("gateway", v)

    @field_validator("site")
    @classmethod
    def _site(cls, v: str) -> str:
        return check_name("site", v)

    @field_validator("buses")
    @classmethod
    def _unique_buses(cls, v: tuple[ModbusTcpBus, ...]) -> tuple[ModbusTcpBus, ...]:
        seen: set[str] = set()
        for i, b in enumerate(v):
            if b.name in seen:
                raise ValueError(f"buses[{i}].name: duplicate bus name {b.name!r}")
            seen.add(b.name)
        return v
