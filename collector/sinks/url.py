"""Store URLs: ``sqlite:///relative/path``, ``sqlite:////absolute/path``, ``postgresql://...``.

The SQLAlchemy spelling: after ``sqlite:///`` comes the file path, so a fourth slash makes it absolute.
A relative path is relative to the config file that names it (see :func:`collector.config.load_config`),
or to the working directory when given on the command line.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

_SQLITE = "sqlite:///"


class Engine(enum.StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"  # parsed, but the sink is not built yet: refused (see BUILT)


BUILT = frozenset({Engine.SQLITE})  # the engines open_sink can open; a config naming another is refused


@dataclass(frozen=True, slots=True)
class StoreUrl:
    engine: Engine
    url: str
    path: Path | None = None  # the database file, for SQLite

    @classmethod
    def parse(cls, url: str) -> StoreUrl:
        """Parse and check a store URL; ``ValueError`` says what is wrong and what would be right."""
        if url.startswith("sqlite:"):
            return cls._parse_sqlite(url)
        if url.startswith("postgresql://"):
            if not urlsplit(url).netloc:
                raise ValueError(f"{url!r} names no server: write postgresql://user@host:port/database")
            return cls(Engine.POSTGRESQL, url)
        scheme = url.split(":", 1)[0] if ":" in url else ""
        raise ValueError(
            f"unsupported store {'scheme ' + repr(scheme) if scheme else 'URL ' + repr(url)}: write "
            "sqlite:///relative/path or sqlite:////absolute/path (postgresql:// is planned)"
        )

    @classmethod
    def _parse_sqlite(cls, url: str) -> StoreUrl:
        if not url.startswith(_SQLITE):
            raise ValueError(
                f"{url!r}: a sqlite URL has no host: write sqlite:///relative/path or "
                "sqlite:////absolute/path"
            )
        path = url[len(_SQLITE) :]
        if not path or path.endswith("/"):
            raise ValueError(f"{url!r} names no database file")
        if "?" in path or "#" in path:
            raise ValueError(f"{url!r}: query parameters are not supported")
        if path == ":memory:":
            raise ValueError("an in-memory store would lose every reading at exit: name a file")
        return cls(Engine.SQLITE, url, Path(path))

    def check_built(self) -> StoreUrl:
        """This URL, or ``ValueError`` when no sink for its engine is built yet: the config check and
        ``open_sink`` refuse the same stores."""
        if self.engine not in BUILT:
            raise ValueError(f"the {self.engine.value} sink is not built yet: use a sqlite:/// store for now")
        return self

    def resolved(self, base: Path) -> StoreUrl:
        """The same store with a relative SQLite path made absolute against ``base``."""
        if self.path is None or self.path.is_absolute():
            return self
        path = (base / self.path).resolve()
        return StoreUrl(self.engine, _SQLITE + str(path), path)
