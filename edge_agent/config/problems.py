"""What is wrong with a config file, said so that a person finds it: ``agent.yaml:12:5: duplicate key
'port' (first at line 9)``, ``agent.yaml: buses[0].devices[3].unit: ...``. Reading a YAML file goes
through the shared loader (:mod:`configfile.loader`), which refuses a key given twice."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from configfile.loader import YamlError, parse


class ConfigError(ValueError):
    """Every problem found in one file, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def read_yaml(path: Path) -> dict[str, Any]:
    """A config or profile file's top-level mapping, or :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError([f"{path}: cannot read: {reason}"]) from None
    try:
        data = parse(text, path)
    except YamlError as exc:
        raise ConfigError([str(exc)]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of settings, got {type(data).__name__}"])
    return data


def format_loc(loc: Sequence[int | str], tags: Collection[str] = ()) -> str:
    """``buses[0].devices[3].unit`` from pydantic's location; ``tags`` are the discriminators of tagged
    unions (the bus kinds), which pydantic puts in the location but are no key in the file."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in tags and i > 0 and isinstance(loc[i - 1], int):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validation_problems(
    path: Path, exc: ValidationError, prefix: str = "", tags: Collection[str] = ()
) -> list[str]:
    problems = []
    for err in exc.errors():
        where = format_loc(err["loc"], tags)
        if prefix:
            where = f"{prefix}.{where}" if where != "(top level)" else prefix
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {where}: {msg}")
    return problems
