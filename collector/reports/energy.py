"""Energy of a luminaire over a period, from its counter intervals, and sums per cabinet and site. Pure.

Over ``[since, until)``:

- a counted interval (:mod:`collector.reports.counters`) inside the period adds its energy; one that
  crosses an end of the period adds the part of it inside, pro rata of time (linear interpolation);
- what the counters cannot say — an interval across a new gear, or part of the period with no reading
  on one side (the gateway was not reporting) — is **estimated** at the luminaire's mean power over its
  counted intervals in the period, and reported apart (``estimated_wh``), so nobody takes it for a
  measurement;
- a counted interval longer than ``gap_s`` (the gateway was offline, the gear kept counting) is exact
  in total but flagged as a gap; if it crosses an end of the period, its pro-rated part counts as
  estimated too.

The baseline is the old installation's watts over the site's dusk-to-dawn hours in the period; the
saving is ``1 - used / baseline`` over the luminaires that have a baseline.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from collector.reports.counters import Interval, Link

_MS_PER_H = 3_600_000


class By(enum.StrEnum):
    LUMINAIRE = "luminaire"
    CABINET = "cabinet"  # the gateway's cabinet
    SITE = "site"


@dataclass(frozen=True, slots=True)
class Flag:
    start_ms: int
    end_ms: int
    what: str  # "gap", "no readings", "new gear", "jump", "wrap"


@dataclass(frozen=True, slots=True)
class LuminaireEnergy:
    gateway: str
    device: str
    used_wh: float | None  # None: no counter reading near the period at all
    estimated_wh: float  # the part of used_wh that is estimated, not counted
    baseline_wh: float | None  # None: no baseline configured for it
    flags: tuple[Flag, ...] = ()

    def count(self, what: str) -> int:
        return sum(1 for f in self.flags if f.what == what)


def luminaire_energy(
    gateway: str,
    device: str,
    ivs: Sequence[Interval],
    since_ms: int,
    until_ms: int,
    *,
    gap_s: float,
    baseline_wh: float | None,
) -> LuminaireEnergy:
    counted_wh, counted_ms, estimated_wh, flags, unknown = _count(ivs, since_ms, until_ms, gap_s)
    if not ivs and not counted_ms:
        return LuminaireEnergy(gateway, device, None, 0.0, baseline_wh, ())
    first, last = ivs[0].start_ms, ivs[-1].end_ms
    if since_ms < first:
        unknown.append((since_ms, min(first, until_ms), "no readings"))
    if last < until_ms:
        unknown.append((max(last, since_ms), until_ms, "no readings"))
    mean_w = _mean_power(ivs, counted_wh, counted_ms)
    for lo, hi, what in unknown:
        if hi <= lo:
            continue
        flags.append(Flag(lo, hi, what))
        if mean_w is not None:
            estimated_wh += mean_w * (hi - lo) / _MS_PER_H
    if mean_w is None:  # nothing counted to estimate from
        return LuminaireEnergy(gateway, device, None, 0.0, baseline_wh, tuple(flags))
    used = counted_wh + sum(mean_w * (hi - lo) / _MS_PER_H for lo, hi, _ in unknown if hi > lo)
    return LuminaireEnergy(gateway, device, used, estimated_wh, baseline_wh, tuple(sorted(flags, key=_when)))


def _count(
    ivs: Sequence[Interval], since_ms: int, until_ms: int, gap_s: float
) -> tuple[float, float, float, list[Flag], list[tuple[int, int, str]]]:
    """Energy counted in the period, over how long, the part of it that is a guess, the flags, and the
    spans the counters cannot tell (to estimate)."""
    counted_wh = counted_ms = estimated_wh = 0.0
    flags: list[Flag] = []
    unknown: list[tuple[int, int, str]] = []
    for iv in ivs:
        lo, hi = max(iv.start_ms, since_ms), min(iv.end_ms, until_ms)
        if hi <= lo:
            continue
        if iv.wh is None:
            unknown.append((lo, hi, str(iv.link)))
            continue
        share = iv.wh * (hi - lo) / (iv.end_ms - iv.start_ms)
        counted_wh += share
        counted_ms += hi - lo
        if iv.link is Link.WRAP:
            flags.append(Flag(iv.start_ms, iv.end_ms, "wrap"))
        if iv.end_ms - iv.start_ms > gap_s * 1000:
            flags.append(Flag(iv.start_ms, iv.end_ms, "gap"))
            if hi - lo < iv.end_ms - iv.start_ms:  # how it spreads over the gap is a guess
                estimated_wh += share
    return counted_wh, counted_ms, estimated_wh, flags, unknown


def _when(f: Flag) -> tuple[int, str]:
    return (f.start_ms, f.what)


def _mean_power(ivs: Sequence[Interval], counted_wh: float, counted_ms: float) -> float | None:
    """Watts over the counted part of the period; without any, over every counted interval read."""
    if counted_ms > 0:
        return counted_wh * _MS_PER_H / counted_ms
    known = [iv for iv in ivs if iv.wh is not None and iv.end_ms > iv.start_ms]
    if not known:
        return None
    return sum(iv.wh or 0.0 for iv in known) * _MS_PER_H / sum(iv.end_ms - iv.start_ms for iv in known)


@dataclass(slots=True)
class Total:
    """A sum over luminaires (a cabinet, a site)."""

    name: str
    luminaires: int = 0
    no_data: int = 0  # luminaires without any reading: not in used_wh
    used_wh: float = 0.0
    estimated_wh: float = 0.0
    baseline_wh: float = 0.0
    used_with_baseline_wh: float = 0.0  # what the saving compares with the baseline
    without_baseline: int = 0
    flags: dict[str, int] = field(default_factory=dict)

    def add(self, e: LuminaireEnergy) -> None:
        self.luminaires += 1
        for f in e.flags:
            self.flags[f.what] = self.flags.get(f.what, 0) + 1
        if e.used_wh is None:
            self.no_data += 1
            return
        self.used_wh += e.used_wh
        self.estimated_wh += e.estimated_wh
        if e.baseline_wh is None:
            self.without_baseline += 1
        else:
            self.baseline_wh += e.baseline_wh
            self.used_with_baseline_wh += e.used_wh

    @property
    def saving(self) -> float | None:
        """The share of the baseline not used (0.65: 65 % saved); None without a baseline."""
        if self.baseline_wh <= 0:
            return None
        return 1 - self.used_with_baseline_wh / self.baseline_wh


def saving(e: LuminaireEnergy) -> float | None:
    if e.used_wh is None or e.baseline_wh is None or e.baseline_wh <= 0:
        return None
    return 1 - e.used_wh / e.baseline_wh


def totals(rows: Iterable[LuminaireEnergy], by: By, site: str) -> list[Total]:
    """Sums per cabinet (gateway) or for the site, in name order."""
    out: dict[str, Total] = {}
    for e in rows:
        name = e.gateway if by is By.CABINET else site
        out.setdefault(name, Total(name)).add(e)
    return [out[n] for n in sorted(out)]
