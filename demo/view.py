"""What the demo shows while it runs: beside the counts, the latest values per device kind — luminaires
(level, power, failures), the bollard site (state), the traffic controller (mode, plan, stage) — and
the lamp and behaviour faults the gateway raised and cleared (its outbox's events).

Read from the collector's store (read-only, like any other reader of it): ``snapshot`` queries,
``render`` only formats, so a test renders a real demo store.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from wire.events import EventKind, decode_event

LUMINAIRE = "lum-"
LUMINAIRE_POINTS = ("level", "active_power", "status", "led_failure", "light_source_failure", "online")
BOLLARD_POINTS = ("state", "operating_logic", "loop_1_occupied", "cycle_counter", "online")
TLC_POINTS = ("control_mode", "plan", "stage", "cycle_second", "online")
SHOWN_LUMINAIRES = 5  # one line each; the others are in the summary line
SHOWN_FAULTS = 6  # the latest fault events, one line each
_POINTS = tuple(dict.fromkeys(LUMINAIRE_POINTS + BOLLARD_POINTS + TLC_POINTS))

Latest = dict[str, dict[str, object]]  # device -> point -> its latest value (None: a bad reading)


@dataclass(frozen=True, slots=True)
class Snapshot:
    total: int = 0  # readings of the gateway in the store
    latest: Latest = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)  # the gateway's fault events, oldest first


@dataclass(frozen=True, slots=True)
class Fault:
    """A ``fault_raised`` or ``fault_cleared`` event the collector stored from the gateway's outbox."""

    at_ms: int
    raised: bool
    device: str
    fault: str


def snapshot(store: Path, gateway: str) -> Snapshot:
    """The count and the latest values of the points shown; empty until the collector made its schema."""
    if not store.exists():
        return Snapshot()
    marks = ",".join("?" * len(_POINTS))
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)) as db:
        try:
            total = db.execute(
                "SELECT COALESCE(SUM(readings), 0) FROM batches WHERE gateway = ?", (gateway,)
            ).fetchone()[0]
            rows = db.execute(
                "SELECT s.device, s.point, COALESCE(r.value_text, r.value_num) FROM series s "
                "JOIN readings r ON r.series_id = s.id "
                f"WHERE s.gateway = ? AND s.point IN ({marks}) "
                "AND r.ts_ms = (SELECT MAX(ts_ms) FROM readings WHERE series_id = s.id)",
                (gateway, *_POINTS),
            ).fetchall()
            events = db.execute(
                "SELECT body FROM outbox_messages WHERE gateway = ? AND kind = 'event' "
                "AND what IN ('fault_raised', 'fault_cleared') ORDER BY at_ms, id",
                (gateway,),
            ).fetchall()
        except sqlite3.OperationalError:  # no schema yet
            return Snapshot()
    latest: Latest = {}
    for device, point, value in rows:
        latest.setdefault(device, {})[point] = value
    faults = []
    for (body,) in events:
        event = decode_event(bytes(body))
        raised = event.kind is EventKind.FAULT_RAISED
        faults.append(Fault(event.at_ms, raised, event.device, str(event.details.get("fault"))))
    return Snapshot(int(total), latest, faults)


def render(snap: Snapshot, *, rate: float | None = None) -> list[str]:
    """The lines of the view: counts, then one block per device kind present."""
    per_s = "" if rate is None else f"   rate: {rate:,.0f} readings/s"
    lines = [f"readings stored: {snap.total:,}{per_s}"]
    lums = {d: v for d, v in sorted(snap.latest.items()) if d.startswith(LUMINAIRE)}
    if lums:
        lines += _luminaires(lums)
    for device, values in sorted(snap.latest.items()):
        if "state" in values:
            lines.append(
                f"bollards    {device}: state {_fmt(values.get('state'))}, logic "
                f"{_fmt(values.get('operating_logic'))}, loop 1 {_occupied(values.get('loop_1_occupied'))}, "
                f"{_fmt(values.get('cycle_counter'))} cycles{_offline(values)}"
            )
        elif "control_mode" in values:
            lines.append(
                f"traffic     {device}: mode {_fmt(values.get('control_mode'))}, plan "
                f"{_fmt(values.get('plan'))}, stage {_fmt(values.get('stage'))} (second "
                f"{_fmt(values.get('cycle_second'))} of the cycle){_offline(values)}"
            )
    for f in snap.faults[-SHOWN_FAULTS:]:
        at = time.strftime("%H:%M:%S", time.localtime(f.at_ms / 1000))
        lines.append(f"fault       {f.device}: {f.fault} {'raised' if f.raised else 'cleared'} at {at}")
    return lines


def _luminaires(lums: Latest) -> list[str]:
    levels = [float(v) for d in lums.values() if isinstance(v := d.get("level"), int | float)]
    power = sum(float(v) for d in lums.values() if isinstance(v := d.get("active_power"), int | float))
    online = sum(1 for d in lums.values() if d.get("online") in (1, True))
    failing = [name for name, d in lums.items() if _failure(d)]
    avg = (
        f"level avg {sum(levels) / len(levels):.0f} % ({sum(1 for x in levels if x > 0)} lit)"
        if levels
        else ""
    )
    failures = (
        f"failures: {len(failing)} ({', '.join(failing[:5])}{', ...' if len(failing) > 5 else ''})"
        if failing
        else "failures: none"
    )
    lines = [
        f"luminaires  {len(lums)} reporting, {online} online; {avg}; power {power:,.1f} W in all; {failures}"
    ]
    for name, d in list(lums.items())[:SHOWN_LUMINAIRES]:
        lines.append(
            f"            {name}: level {_fmt(d.get('level'))} %, power {_fmt(d.get('active_power'))} W, "
            f"failure {_failure(d) or 'none'}{_offline(d)}"
        )
    return lines


def _failure(d: dict[str, object]) -> str:
    """What a luminaire reports as failed (status bits 0-1, DT6 LED failure, D4i light source failure)."""
    out = []
    status, led, source = d.get("status"), d.get("led_failure"), d.get("light_source_failure")
    if isinstance(status, int | float) and int(status) & 0b01:
        out.append("ballast")
    if isinstance(status, int | float) and int(status) & 0b10:
        out.append("lamp")
    if isinstance(led, int | float) and int(led):
        out.append(f"led 0x{int(led):02x}")
    if isinstance(source, int | float) and int(source) & 1:
        out.append("light source")
    return ", ".join(out)


def _occupied(v: object) -> str:
    return "-" if v is None else ("occupied" if v in (1, True) else "free")


def _offline(values: dict[str, object]) -> str:
    return " (OFFLINE)" if values.get("online") in (0, False) else ""


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.0f}" if v.is_integer() else f"{v:.1f}"
    return "-" if v is None else str(v)
