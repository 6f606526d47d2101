"""The ``lighting.faults:`` section of the agent config: the thresholds by which the gateway judges a
luminaire's lamp and behaviour faults from its polls (:mod:`edge_agent.lighting.faults`,
``docs/lighting.md``, "Faults at the edge"). Every field has a default, so ``faults: {}`` is a valid
section; a value out of range refuses the config with the field named."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FaultsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dimming_tolerance_pct: float = Field(
        default=10.0,
        gt=0,
        le=100,
        description="dimming failure: the level read differs from the level commanded by more than this "
        "(percentage points of light), once the ramp is over",
    )
    ramp_grace_s: float = Field(
        default=120.0,
        ge=0,
        le=3600,
        description="a level is judged only once the level wanted has held this long (the ramp, the gear's "
        "fade, a mains contactor closing)",
    )
    cycling_max_starts: int = Field(
        default=4, ge=1, le=10_000, description="cycling: more gear starts (switch-ons) than this ..."
    )
    cycling_window_min: float = Field(
        default=60.0, gt=0, le=7 * 24 * 60, description="... within this many minutes"
    )
    supply_min_v: float = Field(
        default=170.0,
        gt=0,
        le=500,
        description="supply loss: the gear measures a supply voltage below this (V)",
    )
    comm_failure_after_polls: int = Field(
        default=2,
        ge=1,
        le=100,
        description="control-gear communication failure: this many polls in a row without an answer",
    )
    switched_mains: bool = Field(
        default=False,
        description="the luminaires' mains are switched by the cabinet: while the program wants them off, "
        "no answer and 0 V are expected, not faults",
    )
