"""Report by exception: which readings are worth sending, per point.

A point with a :class:`ReportSpec` is reported when its value moved by more than its deadband
(absolute, or percent of the last reported value), when it has not been reported for
``max_interval_s`` (the heartbeat: silence always means "unchanged", never "lost"), and always when
its quality changes or it is not a number (booleans, states, enumerations: alarms and state changes go
out at once). A point without a spec is always reported. Every suppressed reading is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wire.points import Quality, Reading, Value


class ReportSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    deadband: float | None = Field(default=None, gt=0, description="absolute change that is reported")
    deadband_percent: float | None = Field(default=None, gt=0, le=100, description="relative change, %")
    max_interval_s: float = Field(
        default=300.0, gt=0, le=86400, description="heartbeat: report at least this often"
    )

    @model_validator(mode="after")
    def _one_deadband(self) -> ReportSpec:
        if self.deadband is not None and self.deadband_percent is not None:
            raise ValueError("give deadband or deadband_percent, not both")
        return self


@dataclass(slots=True)
class _Last:
    value: Value
    quality: Quality
    at: float  # monotonic seconds


@dataclass(slots=True)
class ReportFilter:
    """Stateful per agent run: the first reading of every point is always reported."""

    specs: dict[tuple[str, str], ReportSpec]
    suppressed: int = 0
    _last: dict[tuple[str, str], _Last] = field(default_factory=dict)

    def admit(self, reading: Reading, now: float) -> bool:
        key = (reading.device, reading.point)
        spec = self.specs.get(key)
        if spec is None:
            return True
        last = self._last.get(key)
        if last is None or self._changed(spec, last, reading) or now - last.at >= spec.max_interval_s:
            self._last[key] = _Last(reading.value, reading.quality, now)
            return True
        self.suppressed += 1
        return False

    def filter(self, readings: list[Reading], now: float) -> list[Reading]:
        return [r for r in readings if self.admit(r, now)]

    @staticmethod
    def _changed(spec: ReportSpec, last: _Last, r: Reading) -> bool:
        if r.quality is not last.quality:
            return True
        new, old = r.value, last.value
        if not _is_number(new) or not _is_number(old):
            return new != old  # states, alarms, text: every change
        assert isinstance(new, int | float)
        assert isinstance(old, int | float)
        delta = abs(float(new) - float(old))
        if spec.deadband is not None:
            return delta > spec.deadband
        if spec.deadband_percent is not None:
            base = abs(float(old))
            return delta > base * spec.deadband_percent / 100 if base > 0 else delta > 0
        return delta > 0


def _is_number(v: Value) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
