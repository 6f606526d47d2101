"""A device profile file (``configs/profiles/<name>.yaml``): a named, reusable list of points.

Register fields may be expressions over ``params`` (e.g. ``"25000 + 3200*c + 100*sa + 36"``); a device
in the agent's config names the profile and gives the params' values.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from drivers.modbus.config import ModbusPointSpec, Order


class ModbusProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    protocol: Literal["modbus"] = "modbus"
    description: str = ""
    params: tuple[str, ...] = ()
    word_order: Order = Order.BIG
    byte_order: Order = Order.BIG
    points: tuple[ModbusPointSpec, ...]
