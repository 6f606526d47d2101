"""The cabinet's hardware fallback, wired in parallel with the gateway's relay output on the contactor's
coil: it closes the lighting circuit by night whatever the gateway does (or when it is dead). Two kinds
are built into real cabinets:

- an **astronomical time switch** (e.g. a DIN-rail astro clock set to the cabinet's latitude and
  longitude): closed while the sun's centre is geometrically below −0.833° (the sunset/sunrise
  definition, refraction and radius included, as astral's), with optional offsets in minutes; its own
  clock is injected (``wall``: epoch s);
- a **photocell** (twilight switch): closed below ``on_lux``, open again above ``off_lux`` (hysteresis),
  the ambient light set by the test (:attr:`Photocell.lux`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol

from astral import Observer
from astral.sun import elevation

HORIZON_DEG = -0.833  # refraction and the sun's radius: the sunset/sunrise of almanacs and astral


class Fallback(Protocol):
    def closed(self) -> bool:
        """Whether its contact closes the contactor's coil circuit now."""
        ...


class AstroRelay:
    def __init__(
        self,
        latitude: float,
        longitude: float,
        wall: Callable[[], float],
        *,
        dusk_offset_min: float = 0.0,
        dawn_offset_min: float = 0.0,
    ) -> None:
        self._observer = Observer(latitude=latitude, longitude=longitude)
        self._wall = wall
        self._dusk_s = dusk_offset_min * 60
        self._dawn_s = dawn_offset_min * 60

    def closed(self) -> bool:
        """Night by its clock: the sun below the horizon (an offset shifts the switch point later)."""
        t = self._wall()
        rising = self._sun(t + 60) > self._sun(t)
        return self._sun(t - (self._dawn_s if rising else self._dusk_s)) < HORIZON_DEG

    def _sun(self, t: float) -> float:
        at = dt.datetime.fromtimestamp(t, dt.UTC)
        return float(elevation(self._observer, at, with_refraction=False))  # geometric: -0.833 has it


class Photocell:
    def __init__(self, on_lux: float = 35.0, off_lux: float = 55.0, lux: float = 10_000.0) -> None:
        if off_lux <= on_lux:
            raise ValueError(f"off_lux {off_lux} must be above on_lux {on_lux} (hysteresis)")
        self.on_lux, self.off_lux = on_lux, off_lux
        self.lux = lux
        self._closed = lux < on_lux

    def closed(self) -> bool:
        if self.lux < self.on_lux:
            self._closed = True
        elif self.lux > self.off_lux:
            self._closed = False
        return self._closed
