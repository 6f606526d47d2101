"""What ``collector report`` prints: an aligned table, CSV or JSON (pure). Energy in kWh (3 decimals),
savings and availability in % (1 decimal); JSON keeps full precision and the flags with their times."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from collector.query import OutputFormat, format_ts
from collector.reports.availability import ClassAvailability
from collector.reports.energy import By, LuminaireEnergy, Total, saving

Row = dict[str, str | int | float | list[dict[str, str]] | None]


def format_energy(rows: Sequence[LuminaireEnergy], totals: Sequence[Total], by: By, fmt: OutputFormat) -> str:
    records = [_luminaire(e) for e in rows] if by is By.LUMINAIRE else [_total(t, by) for t in totals]
    return _render(records, fmt)


def format_availability(rows: Sequence[ClassAvailability], slot_s: int, fmt: OutputFormat) -> str:
    records: list[Row] = [
        {
            "gateway": r.gateway,
            "class": r.device_class,
            "devices": r.devices,
            "expected_h": r.expected_slots * slot_s / 3600,
            "answering_h": r.answered_slots * slot_s / 3600,
            "availability_pct": None if r.ratio is None else 100 * r.ratio,
        }
        for r in rows
    ]
    return _render(records, fmt)


def _luminaire(e: LuminaireEnergy) -> Row:
    s = saving(e)
    return {
        "cabinet": e.gateway,
        "luminaire": e.device,
        "used_kwh": None if e.used_wh is None else e.used_wh / 1000,
        "estimated_kwh": e.estimated_wh / 1000,
        "baseline_kwh": None if e.baseline_wh is None else e.baseline_wh / 1000,
        "saving_pct": None if s is None else 100 * s,
        "flags": [
            {"what": f.what, "from": format_ts(f.start_ms), "to": format_ts(f.end_ms)} for f in e.flags
        ],
    }


def _total(t: Total, by: By) -> Row:
    s = t.saving
    return {
        str(by): t.name,
        "luminaires": t.luminaires,
        "used_kwh": t.used_wh / 1000,
        "estimated_kwh": t.estimated_wh / 1000,
        "baseline_kwh": t.baseline_wh / 1000,
        "saving_pct": None if s is None else 100 * s,
        "flags": [{"what": k, "count": str(n)} for k, n in sorted(t.flags.items())]
        + ([{"what": "no data", "count": str(t.no_data)}] if t.no_data else [])
        + ([{"what": "no baseline", "count": str(t.without_baseline)}] if t.without_baseline else []),
    }


def _render(records: Sequence[Row], fmt: OutputFormat) -> str:
    if fmt is OutputFormat.JSON:
        return json.dumps(list(records), indent=2)
    if not records:
        return ""
    header = list(records[0])
    body = [[_cell(k, r[k]) for k in header] for r in records]
    if fmt is OutputFormat.CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
        return out.getvalue().rstrip("\n")
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *body)
    )


def _cell(key: str, v: str | int | float | list[dict[str, str]] | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return "; ".join(_flag(f) for f in v)
    if isinstance(v, float):
        return f"{v:.1f}" if key.endswith(("_pct", "_h")) else f"{v:.3f}"
    return str(v)


def _flag(f: dict[str, str]) -> str:
    if "count" in f:
        return f"{f['what']} ×{f['count']}"
    return f"{f['what']} {f['from']} → {f['to']}"
