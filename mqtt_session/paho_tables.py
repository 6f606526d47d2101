"""paho-mqtt's MQTT 5 ``Properties`` and ``ReasonCode``, with their lookup tables built once.

paho builds a ``Properties`` (and two ``ReasonCode``) for every packet it decodes: each received
PUBLISH, each PUBACK. Each ``Properties`` rebuilds its tables (27 names, 27 entries with their packet
lists, ``types.index`` for each) and finds a name by scanning them with ``str.replace``; each
``ReasonCode`` copies the table of every reason code. On the agent's live path, about 90 decoded
packets a second, that is a large part of paho's own work per packet: measured here, the properties of a
received PUBLISH took 25 µs to decode (9 µs with shared tables), a PUBACK's objects 17 µs (1.6 µs).

:func:`install` makes paho's decoder (``paho.mqtt._packet``) build the subclasses below instead: the
same classes to every caller (``isinstance`` holds, same attributes, same values), whose tables are
paho's own, read once from a template instance and shared (paho never writes to them). If paho's
modules do not have the expected shape (another major version), nothing is installed and paho runs as
it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

_TEMPLATE = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
_TYPES: list[str] = _TEMPLATE.types
_NAMES: dict[str, int] = _TEMPLATE.names
_TABLE: dict[int, tuple[int, list[int]]] = _TEMPLATE.properties
_IDS = {name.replace(" ", ""): ident for name, ident in _NAMES.items()}  # compressed name -> identifier
_NAME_OF = {ident: name for name, ident in _NAMES.items()}


class SharedTableProperties(Properties):
    """``Properties`` whose tables are shared, and whose name lookups are dictionary lookups."""

    def __init__(self, packetType: int) -> None:
        # paho's __init__ assigns these four through its own __setattr__ (a check per name); they are
        # its private names, which that __setattr__ stores as they are.
        state = self.__dict__
        state["packetType"] = packetType
        state["types"] = _TYPES
        state["names"] = _NAMES
        state["properties"] = _TABLE

    def getIdentFromName(self, compressedName: str) -> int:
        return _IDS.get(compressedName, -1)

    def getNameFromIdent(self, identifier: int) -> str | None:
        return _NAME_OF.get(identifier)

    def clear(self) -> None:
        state = self.__dict__
        for name in _IDS:
            state.pop(name, None)

    def isEmpty(self) -> bool:
        state = self.__dict__
        return not any(name in state for name in _IDS)


class SharedNamesReasonCode(ReasonCode):
    """``ReasonCode`` reading the class's read-only table instead of a copy of it per instance."""

    def __init__(self, packetType: int, aName: str = "Success", identifier: int = -1) -> None:
        self.names = type(self).names
        self.packetType = packetType
        if identifier == -1:
            if packetType == PacketTypes.DISCONNECT and aName == "Success":
                aName = "Normal disconnection"  # paho's rule
            self.set(aName)
        else:
            self.value = identifier
            self.getName()  # check it's good


def install() -> bool:
    """Make paho's packet decoder build the shared-table classes; False (and paho as it is) when its
    modules are not shaped as expected. Idempotent."""
    try:
        from paho.mqtt import _packet
    except ImportError:
        return False
    shaped = (
        isinstance(_NAMES, dict)
        and isinstance(_TABLE, dict)
        and isinstance(_TYPES, list)
        and isinstance(ReasonCode.__dict__.get("names"), Mapping)
        and getattr(_packet, "Properties", None) in (Properties, SharedTableProperties)
        and getattr(_packet, "ReasonCode", None) in (ReasonCode, SharedNamesReasonCode)
    )
    if not shaped:
        log.debug("paho-mqtt's Properties/ReasonCode are not as expected: their tables are not shared")
        return False
    module: Any = _packet
    module.Properties = SharedTableProperties
    module.ReasonCode = SharedNamesReasonCode
    return True
