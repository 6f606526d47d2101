"""Telemetry batches: the payload of ``.../telemetry`` (msgpack).

A batch is identified by ``(gateway, epoch, seq)``: ``epoch`` is drawn at random when the agent's buffer
is created (a lost or re-created buffer gets a new one), ``seq`` counts batches within an epoch and is
written into the buffer together with the batch's content, so one key never names two different
contents, even across crashes. The collector stores a key once and confirms it every time it sees it.

Layout (msgpack map, short keys because this crosses cellular links many times a second)::

    {"v": 1, "gw": "cab-0042", "ep": "9f3c2a61d0b7e45a", "sq": 17,
     "s": [["lum-07", "active_power"], ...],            # series table: (device, point)
     "r": [[0, 1767225600000, 41.5, 0], ...]}           # [series index, ts ms UTC, value, quality(, reason)]
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from wire import PROTOCOL_VERSION
from wire.errors import PayloadError
from wire.points import Quality, Reading, Value, value_flaw

EPOCH_RE = re.compile(r"^[0-9a-f]{16}$")
MAX_NAME = 128
_QUALITIES = {q.value: q for q in Quality}
_TS_MIN = 946_684_800_000  # 2000-01-01: anything earlier is a clock that was never set
_TS_MAX = 4_102_444_800_000  # 2100-01-01


@dataclass(frozen=True, slots=True)
class BatchKey:
    gateway: str
    epoch: str
    seq: int


@dataclass(frozen=True, slots=True)
class TelemetryBatch:
    key: BatchKey
    readings: tuple[Reading, ...]


def encode_batch(key: BatchKey, readings: Iterable[Reading]) -> bytes:
    """The payload of a batch; raises :class:`PayloadError` for a reading the contract forbids (a value
    on a reading that is not good), rather than send what the collector would quarantine."""
    series: dict[tuple[str, str], int] = {}
    rows: list[list[Any]] = []
    for i, r in enumerate(readings):
        if (flaw := value_flaw(r.quality, r.value)) is not None:
            raise PayloadError(f"r[{i}][2]", f"{flaw} ({r.device}.{r.point})")
        idx = series.setdefault((r.device, r.point), len(series))
        row: list[Any] = [idx, r.ts_ms, r.value, int(r.quality)]
        if r.reason is not None:
            row.append(r.reason)
        rows.append(row)
    return _pack(key, series, rows)


def _pack(key: BatchKey, series: dict[tuple[str, str], int], rows: list[list[Any]]) -> bytes:
    body = {
        "v": PROTOCOL_VERSION,
        "gw": key.gateway,
        "ep": key.epoch,
        "sq": key.seq,
        "s": [list(k) for k in series],
        "r": rows,
    }
    return msgpack.packb(body, use_bin_type=True)


def merge_batches(key: BatchKey, payloads: Sequence[bytes]) -> bytes:
    """One batch under ``key`` holding the readings of ``payloads`` (batch payloads this side encoded), in
    their order: the series tables are merged, the rows re-indexed, nothing else is decoded. The same
    payloads in the same order give the same bytes (a re-sent group is byte for byte the same)."""
    series: dict[tuple[str, str], int] = {}
    rows: list[list[Any]] = []
    for payload in payloads:
        body = msgpack.unpackb(payload, raw=False)
        index = [series.setdefault((d, p), len(series)) for d, p in body["s"]]
        part = body["r"]
        for row in part:
            row[0] = index[row[0]]
        rows += part
    return _pack(key, series, rows)


def content_digest(batch: TelemetryBatch) -> bytes:
    """A 16-byte BLAKE2b digest of a batch's readings (not its key, not its encoding's layout).

    The store keeps it with the key: a key that comes back with another digest is a re-used key
    (a conflict), never a duplicate. Two encodings of the same readings (another series order) agree.
    """
    rows = [[r.device, r.point, r.ts_ms, r.value, int(r.quality), r.reason] for r in batch.readings]
    return hashlib.blake2b(msgpack.packb(rows, use_bin_type=True), digest_size=16).digest()


def peek_key(payload: bytes) -> BatchKey | None:
    """The batch key of a payload that may be otherwise broken, or None when even that is unreadable."""
    try:
        body = msgpack.unpackb(payload, raw=False, strict_map_key=True)
        gw, ep, sq = body["gw"], body["ep"], body["sq"]
    except Exception:
        return None
    if isinstance(gw, str) and isinstance(ep, str) and EPOCH_RE.match(ep) and _is_int(sq) and sq > 0:
        return BatchKey(gw, ep, sq)
    return None


def decode_batch(payload: bytes, *, max_bytes: int = 4 * 1024 * 1024) -> TelemetryBatch:
    """Decode and validate a telemetry payload; any flaw raises :class:`PayloadError` naming where."""
    if len(payload) > max_bytes:
        raise PayloadError("", f"payload of {len(payload)} bytes exceeds the limit of {max_bytes}")
    try:
        body = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:
        raise PayloadError("", f"not msgpack: {exc}") from exc
    if not isinstance(body, dict):
        raise PayloadError("", f"top level must be a map, got {type(body).__name__}")
    version = body.get("v")
    if version != PROTOCOL_VERSION:
        raise PayloadError("v", f"unsupported protocol version {version!r} (this side speaks 1)")
    gateway = _name(body.get("gw"), "gw")
    epoch = body.get("ep")
    if not isinstance(epoch, str) or not EPOCH_RE.match(epoch):
        raise PayloadError("ep", "epoch must be 16 lowercase hex digits")
    seq = body.get("sq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise PayloadError("sq", "sequence must be a positive integer")
    series = body.get("s")
    if not isinstance(series, list):
        raise PayloadError("s", "series table must be a list")
    names: list[tuple[str, str]] = []
    for i, item in enumerate(series):
        if not isinstance(item, list) or len(item) != 2:
            raise PayloadError(f"s[{i}]", "series must be [device, point]")
        names.append((_name(item[0], f"s[{i}][0]"), _name(item[1], f"s[{i}][1]")))
    rows = body.get("r")
    if not isinstance(rows, list):
        raise PayloadError("r", "readings must be a list")
    return TelemetryBatch(BatchKey(gateway, epoch, seq), tuple(_readings(rows, names)))


def _readings(rows: Sequence[Any], names: Sequence[tuple[str, str]]) -> Iterable[Reading]:
    n = len(names)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) not in (4, 5):
            raise PayloadError(f"r[{i}]", "reading must be [series, ts, value, quality(, reason)]")
        idx, ts, value, q = row[0], row[1], row[2], row[3]
        if not _is_int(idx) or not 0 <= idx < n:
            raise PayloadError(f"r[{i}][0]", f"series index {idx!r} is not in the series table (0..{n - 1})")
        if not _is_int(ts) or not _TS_MIN <= ts < _TS_MAX:
            raise PayloadError(f"r[{i}][1]", f"timestamp {ts!r} is not milliseconds UTC in 2000..2100")
        if value is not None and not isinstance(value, int | float | str | bool):
            raise PayloadError(f"r[{i}][2]", f"value of type {type(value).__name__} is not a number or text")
        if isinstance(value, float) and math.isnan(value):  # NaN is not a measurement
            raise PayloadError(f"r[{i}][2]", "value is NaN")
        quality = _QUALITIES.get(q) if _is_int(q) else None
        if quality is None:
            raise PayloadError(f"r[{i}][3]", f"quality {q!r} is not one of {sorted(_QUALITIES)}")
        if (flaw := value_flaw(quality, value)) is not None:
            raise PayloadError(f"r[{i}][2]", flaw)
        reason = row[4] if len(row) == 5 else None
        if reason is not None and not isinstance(reason, str):
            raise PayloadError(f"r[{i}][4]", "reason must be text")
        device, point = names[idx]
        yield Reading(device, point, ts, _value(value), quality, reason)


def _value(v: Any) -> Value:
    return v  # type: ignore[no-any-return]


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _name(v: object, where: str) -> str:
    if not isinstance(v, str) or not v or len(v) > MAX_NAME:
        raise PayloadError(where, f"must be a non-empty string of at most {MAX_NAME} characters")
    return v
