"""The one place the SQLite store modules turn ``sqlite3`` errors into :class:`StoreError`."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from collector.errors import StoreError


@contextlib.contextmanager
def translated(url: str, doing: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(url, f"{doing} failed: {exc}") from exc
