"""A command's arguments against their declaration (a profile's action, or an agent-level one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drivers.profiles.actions import ArgSpec
from wire.errors import BadArgument
from wire.points import Value


def check_declared(action: str, specs: Sequence[ArgSpec], args: Mapping[str, Value]) -> BadArgument | None:
    """None if ``args`` fit ``specs``, else the first misfit, naming the arg: one not declared, one
    required and missing, one of the wrong type or out of its bounds."""
    known = {s.name: s for s in specs}
    for name in sorted(args):
        if name not in known:
            takes = ", ".join(known) or "none"
            return BadArgument(name, f"{action!r} takes no such argument (it takes: {takes})")
    for spec in specs:
        if spec.name not in args:
            if spec.required:
                return BadArgument(spec.name, "required, missing")
        elif (problem := spec.problem(args[spec.name])) is not None:
            return BadArgument(spec.name, problem)
    return None
