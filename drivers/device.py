"""What every device spec has, whatever its protocol: a name, a poll interval and ONE way to repeat it
(``repeat: {sa: [0, 49]}``: one device per value, ``{sa}`` in the name, the value a param of its points).

A protocol's device spec (:mod:`drivers.modbus`, :mod:`drivers.opcua`, :mod:`drivers.dali`) subclasses
:class:`DeviceSpec`; :meth:`DeviceSpec.expand` gives each repetition's name and values.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

DeviceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.{}:-]{0,63}$")]
Repeat = dict[str, tuple[int, int]]
V = TypeVar("V", int, int | str)  # a param's value: a number (Modbus), or a number or text (OPC-UA)


class DeviceSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: DeviceName
    poll_interval_s: float = Field(default=10.0, ge=0.05, le=86400)
    repeat: Repeat | None = Field(
        default=None, description="expand into one device per value: {sa: [0, 49]}; name uses {sa}"
    )

    @model_validator(mode="after")
    def _repeat_fits(self) -> DeviceSpec:
        for key, (lo, hi) in (self.repeat or {}).items():
            if lo > hi:
                raise ValueError(f"repeat.{key}: first value {lo} is above last {hi}")
            if "{" + key not in self.name:
                raise ValueError(f"repeat over {key!r} needs {{{key}}} in the device name")
        return self

    def expand(self, params: Mapping[str, V]) -> Iterator[tuple[str, dict[str, V | int]]]:
        """(name, values) of each device this spec stands for: ``params`` plus one combination of the
        ``repeat`` values. A name that does not format raises ``ValueError``."""
        keys = sorted(self.repeat or {})
        ranges = [range(lo, hi + 1) for lo, hi in ((self.repeat or {})[k] for k in keys)]
        for combo in itertools.product(*ranges):
            values: dict[str, V | int] = {**params, **dict(zip(keys, combo, strict=True))}
            yield self._name(values) if keys else self.name, values

    def _name(self, values: Mapping[str, int | str]) -> str:
        try:
            return self.name.format(**values)
        except (KeyError, IndexError, ValueError) as exc:
            known = ", ".join(f"{{{k}}}" for k in sorted(values))
            raise ValueError(f"{self.name!r} takes only {known}: {exc!r}") from None
