"""The DALI logarithmic dimming curve (IEC 62386-102): arc power level 0..254 ↔ percent of light.

percent = 10 ** ((n - 1) / (253 / 3) - 1) for n = 1..254, and level 0 is off. Arc 1 is 0.1 %, arc 254
is 100 %, and half the light is arc ≈ 229, not 127 (devices.md §1.4).
"""

from __future__ import annotations

import math

MAX_ARC = 254
_STEP = 253 / 3  # arc levels per decade of light


def arc_to_percent(arc: int) -> float:
    """Light output in percent for arc power level ``arc`` (0..254)."""
    if not 0 <= arc <= MAX_ARC:
        raise ValueError(f"arc level must be 0..{MAX_ARC}, got {arc}")
    if arc == 0:
        return 0.0
    return float(10 ** ((arc - 1) / _STEP - 1))


def percent_to_arc(percent: float) -> int:
    """The arc level whose light is nearest to ``percent`` (0..100); any light above 0 is at least arc 1."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be 0..100, got {percent}")
    if percent == 0:
        return 0
    arc = round(1 + _STEP * (math.log10(percent) + 1))
    return min(MAX_ARC, max(1, arc))
