"""Sinks: where stored telemetry lives. ``base.py`` says what a sink is; one module per engine.

Telemetry path: ``collector/ingest`` → ``sinks/<engine>`` (one transaction per commit, idempotent on the
batch key) → confirmation. :func:`open_sink` turns a store URL into a sink; only the engine the URL
names is imported.
"""

from __future__ import annotations

from collector.errors import StoreError
from collector.sinks.base import Sink
from collector.sinks.url import Engine, StoreUrl


async def open_sink(url: str | StoreUrl, *, create: bool = True) -> Sink:
    """Open the store ``url`` names; ``create=False`` refuses to create one that does not exist."""
    try:
        parsed = (StoreUrl.parse(url) if isinstance(url, str) else url).check_built()
    except ValueError as exc:
        raise StoreError(str(url), str(exc)) from exc
    if parsed.engine is Engine.SQLITE:
        from collector.sinks.sqlite import SqliteSink

        return await SqliteSink.open(parsed, create=create)
    raise StoreError(
        parsed.url, f"the {parsed.engine.value} sink is not built yet: use a sqlite:/// store for now"
    )
