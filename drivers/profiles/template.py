"""Text templates in profiles: ``"Intersection_{id}"``, ``"SignalGroups/SG{n}/State"``, ``"sg{n:02d}"``.

A ``{name}`` or ``{name:spec}`` field takes the device's param (or the point's ``repeat`` value) of that
name, formatted with ``spec``; nothing else is evaluated (no attributes, no indexing): a profile is data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}")


def fill(template: str, params: Mapping[str, int | str]) -> str:
    """Fill a template; raises ValueError naming a field that is not a param or does not format."""

    def field(m: re.Match[str]) -> str:
        name, spec = m[1], m[2] or ""
        if name not in params:
            known = ", ".join(sorted(params)) or "none"
            raise ValueError(f"{template!r} uses {{{name}}}, not a param ({known})")
        try:
            return format(params[name], spec)
        except ValueError as exc:
            raise ValueError(
                f"{template!r}: {{{m[0][1:-1]}}} does not format {params[name]!r}: {exc}"
            ) from None

    rest = _FIELD.sub("", template)
    if "{" in rest or "}" in rest:
        raise ValueError(f"{template!r}: a brace that is not a {{param}} field")
    return _FIELD.sub(field, template)
