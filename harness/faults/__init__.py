"""The fault suite: the real stack with one fault injected (:mod:`.harness`), and its scenarios
(:mod:`.scenarios`), run by ``tests/faults`` with short durations and by ``bench/soak.py`` with full ones."""
