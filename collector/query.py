"""What ``collector query``, ``collector quarantine`` and ``collector outbox`` print, and how they read
times (pure functions).

Times: a duration (``30s``, ``15m``, ``1h``, ``2d``: that long before now) or ISO-8601 (a time without
an offset is UTC). Output: an aligned table, CSV or JSON; timestamps are ISO-8601 UTC with milliseconds.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from collector.sinks.base import OutboxRecord, QuarantinedPayload, StoredReading
from wire.points import Value

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^(\d{1,9})([smhd])$")


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def parse_instant(text: str, now_ms: int) -> int:
    """Milliseconds UTC for a duration before ``now_ms`` or an ISO-8601 time; ValueError otherwise."""
    text = text.strip()
    m = _DURATION.match(text)
    if m:
        return now_ms - int(m[1]) * _UNITS_MS[m[2]]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30s, 15m, 1h, 2d) nor an ISO-8601 time (2026-01-01T12:00:00Z)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def parse_period(since: str, until: str | None, now_ms: int) -> tuple[int, int]:
    """``--since`` and ``--until`` (default: now) as milliseconds UTC; ValueError saying what is wrong
    (a bad time, or a start not before the end)."""
    try:
        since_ms = parse_instant(since, now_ms)
        until_ms = parse_instant(until, now_ms) if until is not None else now_ms
    except ValueError as exc:
        raise ValueError(f"bad time: {exc}") from None
    if since_ms >= until_ms:
        raise ValueError(f"--since ({format_ts(since_ms)}) must be before --until ({format_ts(until_ms)})")
    return since_ms, until_ms


def format_ts(ts_ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ts_ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_readings(rows: Sequence[StoredReading], fmt: OutputFormat) -> str:
    if fmt is OutputFormat.JSON:
        return json.dumps(
            [
                {
                    "ts": format_ts(r.ts_ms),
                    "ts_ms": r.ts_ms,
                    "gateway": r.gateway,
                    "device": r.device,
                    "point": r.point,
                    "value": _json_value(r.value),
                    "quality": r.quality.name,
                    "reason": r.reason,
                }
                for r in rows
            ],
            indent=2,
        )
    header = ("ts", "value", "quality", "gateway", "reason")
    body = [(format_ts(r.ts_ms), _text(r.value), r.quality.name, r.gateway, r.reason or "") for r in rows]
    return _csv(header, body) if fmt is OutputFormat.CSV else _table(header, body)


def format_quarantine(rows: Sequence[QuarantinedPayload], fmt: OutputFormat) -> str:
    if fmt is OutputFormat.JSON:
        return json.dumps(
            [
                {
                    "received": format_ts(q.received_at_ms),
                    "topic": q.topic,
                    "gateway": q.gateway,
                    "size": q.size,
                    "reason": q.reason,
                }
                for q in rows
            ],
            indent=2,
        )
    header = ("received", "topic", "reason", "size")
    body = [(format_ts(q.received_at_ms), q.topic, q.reason, str(q.size)) for q in rows]
    return _csv(header, body) if fmt is OutputFormat.CSV else _table(header, body)


def format_outbox(rows: Sequence[OutboxRecord], fmt: OutputFormat) -> str:
    """Results and events as stored (not their bodies: a result is a signed envelope)."""
    if fmt is OutputFormat.JSON:
        return json.dumps(
            [
                {
                    "at": format_ts(r.at_ms),
                    "gateway": r.gateway,
                    "key": f"{r.epoch}/{r.seq}",
                    "kind": r.kind,
                    "what": r.what,
                    "subject": r.subject,
                }
                for r in rows
            ],
            indent=2,
        )
    header = ("at", "gateway", "kind", "what", "subject", "key")
    body = [(format_ts(r.at_ms), r.gateway, r.kind, r.what, r.subject, f"{r.epoch}/{r.seq}") for r in rows]
    return _csv(header, body) if fmt is OutputFormat.CSV else _table(header, body)


def _text(v: Value) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


def _json_value(v: Value) -> Value:
    return str(v) if isinstance(v, float) and not math.isfinite(v) else v  # JSON has no inf


def _csv(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue().rstrip("\n")


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *body)
    )
