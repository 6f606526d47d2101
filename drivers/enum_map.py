"""Enumerations in point configs (any protocol): ``enum: {0: unknown, 1: up}`` maps a raw code to its
label. A map is never empty and never gives one label to two codes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

EnumLabel = Annotated[str, Field(min_length=1, max_length=64)]


def _unique_labels(v: dict[int, str]) -> dict[int, str]:
    if not v:
        raise ValueError("enum needs at least one code")
    seen: dict[str, int] = {}
    for code, label in v.items():
        if label in seen:
            raise ValueError(f"enum label {label!r} is given to codes {seen[label]} and {code}")
        seen[label] = code
    return v


EnumMap = Annotated[dict[int, EnumLabel], AfterValidator(_unique_labels)]
