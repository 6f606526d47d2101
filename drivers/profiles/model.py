"""A device profile file (``configs/profiles/<name>.yaml``): a named, reusable list of points.

Register fields may be expressions over ``params`` (e.g. ``"25000 + 3200*c + 100*sa + 36"``); a device
in the agent's config names the profile and gives the params' values.

``protocol`` tells the kinds apart: ``modbus`` (the default, so older profiles need not say it) or
``opcua``, whose points name nodes by browse path under the device's ``root`` (``"Intersection_{id}"``)
or by node id, and may be expanded per param (``repeat: {n: [1, signal_groups]}``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from drivers.modbus.config import ModbusPointSpec, Order
from drivers.opcua.config import OpcUaPointSpec, ReadMode

ProfileName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class ModbusProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ProfileName
    protocol: Literal["modbus"] = "modbus"
    description: str = ""
    params: tuple[str, ...] = ()
    word_order: Order = Order.BIG
    byte_order: Order = Order.BIG
    points: tuple[ModbusPointSpec, ...]


class OpcUaProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ProfileName
    protocol: Literal["opcua"]
    description: str = ""
    params: tuple[str, ...] = ()
    namespace: str | None = Field(default=None, description="URI of the browse names without a prefix")
    root: str = Field(default="", description="browse path from the Objects folder; may use {params}")
    read: ReadMode = ReadMode.POLL
    sampling_interval_ms: float = Field(default=1000.0, ge=0, le=3_600_000)
    points: tuple[OpcUaPointSpec, ...]


Profile = ModbusProfile | OpcUaProfile


def parse_profile(data: Any) -> Profile:
    """Validate a profile file's content as the model its ``protocol`` names (``modbus`` if absent);
    raises pydantic's ValidationError, with locations inside the profile."""
    if isinstance(data, dict) and data.get("protocol") == "opcua":
        return OpcUaProfile.model_validate(data)
    return ModbusProfile.model_validate(data)  # refuses an unknown protocol too
