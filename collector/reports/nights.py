"""The site's nights, dusk to dawn, as spans of time (the baseline's hours and what a luminaire on switched
mains is expected to answer). Pure: :func:`lighting.night.dusk_to_dawn`, the gateways' own astronomical
clock, walked over a period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from lighting.night import dusk_to_dawn
from lighting.sun import Place

Span = tuple[int, int]  # [start, end) in ms UTC


def night_spans(place: Place, since_ms: int, until_ms: int) -> list[Span]:
    """Every part of ``[since, until)`` between a sunset and the next sunrise at ``place``."""
    out: list[Span] = []
    t = since_ms
    while t < until_ms:
        d = dusk_to_dawn(dt.datetime.fromtimestamp(t / 1000, dt.UTC), place)
        nxt = until_ms if d.until is None else min(until_ms, max(t + 1, round(d.until.timestamp() * 1000)))
        if d.night:
            if out and out[-1][1] == t:
                out[-1] = (out[-1][0], nxt)
            else:
                out.append((t, nxt))
        t = nxt
    return out


def overlap_ms(spans: Sequence[Span], start_ms: int, end_ms: int) -> int:
    return sum(max(0, min(b, end_ms) - max(a, start_ms)) for a, b in spans)


def shrunk(spans: Sequence[Span], margin_ms: int) -> list[Span]:
    """The spans with ``margin_ms`` cut from both ends (none left of a span shorter than twice that)."""
    return [(a + margin_ms, b - margin_ms) for a, b in spans if b - a > 2 * margin_ms]
