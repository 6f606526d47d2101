"""Addresses at run time: a point's node id or browse path, and a method's browse path, to the server's
NodeIds, with the namespace URIs looked up in the server's namespace array (configs are resolved in
:mod:`drivers.opcua.resolve`). A point that cannot be
resolved gets the reason instead of a NodeId (a str); the other points still resolve."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.ua_utils import data_type_to_variant_type
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaStatusCodeError

from drivers.errors import BadStatus, DriverError
from drivers.opcua.config import OpcUaDevice
from drivers.opcua.errors import status
from drivers.opcua.nodes import BrowseName, IdKind, NodeRef, format_path

_HIERARCHICAL = ua.NodeId(ua.Int32(ObjectIds.HierarchicalReferences))
OBJECTS = ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))


@dataclass(slots=True)
class Method:
    parent: ua.NodeId
    method: ua.NodeId
    arguments: tuple[tuple[str, ua.VariantType], ...]


async def nodes(client: Client, namespaces: Sequence[str], dev: OpcUaDevice) -> dict[str, ua.NodeId | str]:
    """Each point of ``dev`` to its node, or to why it has none (an unknown path, a missing namespace)."""
    out: dict[str, ua.NodeId | str] = {}
    with_path = [p for p in dev.points if p.path is not None]
    for p in dev.points:
        if p.node is not None:
            out[p.name] = node_id(namespaces, p.node)
    if with_path:
        rpaths: list[ua.RelativePath | str] = []
        for p in with_path:
            rpath = relative_path(namespaces, dev, dev.root + (p.path or ()))
            rpaths.append(rpath if isinstance(rpath, ua.RelativePath) else ua.RelativePath())
            if isinstance(rpath, str):
                out[p.name] = rpath
        results = await client.translate_browsepaths(OBJECTS, rpaths)
        for p, r in zip(with_path, results, strict=True):
            if p.name in out:
                continue
            s = status(r.StatusCode)
            if s.bad or not r.Targets:
                where = format_path(dev.root + (p.path or ()))
                out[p.name] = f"no node at {where} from Objects ({s.name})"
            else:
                out[p.name] = plain_node(r.Targets[0].TargetId)
    return out


def node_id(namespaces: Sequence[str], ref: NodeRef) -> ua.NodeId | str:
    ns = namespace(namespaces, ref.namespace)
    if isinstance(ns, str):
        return ns
    match ref.kind:
        case IdKind.NUMERIC:
            return ua.NodeId(ua.Int32(int(ref.identifier)), ua.Int16(ns), ua.NodeIdType.Numeric)
        case IdKind.STRING:
            return ua.NodeId(ua.String(ref.identifier), ua.Int16(ns), ua.NodeIdType.String)
        case IdKind.GUID:
            return ua.NodeId(ua.Guid(ref.identifier), ua.Int16(ns), ua.NodeIdType.Guid)
        case IdKind.OPAQUE:
            opaque = ua.ByteString(base64.b64decode(ref.identifier))
            return ua.NodeId(opaque, ua.Int16(ns), ua.NodeIdType.ByteString)


def namespace(namespaces: Sequence[str], ns: int | str) -> int | str:
    """The index of a namespace, or why there is none (as a str)."""
    if isinstance(ns, int):
        return ns
    try:
        return list(namespaces).index(ns)
    except ValueError:
        return f"the server has no namespace {ns!r}"


def relative_path(
    namespaces: Sequence[str], dev: OpcUaDevice, path: tuple[BrowseName, ...]
) -> ua.RelativePath | str:
    elements = []
    for b in path:
        ns = namespace(namespaces, b.namespace if b.namespace is not None else dev.namespace or 0)
        if isinstance(ns, str):
            return ns
        element = ua.RelativePathElement(
            ReferenceTypeId=_HIERARCHICAL, TargetName=ua.QualifiedName(b.name, ns)
        )
        element.IsInverse = False  # type: ignore[assignment]  # asyncua types it as its empty Boolean class
        element.IncludeSubtypes = True  # type: ignore[assignment]
        elements.append(element)
    return ua.RelativePath(Elements=elements)


async def method(
    client: Client, namespaces: Sequence[str], dev: OpcUaDevice, path: tuple[BrowseName, ...]
) -> Method:
    """The method at ``path`` under the device's root: its object, its node and its input arguments."""
    paths = [
        relative_path(namespaces, dev, dev.root + path[:-1]),
        relative_path(namespaces, dev, dev.root + path),
    ]
    for p in paths:
        if isinstance(p, str):
            raise DriverError(p, device=dev.name)
    results = await client.translate_browsepaths(
        OBJECTS, [p for p in paths if isinstance(p, ua.RelativePath)]
    )
    found = []
    for r in results:
        s = status(r.StatusCode)
        if s.bad or not r.Targets:
            where = format_path(dev.root + path)
            raise BadStatus(s.code, s.name, f"no method at {where} ({s.name})", device=dev.name)
        found.append(plain_node(r.Targets[0].TargetId))
    parent, target = found
    arguments: list[tuple[str, ua.VariantType]] = []
    try:
        declared = await client.get_node(target).get_child("0:InputArguments")
        for arg in await declared.read_value() or []:
            arguments.append((arg.Name, await data_type_to_variant_type(client.get_node(arg.DataType))))
    except UaStatusCodeError as exc:
        if exc.code != StatusCodes.BadNoMatch:  # a method without arguments has no InputArguments
            raise
    return Method(parent, target, tuple(arguments))


def plain_node(target: ua.NodeId) -> ua.NodeId:
    """A plain NodeId (browse results are ExpandedNodeIds, which do not compare equal to it)."""
    return ua.NodeId(target.Identifier, target.NamespaceIndex, target.NodeIdType)
