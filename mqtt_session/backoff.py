"""The delay between reconnect attempts: exponential, capped, jittered, so a fleet does not hammer a
broker that just came back."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt ``n`` (1-based): exponential, capped, with 'equal jitter' (each delay is
    between half and all of its ceiling)."""

    initial: float = 0.2
    cap: float = 1.5

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.initial * (2 ** max(0, attempt - 1)))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))
