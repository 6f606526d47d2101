"""Collector errors; ``sqlite3`` errors are translated into :class:`StoreError` in ``sinks/sqlite.py``.

::

    CollectorError          anything the collector reports
    ├── ConfigError         the config file is unreadable or invalid (names file, field path, reason)
    ├── StoreError          the store cannot be opened, read or written (url, reason)
    └── ReportError         a report cannot be made as asked (an unknown site, no reports: section)
"""

from __future__ import annotations

from pathlib import Path


class CollectorError(Exception):
    pass


class ConfigError(CollectorError):
    """One or more problems in a config file; each is ``(field path, reason)``."""

    def __init__(self, file: Path | str, problems: list[tuple[str, str]]) -> None:
        lines = [f"{file}: {where}: {reason}" if where else f"{file}: {reason}" for where, reason in problems]
        super().__init__("\n".join(lines))
        self.file = str(file)
        self.problems = problems


class StoreError(CollectorError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"store {url}: {reason}")
        self.url = url
        self.reason = reason


class ReportError(CollectorError):
    pass
