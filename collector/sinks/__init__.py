"""Sinks: where stored telemetry lives. ``base.py`` says what a sink is; one module per engine.

Telemetry path: ``collector/ingest`` → ``sinks/<engine>`` (one transaction per commit, idempotent on the
batch key) → confirmation. :func:`open_sink` turns a store URL into a sink; only the engine the URL
names is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collector.errors import StoreError
from collector.sinks.base import Sink
from collector.sinks.url import Engine, StoreUrl

if TYPE_CHECKING:
    from collector.sinks.sqlite_audit import SqliteAudit
    from collector.sinks.sqlite_lighting import SqliteLighting
    from collector.sinks.sqlite_outbox import SqliteOutboxStore


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


async def open_audit(url: str | StoreUrl) -> SqliteAudit:
    """The command audit of the store ``url`` names, which the sink has opened (created or migrated)."""
    parsed = StoreUrl.parse(url) if isinstance(url, str) else url
    if parsed.engine is Engine.SQLITE:
        from collector.sinks.sqlite_audit import SqliteAudit

        return await SqliteAudit.open(parsed)
    raise StoreError(parsed.url, f"the {parsed.engine.value} sink has no command audit yet")


async def open_lighting(url: str | StoreUrl) -> SqliteLighting:
    """The lighting pushes of the store ``url`` names, which the sink has opened (created or migrated)."""
    parsed = StoreUrl.parse(url) if isinstance(url, str) else url
    if parsed.engine is Engine.SQLITE:
        from collector.sinks.sqlite_lighting import SqliteLighting

        return await SqliteLighting.open(parsed)
    raise StoreError(parsed.url, f"the {parsed.engine.value} sink has no lighting pushes yet")


async def open_outbox_store(url: str | StoreUrl) -> SqliteOutboxStore:
    """The outbox table (gateways' results and events) of the store ``url`` names, which the sink has
    opened (created or migrated) already."""
    parsed = StoreUrl.parse(url) if isinstance(url, str) else url
    if parsed.engine is Engine.SQLITE:
        from collector.sinks.sqlite_outbox import SqliteOutboxStore

        return await SqliteOutboxStore.open(parsed)
    raise StoreError(parsed.url, f"the {parsed.engine.value} sink has no outbox table yet")
