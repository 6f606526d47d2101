"""Resolve OPC-UA points and devices: expand ``repeat``, fill ``{param}`` templates, parse node ids and
browse paths; a point that cannot be resolved is a :class:`PointError`, a bad root a :class:`RootError`."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from drivers.errors import PointError
from drivers.opcua.config import OpcUaDevice, OpcUaPoint, OpcUaPointSpec, ReadMode
from drivers.opcua.nodes import format_path, parse_node_id, parse_path
from drivers.profiles.expr import evaluate
from drivers.profiles.template import fill

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def resolve_points(
    specs: tuple[OpcUaPointSpec, ...],
    params: Mapping[str, int | str],
    *,
    read: ReadMode = ReadMode.POLL,
    sampling_interval_ms: float = 1000.0,
    namespace: str | None = None,
) -> tuple[OpcUaPoint, ...]:
    """Expand ``repeat``, fill the templates, parse node ids and paths, refuse duplicate names."""
    numbers = {k: v for k, v in params.items() if isinstance(v, int)}
    points: list[OpcUaPoint] = []
    names: dict[str, int] = {}
    for i, s in enumerate(specs):
        keys = sorted(s.repeat or {})
        ranges = []
        for k in keys:
            lo, hi = (s.repeat or {})[k]
            try:
                ranges.append(range(evaluate(lo, numbers), evaluate(hi, numbers) + 1))
            except ValueError as exc:
                raise PointError(i, f"repeat.{k}", str(exc)) from None
        for combo in itertools.product(*ranges):
            values = {**params, **dict(zip(keys, combo, strict=True))}
            p = _resolve(i, s, values, read, sampling_interval_ms)
            if p.path is not None and namespace is None and any(b.namespace is None for b in p.path):
                reason = (
                    f"browse path {format_path(p.path)!r} has names without 'index:' and no namespace is set"
                )
                raise PointError(i, "path", reason)
            if p.name in names:
                raise PointError(i, "name", f"duplicate point name {p.name!r} (also points[{names[p.name]}])")
            names[p.name] = i
            points.append(p)
    return tuple(points)


def _resolve(
    i: int,
    s: OpcUaPointSpec,
    values: Mapping[str, int | str],
    read: ReadMode,
    sampling_interval_ms: float,
) -> OpcUaPoint:
    try:
        name = fill(s.name, values)
    except ValueError as exc:
        raise PointError(i, "name", str(exc)) from None
    if not _NAME.match(name):
        raise PointError(i, "name", f"{name!r}: lowercase letters, digits and _, starting with a letter")
    node = path = None
    field = "node" if s.node is not None else "path"
    try:
        if s.node is not None:
            node = parse_node_id(fill(s.node, values))
        else:
            path = parse_path(fill(s.path or "", values))
            if not path:
                raise ValueError("an empty browse path")
    except ValueError as exc:
        raise PointError(i, field, str(exc)) from None
    return OpcUaPoint(
        name=name,
        node=node,
        path=path,
        type=s.type,
        scale=s.scale,
        offset=s.offset,
        unit=s.unit,
        enum=tuple(sorted(s.enum.items())) if s.enum else (),
        read=s.read or read,
        sampling_interval_ms=s.sampling_interval_ms
        if s.sampling_interval_ms is not None
        else sampling_interval_ms,
        timestamp=s.timestamp,
    )


def resolve_device(
    name: str,
    *,
    poll_interval_s: float,
    points: tuple[OpcUaPointSpec, ...],
    params: Mapping[str, int | str],
    root: str = "",
    namespace: str | None = None,
    read: ReadMode = ReadMode.POLL,
    sampling_interval_ms: float = 1000.0,
    timeout_s: float | None = None,
) -> OpcUaDevice:
    """A device from its points (a profile's followed by its own) and params. Raises :class:`PointError`
    for a point, :class:`RootError` for the root."""
    try:
        root_path = parse_path(fill(root, params))
    except ValueError as exc:
        raise RootError(str(exc)) from None
    if namespace is None and any(b.namespace is None for b in root_path):
        raise RootError(f"browse path {root!r} has names without 'index:' and no namespace is set")
    resolved = resolve_points(
        points, params, read=read, sampling_interval_ms=sampling_interval_ms, namespace=namespace
    )
    return OpcUaDevice(name, poll_interval_s, resolved, root_path, namespace, timeout_s)


class RootError(ValueError):
    """The device's root browse path does not resolve."""
