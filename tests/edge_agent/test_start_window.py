"""edge_agent.lighting.starts: gear starts in a sliding window, from the start counter."""

from __future__ import annotations

from edge_agent.lighting.starts import StartWindow


def test_starts_between_reads_count_and_leave_the_window() -> None:
    w = StartWindow(600)
    assert w.count(0, 10) == 0  # the first read only sets where counting starts
    assert w.count(60_000, 13) == 3  # three starts between two reads
    assert w.count(120_000, 14) == 4
    assert w.count(660_000, 14) == 1  # the read at 60 s is out of the window
    assert w.count(720_000, 14) == 0


def test_a_counter_that_goes_back_starts_afresh() -> None:
    w = StartWindow(600)
    w.count(0, 500)
    assert w.count(60_000, 503) == 3
    assert w.count(120_000, 2) == 0  # a new gear: not -501 starts, and the old ones are forgotten
    assert w.count(180_000, 4) == 2
