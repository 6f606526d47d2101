"""Actions and interlocks declared in a profile (``actions:``, ``interlocks:``): what a command may ask a
device to do, with what arguments, by which write or method call, how a read-back proves it, and which
interlocks must pass first. Data, checked when the profile is loaded; nothing here runs a command.

- An **action** has typed ``args`` (int, float, bool, str, enum with its codes; bounds, required or a
  default), one way to act — ``write`` (Modbus: blocks of holding registers, each one request, values
  are integer expressions over args, params and ``sequence``, the mailbox's sequence number the
  executor supplies) or ``call`` (OPC-UA: a method under the device's root, its arguments taken from
  an arg, a constant, a param or a ``secret`` of the agent's config, never from the command) — a
  ``read_back``, a ``max_ttl_s``, the names of its ``interlocks`` and ``emergency: true`` (nothing
  refuses it: no interlock, no maintenance mode).
- An **interlock** is one of three kinds: ``point_state`` (refuse while a freshly read point has a
  listed value, unless the command carries ``unless_arg: true``), ``arg_range`` (an argument within
  per-device bounds, numbers or param names) and ``night_floor`` (between sunset and sunrise an
  argument not below a floor unless ``override_arg: true``). :mod:`edge_agent.commands.interlocks`
  evaluates them.

Expressions use :mod:`drivers.profiles.expr` (integers, names, ``+ - * //``); a bool arg counts 0/1
and an enum arg its code.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Scalar = bool | int | float | str
SEQUENCE = "sequence"  # the mailbox sequence number, supplied by the executor, never by the command
MAX_TTL_S = 86_400


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ArgType(enum.StrEnum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"
    ENUM = "enum"


class ArgSpec(_Model):
    """One argument of an action. ``values`` (enum only) maps each allowed label to the code written."""

    name: Name
    type: ArgType
    min: float | None = None
    max: float | None = None
    values: dict[str, int] | None = None
    required: bool = True
    default: Scalar | None = None
    max_length: int = Field(default=64, ge=1, le=512, description="str only")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        numeric = self.type in (ArgType.INT, ArgType.FLOAT)
        if (self.min is not None or self.max is not None) and not numeric:
            raise ValueError(f"arg {self.name!r}: min/max apply to int and float args, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"arg {self.name!r}: min {self.min} is above max {self.max}")
        if (self.type is ArgType.ENUM) != (self.values is not None):
            raise ValueError(f"arg {self.name!r}: an enum arg needs values (label: code), no other type has")
        if self.values is not None and not self.values:
            raise ValueError(f"arg {self.name!r}: values must list at least one label")
        if self.default is not None:
            if self.required:
                raise ValueError(f"arg {self.name!r}: a default makes no sense for a required arg")
            if (problem := self.problem(self.default)) is not None:
                raise ValueError(f"arg {self.name!r}: default {problem}")
        return self

    def problem(self, value: object) -> str | None:
        """Why ``value`` does not fit this arg (type, bounds, allowed values), or None."""
        match self.type:
            case ArgType.BOOL:
                ok = isinstance(value, bool)
            case ArgType.INT:
                ok = isinstance(value, int) and not isinstance(value, bool)
            case ArgType.FLOAT:
                ok = isinstance(value, int | float) and not isinstance(value, bool)
            case ArgType.STR | ArgType.ENUM:
                ok = isinstance(value, str)
        if not ok:
            return f"{value!r} is not of type {self.type}"
        if self.values is not None and value not in self.values:
            return f"{value!r} is not one of {sorted(self.values)}"
        if isinstance(value, str) and len(value) > self.max_length:
            return f"is longer than {self.max_length} characters"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                return f"{value} is below the minimum {self.min:g}"
            if self.max is not None and value > self.max:
                return f"{value} is above the maximum {self.max:g}"
        return None


class RegisterWrite(_Model):
    """Holding registers from ``register`` on, written in one request (FC16: a mailbox sees them at once)."""

    # ``register`` in YAML; renamed in Python because BaseModel.register exists (ABC registration).
    reg: int | str = Field(alias="register")
    values: tuple[int | str, ...] = Field(min_length=1, max_length=123)


class CallArg(_Model):
    """One input of a method, from exactly one source."""

    arg: str | None = None
    const: Scalar | None = None
    param: str | None = None
    secret: str | None = Field(default=None, description="a secret of the agent's config, e.g. a code")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [k for k in ("arg", "const", "param", "secret") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a method input takes exactly one of arg, const, param, secret; got {given}")
        return self


class MethodCall(_Model):
    """The method at browse path ``method`` under the device's root, its inputs by their declared names
    (the driver matches them to the method's InputArguments and their types)."""

    method: str = Field(min_length=1)
    args: dict[str, CallArg] = Field(default_factory=dict)


class Expect(_Model):
    """A point the read-back must show: a literal ``value``, an arg's value, or an integer ``expr``."""

    point: str
    value: Scalar | None = None
    arg: str | None = None
    expr: str | None = None
    tolerance: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [k for k in ("value", "arg", "expr") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"expect {self.point!r} takes exactly one of value, arg, expr; got {given}")
        return self


class ReadBackSpec(_Model):
    settle_s: float = Field(ge=0, le=600, description="wait this long after acting, then read")
    expect: tuple[Expect, ...] = Field(min_length=1)


class ActionSpec(_Model):
    name: Name
    description: str = ""
    args: tuple[ArgSpec, ...] = ()
    write: tuple[RegisterWrite, ...] = ()
    call: MethodCall | None = None
    read_back: ReadBackSpec | None = None
    max_ttl_s: int = Field(gt=0, le=MAX_TTL_S, description="the longest validity a command may carry")
    interlocks: tuple[str, ...] = ()
    emergency: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if bool(self.write) == (self.call is not None):
            raise ValueError(f"action {self.name!r}: give either write (Modbus) or call (OPC-UA)")
        if self.emergency and self.interlocks:
            raise ValueError(f"action {self.name!r}: an emergency action has no interlocks")
        names = [a.name for a in self.args]
        if dup := duplicates(names):
            raise ValueError(f"action {self.name!r}: arg {dup!r} declared twice")
        if SEQUENCE in names:
            raise ValueError(f"action {self.name!r}: {SEQUENCE!r} is the executor's, not an arg")
        if dup := duplicates(self.interlocks):
            raise ValueError(f"action {self.name!r}: interlock {dup!r} listed twice")
        return self

    @property
    def ttl_ms(self) -> int:
        return self.max_ttl_s * 1000

    def arg(self, name: str) -> ArgSpec | None:
        return next((a for a in self.args if a.name == name), None)


class PointState(_Model):
    """Refuse while any ``refuse_if`` point reads its listed value (or cannot be read), unless the command
    carries ``unless_arg: true``."""

    kind: Literal["point_state"]
    name: Name
    refuse_if: dict[str, Scalar] = Field(min_length=1)
    unless_arg: str | None = None


class ArgRange(_Model):
    """An argument within per-device bounds: a number, or the name of a device param."""

    kind: Literal["arg_range"]
    name: Name
    arg: str
    min: float | str | None = None
    max: float | str | None = None


class NightFloor(_Model):
    """Between sunset and sunrise, the level the action leaves — the ``arg`` asked for, or a fixed
    ``level`` (number or param: ``off`` is 0) — not below ``floor`` (number or param) unless the command
    carries ``override_arg: true``."""

    kind: Literal["night_floor"]
    name: Name
    arg: str | None = None
    level: float | str | None = None
    floor: float | str
    override_arg: str

    @model_validator(mode="after")
    def _one_level(self) -> Self:
        if (self.arg is None) == (self.level is None):
            raise ValueError(f"night_floor {self.name!r}: give either arg or level")
        return self


InterlockSpec = Annotated[PointState | ArgRange | NightFloor, Field(discriminator="kind")]
MAINTENANCE = "maintenance_mode"  # the built-in interlock: a device in maintenance refuses all but emergency
SET_MAINTENANCE = "set_maintenance"  # the built-in action every device with actions has (the agent's flag)


def duplicates(names: tuple[str, ...] | list[str]) -> str | None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            return n
        seen.add(n)
    return None
