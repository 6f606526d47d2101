"""A device profile file (``configs/profiles/<name>.yaml``): a named, reusable list of points.

Register fields may be expressions over ``params`` (e.g. ``"25000 + 3200*c + 100*sa + 36"``); a device
in the agent's config names the profile and gives the params' values.

``protocol`` tells the kinds apart: ``modbus`` (the default, so older profiles need not say it) or
``opcua``, whose points name nodes by browse path under the device's ``root`` (``"Intersection_{id}"``)
or by node id, and may be expanded per param (``repeat: {n: [1, signal_groups]}``).

``dali`` profiles carry no points (a DALI device lists the quantities it reads): they declare what a
command may do to a control gear on a DALI line, each action calling a
:class:`~drivers.dali.config.GearCommand` (``DAPC`` with its ``level`` input, ``OFF``,
``RECALL_MAX_LEVEL``, ``RECALL_MIN_LEVEL``); a read-back or interlock names quantities, and a device
using the profile must read those.

``actions`` and ``interlocks`` declare what a command may do to such a device
(:mod:`drivers.profiles.actions`); ``param_defaults`` are optional params (a luminaire's ``min_level``)
that a device may set.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.dali.config import GEAR_COMMAND_INPUTS, GearCommand, Quantity
from drivers.modbus.config import ModbusPointSpec, Order
from drivers.opcua.config import OpcUaPointSpec, ReadMode
from drivers.profiles.action_checks import check_actions
from drivers.profiles.actions import ActionSpec, InterlockSpec

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
    param_defaults: dict[str, int] = Field(default_factory=dict)
    interlocks: tuple[InterlockSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()

    @model_validator(mode="after")
    def _actions_refer_to_the_profile(self) -> Self:
        _check(self, frozenset(p.name for p in self.points), "modbus")
        return self


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
    param_defaults: dict[str, int | str] = Field(default_factory=dict)
    interlocks: tuple[InterlockSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()

    @model_validator(mode="after")
    def _actions_refer_to_the_profile(self) -> Self:
        # a read-back or interlock names a plain point: a repeated one's names exist per device only
        _check(self, frozenset(p.name for p in self.points if not p.repeat), "opcua")
        return self


class DaliProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ProfileName
    protocol: Literal["dali"]
    description: str = ""
    params: tuple[str, ...] = ()
    param_defaults: dict[str, int] = Field(default_factory=dict)
    interlocks: tuple[InterlockSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _actions_call_gear_commands(self) -> Self:
        _check(self, frozenset(q.value for q in Quantity), "dali")
        for a in self.actions:
            assert a.call is not None  # checked by _check: a DALI profile acts by call
            try:
                command = GearCommand(a.call.method)
            except ValueError:
                known = ", ".join(GearCommand)
                raise ValueError(
                    f"actions ({a.name}).call.method: {a.call.method!r} is not a DALI gear command ({known})"
                ) from None
            wanted = set(GEAR_COMMAND_INPUTS[command])
            if set(a.call.args) != wanted:
                raise ValueError(
                    f"actions ({a.name}).call.args: {command.value} takes {sorted(wanted) or 'no inputs'}, "
                    f"not {sorted(a.call.args) or 'none'}"
                )
        return self


Profile = ModbusProfile | OpcUaProfile | DaliProfile


def parse_profile(data: Any) -> Profile:
    """Validate a profile file's content as the model its ``protocol`` names (``modbus`` if absent);
    raises pydantic's ValidationError, with locations inside the profile."""
    if isinstance(data, dict) and data.get("protocol") == "opcua":
        return OpcUaProfile.model_validate(data)
    if isinstance(data, dict) and data.get("protocol") == "dali":
        return DaliProfile.model_validate(data)
    return ModbusProfile.model_validate(data)  # refuses an unknown protocol too


def _check(profile: Profile, points: frozenset[str], protocol: str) -> None:
    if overlap := sorted(set(profile.params) & set(profile.param_defaults)):
        raise ValueError(f"param_defaults: {overlap[0]!r} is a required param: it cannot have a default")
    check_actions(
        profile.actions,
        profile.interlocks,
        params=profile.params,
        param_defaults=profile.param_defaults,
        points=points,
        protocol=protocol,
    )
