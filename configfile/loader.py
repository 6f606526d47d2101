"""One YAML loader for every config file: PyYAML's SafeLoader, except that a key given twice in one
mapping is refused (PyYAML silently keeps the last one, so a second ``port:`` pasted further down would
win without a word).

:func:`parse` turns every YAML problem into a :class:`YamlError` naming the file, the line and the column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlError(ValueError):
    """The file is not YAML, or repeats a key; ``line`` and ``column`` count from 1 (None: unknown)."""

    def __init__(self, path: Path, line: int | None, column: int | None, reason: str) -> None:
        where = f"{path}:{line}:{column}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names one key twice."""


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that raises :class:`DuplicateKeyError` at the second occurrence of a key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader's own error says so below
                break
            if first is not None:
                raise DuplicateKeyError(
                    None, None, f"duplicate key {key!r} (first at line {first.line + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def parse(text: str, path: Path) -> Any:
    """The document in ``text`` (read from ``path``), or :class:`YamlError`."""
    loader = UniqueKeyLoader(text)
    loader.name = str(path)  # the marks of errors name the file
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = exc.problem or str(exc)
        reason = problem if isinstance(exc, DuplicateKeyError) else f"YAML syntax error: {problem}"
        if mark is None:
            raise YamlError(path, None, None, reason) from None
        raise YamlError(path, mark.line + 1, mark.column + 1, reason) from None
    except yaml.YAMLError as exc:
        raise YamlError(path, None, None, f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()
