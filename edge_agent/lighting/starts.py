"""The starts (switch-ons) of a luminaire's control gear within a sliding window, from its start counter
(DiiA 253, bank 205: power cycles of at least 600 ms). Counting the counter's increments, not the polls
that saw the lamp come on, counts the starts between two polls too; a counter that goes back (the gear
replaced, or its counter reset) starts the count afresh."""

from __future__ import annotations

from collections import deque


class StartWindow:
    def __init__(self, window_s: float) -> None:
        self._window_ms = window_s * 1000
        self._starts: deque[tuple[int, int]] = deque()  # (ts_ms, starts seen at that read)
        self._counter: int | None = None

    def count(self, ts_ms: int, counter: int) -> int:
        """Note the counter read at ``ts_ms``; the starts seen within the window ending there."""
        last = self._counter
        if last is not None and counter > last:
            self._starts.append((ts_ms, counter - last))
        elif last is not None and counter < last:
            self._starts.clear()
        self._counter = counter
        while self._starts and self._starts[0][0] <= ts_ms - self._window_ms:
            self._starts.popleft()
        return sum(n for _, n in self._starts)
