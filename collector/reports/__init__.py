"""The centre's reports, read from the store: energy per luminaire from the D4i counters against the
installation before renovation, and availability per gateway and device class (``collector report``).

Off both paths: they read what ``collector/sinks`` stored (telemetry: ``drivers → edge_agent/poll → …
→ collector/ingest → collector/sinks``) and write nothing. ``config.py`` is the ``reports:`` section;
``counters.py`` and ``energy.py`` turn counter readings into kWh; ``nights.py`` is the dusk-to-dawn
clock; ``availability.py``; ``read.py`` the store reads; ``output.py`` the table, CSV and JSON; ``cli.py``.
"""
