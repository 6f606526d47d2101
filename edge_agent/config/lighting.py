"""The ``lighting:`` section of the agent config: the gateway runs the street lighting's program set by
itself (``docs/lighting.md``). It needs ``commands:`` (the centre's keys verify the set; each step runs
as a command) and ``location:`` (sunset and sunrise)."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge_agent.config.faults import FaultsConfig
from lighting.sun import check_timezone


class ClockSync(enum.StrEnum):
    KERNEL = "kernel"  # trusted while the kernel says an NTP daemon synchronised it (adjtimex)
    ASSUME = "assume"  # trusted from the start (a bench; a clock set by other means)


class LightingConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = Field(
        description="the site's IANA time zone, e.g. Europe/Paris: fixed-time steps are local"
    )
    store: str = Field(
        default="/var/lib/streetgate/lighting.db",
        description="the installed program set (survives a restart)",
    )
    default_level: int = Field(
        default=100,
        ge=0,
        le=100,
        description="% dusk to dawn while no set is installed, and without a trusted clock",
    )
    tick_s: float = Field(default=60.0, ge=1, le=3600, description="the runner looks at least this often")
    retry_s: float = Field(
        default=300.0, ge=1, le=86400, description="a level not confirmed is tried again after"
    )
    clock_step_tolerance_s: float = Field(
        default=300.0,
        ge=1,
        description="a wall-clock step beyond it: the clock is not trusted until synchronised",
    )
    clock_sync: ClockSync = Field(
        default=ClockSync.KERNEL,
        description="kernel: the clock is trusted only while the kernel says it is synchronised "
        "(never synchronised: the default level); assume: trusted from the start",
    )
    order_ttl_s: float = Field(
        default=60.0, gt=0, le=900, description="each step's command is valid this long"
    )
    faults: FaultsConfig = Field(
        default_factory=FaultsConfig, description="lamp and behaviour fault thresholds (docs/lighting.md)"
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return check_timezone(v)
