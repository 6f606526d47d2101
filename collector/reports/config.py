"""The ``reports:`` section of the collector config: sites (where they stand, which gateways), the
installation before renovation (baseline watts and hours, per luminaire or group) and what each device
class is expected to answer (availability). Checked with the rest of the config, before any I/O.

Devices are named by patterns ``gateway/device`` (shell wildcards: ``cab-*/lum-*``); a pattern without a
``/`` names that device on any gateway. A gateway is a cabinet: one gateway per street cabinet.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Sequence
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lighting.sun import Place
from wire.topics import check_name

Pattern = Annotated[str, Field(min_length=1, max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def matches(patterns: Sequence[str], gateway: str, device: str) -> bool:
    """Does ``gateway/device`` match one of ``patterns`` (``gw/dev`` or ``dev``, shell wildcards)?"""
    for p in patterns:
        gw, _, dev = p.rpartition("/")
        if fnmatch.fnmatchcase(device, dev) and (not gw or fnmatch.fnmatchcase(gateway, gw)):
            return True
    return False


class SiteConfig(_Model):
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    timezone: str  # IANA, e.g. Europe/Paris: nights run noon to noon in it
    gateways: list[str] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (Europe/Paris)") from None
        return v

    @field_validator("gateways")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        return [check_name("gateway", g) for g in v]

    @property
    def place(self) -> Place:
        return Place(self.latitude, self.longitude, self.timezone)


class Hours(enum.StrEnum):
    DUSK_TO_DAWN = "dusk_to_dawn"  # the site's sunset to the next sunrise (astral), every night


class Baseline(_Model):
    """The old installation of some luminaires: e.g. 150 W sodium (with its ballast) at full power."""

    group: str | None = None  # one of reports.groups
    luminaires: list[Pattern] = Field(default_factory=list)
    watts: Annotated[float, Field(gt=0, le=5000)]
    hours: Annotated[Hours, Field(strict=False)] = Hours.DUSK_TO_DAWN

    @model_validator(mode="after")
    def _whom(self) -> Self:
        if (self.group is None) == (not self.luminaires):
            raise ValueError("a baseline names a group or luminaires (one of the two)")
        return self


class EnergyConfig(_Model):
    point: str = "active_energy"  # the D4i counter, Wh
    counter_bits: Annotated[int, Field(ge=8, le=64)] = 32  # it wraps at 2**bits Wh
    serial_point: str | None = (
        None  # a gear identity point, if the interface reads one: a change is a new gear
    )
    max_power_w: Annotated[float, Field(gt=0, le=100_000)] = 2000.0  # more than this is a new counter
    gap_s: Annotated[int, Field(ge=60, le=7 * 86_400)] = 3600  # readings further apart: a gap, flagged


class Expected(enum.StrEnum):
    ALWAYS = "always"  # permanent supply: should answer at every moment
    DUSK_TO_DAWN = "dusk_to_dawn"  # on switched mains: powered only from dusk to dawn


class DeviceClass(_Model):
    devices: list[Pattern] = Field(min_length=1)
    expected: Annotated[Expected, Field(strict=False)] = Expected.ALWAYS
    # after dusk and before dawn, this long is not expected (the contactor and the gear's start-up)
    grace_min: Annotated[int, Field(ge=0, le=120)] = 0


class AvailabilityConfig(_Model):
    point: str = "online"  # the poller's: true when the device answered the poll
    slot_s: Annotated[int, Field(ge=60, le=86_400)] = 900  # answering at least once in a slot: it counts
    classes: dict[str, DeviceClass] = Field(default_factory=dict)  # first class that matches, in order

    @field_validator("classes")
    @classmethod
    def _class_names(cls, v: dict[str, DeviceClass]) -> dict[str, DeviceClass]:
        for name in v:
            check_name("device class", name)
        return v

    def class_of(self, gateway: str, device: str) -> str | None:
        return next((n for n, c in self.classes.items() if matches(c.devices, gateway, device)), None)


class ReportsConfig(_Model):
    sites: dict[str, SiteConfig] = Field(min_length=1)
    groups: dict[str, list[Pattern]] = Field(default_factory=dict)  # name: luminaire patterns
    baselines: list[Baseline] = Field(
        default_factory=list
    )  # the first that names a luminaire is its baseline
    energy: EnergyConfig = EnergyConfig()
    availability: AvailabilityConfig = AvailabilityConfig()

    @model_validator(mode="after")
    def _references(self) -> Self:
        for name in self.sites:
            check_name("site", name)
        owner: dict[str, str] = {}
        for site, s in self.sites.items():
            for g in s.gateways:
                if owner.setdefault(g, site) != site:
                    raise ValueError(f"sites: gateway {g!r} is in two sites ({owner[g]}, {site})")
        for i, b in enumerate(self.baselines):
            if b.group is not None and b.group not in self.groups:
                known = ", ".join(sorted(self.groups)) or "none"
                raise ValueError(f"baselines[{i}].group: no group {b.group!r} (groups: {known})")
        return self

    def baseline_of(self, gateway: str, device: str) -> Baseline | None:
        for b in self.baselines:
            patterns = self.groups[b.group] if b.group is not None else b.luminaires
            if matches(patterns, gateway, device):
                return b
        return None
