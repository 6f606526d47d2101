"""OPC-UA node ids (``ns=2;s=Tlc.Stage``, ``nsu=<uri>;i=42``) and browse paths (``Status/Stage``,
``0:Server/0:ServerStatus``), parsed from text before any I/O."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class IdKind(enum.StrEnum):
    NUMERIC = "i"
    STRING = "s"
    GUID = "g"
    OPAQUE = "b"


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node id: in namespace ``namespace`` (an index, or a URI resolved on connect)."""

    namespace: int | str
    kind: IdKind
    identifier: str

    def __str__(self) -> str:
        ns = f"ns={self.namespace};" if isinstance(self.namespace, int) else f"nsu={self.namespace};"
        return f"{ns}{self.kind.value}={self.identifier}"


_NODE_ID = re.compile(r"^(?:ns=(?P<ns>\d+);|nsu=(?P<nsu>[^;]+);)?(?P<kind>[isgb])=(?P<id>.+)$", re.DOTALL)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_node_id(text: str) -> NodeRef:
    m = _NODE_ID.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a node id ('ns=2;s=Name', 'nsu=urn:x;i=42', 'i=2258')")
    kind = IdKind(m["kind"])
    ident = m["id"]
    if kind is IdKind.NUMERIC and not (ident.isdigit() and int(ident) < 2**32):
        raise ValueError(f"{text!r}: a numeric identifier is 0..4294967295")
    if kind is IdKind.GUID and not _GUID.match(ident):
        raise ValueError(f"{text!r}: a guid identifier is 8-4-4-4-12 hex digits")
    if m["ns"] is not None and int(m["ns"]) > 65535:
        raise ValueError(f"{text!r}: a namespace index is 0..65535")
    namespace: int | str = m["nsu"] if m["nsu"] is not None else int(m["ns"] or 0)
    return NodeRef(namespace, kind, ident)


@dataclass(frozen=True, slots=True)
class BrowseName:
    name: str
    namespace: int | None = None  # None: the device's namespace

    def __str__(self) -> str:
        return self.name if self.namespace is None else f"{self.namespace}:{self.name}"


def parse_path(text: str) -> tuple[BrowseName, ...]:
    """``Status/Stage`` or ``0:Server/0:ServerStatus``: browse names separated by ``/``."""
    if not text:
        return ()
    out = []
    for element in text.split("/"):
        m = re.match(r"^(?:(\d{1,5}):)?([^/:]+)$", element)
        if m is None:
            raise ValueError(f"browse path {text!r}: element {element!r} is not a name or 'index:name'")
        out.append(BrowseName(m[2], int(m[1]) if m[1] is not None else None))
    return tuple(out)


def format_path(path: tuple[BrowseName, ...]) -> str:
    return "/".join(str(b) for b in path)
