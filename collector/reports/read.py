"""The reports' reads of the store: a site's luminaires and their counters, its devices and their answers.

Only GOOD readings count (a reading that is not good carries no value). Counter readings are read a
day beyond both ends of the period, so an interval crossing an end can be shared pro rata.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.errors import ReportError
from collector.reports.availability import DeviceAvailability, device_availability
from collector.reports.config import ReportsConfig, SiteConfig
from collector.reports.counters import CounterReading, intervals
from collector.reports.energy import LuminaireEnergy, luminaire_energy
from collector.reports.nights import night_spans, overlap_ms
from collector.sinks.base import Sink
from wire.points import Quality

_MARGIN_MS = 86_400_000
_MS_PER_H = 3_600_000
_ALL = 100_000_000  # rows: the store's query wants a limit


@dataclass(frozen=True, slots=True)
class Period:
    since_ms: int
    until_ms: int


def site_of(cfg: ReportsConfig, site: str) -> SiteConfig:
    if site not in cfg.sites:
        raise ReportError(f"unknown site {site!r} (reports.sites lists: {', '.join(sorted(cfg.sites))})")
    return cfg.sites[site]


async def energy_rows(sink: Sink, cfg: ReportsConfig, site: str, period: Period) -> list[LuminaireEnergy]:
    """One row per luminaire (a device of the site's gateways with an energy counter in the store)."""
    s = site_of(cfg, site)
    ecfg = cfg.energy
    nights_ms = overlap_ms(
        night_spans(s.place, period.since_ms, period.until_ms), period.since_ms, period.until_ms
    )
    out = []
    for gateway, device in await _devices(sink, s, ecfg.point):
        since, until = period.since_ms - _MARGIN_MS, period.until_ms + _MARGIN_MS
        counts = await _good(sink, gateway, device, ecfg.point, (since, until))
        serials = (
            dict(await _good(sink, gateway, device, ecfg.serial_point, (since, until)))
            if ecfg.serial_point
            else {}
        )
        readings = [
            CounterReading(ts, int(v), None if ts not in serials else str(serials[ts]))
            for ts, v in counts
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        ivs = intervals(readings, bits=ecfg.counter_bits, max_power_w=ecfg.max_power_w)
        base = cfg.baseline_of(gateway, device)
        baseline_wh = None if base is None else base.watts * nights_ms / _MS_PER_H
        out.append(
            luminaire_energy(
                gateway,
                device,
                ivs,
                period.since_ms,
                period.until_ms,
                gap_s=ecfg.gap_s,
                baseline_wh=baseline_wh,
            )
        )
    return out


async def availability_rows(
    sink: Sink, cfg: ReportsConfig, site: str, period: Period
) -> tuple[list[DeviceAvailability], list[str]]:
    """One row per classified device of the site's gateways; and the devices no class names."""
    s = site_of(cfg, site)
    acfg = cfg.availability
    nights = night_spans(s.place, period.since_ms - _MARGIN_MS, period.until_ms + _MARGIN_MS)
    rows, unclassified = [], []
    for gateway, device in await _devices(sink, s, acfg.point):
        name = acfg.class_of(gateway, device)
        if name is None:
            unclassified.append(f"{gateway}/{device}")
            continue
        answers = [
            ts
            for ts, v in await _good(sink, gateway, device, acfg.point, (period.since_ms, period.until_ms))
            if v is True
        ]
        rows.append(
            device_availability(
                gateway,
                device,
                name,
                acfg.classes[name],
                answers,
                since_ms=period.since_ms,
                until_ms=period.until_ms,
                slot_ms=acfg.slot_s * 1000,
                nights=nights,
            )
        )
    return rows, unclassified


async def _devices(sink: Sink, site: SiteConfig, point: str) -> list[tuple[str, str]]:
    gateways = set(site.gateways)
    return sorted({(g, d) for g, d, p in await sink.series() if g in gateways and p == point})


async def _good(
    sink: Sink, gateway: str, device: str, point: str, span: tuple[int, int]
) -> list[tuple[int, object]]:
    since_ms, until_ms = span
    rows = await sink.query(
        gateway=gateway, device=device, point=point, since_ms=since_ms, until_ms=until_ms, limit=_ALL
    )
    return [(r.ts_ms, r.value) for r in rows if r.quality is Quality.GOOD]
