"""Scaling a raw integer into engineering units, without binary-float noise (pure).

``raw × scale + offset`` in binary floating point gives ``2292 × 0.1 = 229.20000000000002``. The exact
result has no more decimal places than ``scale`` and ``offset`` written in decimal (0.1: one), so it is
rounded to those: the point's resolution. Nothing is lost: an integer times a one-decimal factor has one
decimal. A raw *float* (float32, float64, an OPC-UA Double) is scaled but not rounded: it may carry
more precision than the factor shows.
"""

from __future__ import annotations

from decimal import Decimal


def decimals(x: float) -> int:
    """Decimal places of ``x`` as written (its shortest repr): 0.1 → 1, 0.25 → 2, 10 → 0, 1e-7 → 7."""
    exponent = Decimal(repr(x)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def scale_int(raw: int, scale: float, offset: float) -> float:
    """``raw × scale + offset``, rounded to the decimal places of ``scale`` and ``offset``."""
    return round(raw * scale + offset, max(decimals(scale), decimals(offset)))
