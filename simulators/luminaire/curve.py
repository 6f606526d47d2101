"""The DALI logarithmic dimming curve, for the simulators: it lives in :mod:`drivers.dali.curve` (the
DALI driver converts arc levels with it too); the simulators keep importing it from here."""

from __future__ import annotations

from drivers.dali.curve import MAX_ARC, arc_to_percent, percent_to_arc

__all__ = ["MAX_ARC", "arc_to_percent", "percent_to_arc"]
