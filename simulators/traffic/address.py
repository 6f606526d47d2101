"""The address space of the ``sim-tlc`` server: the variables under ``Intersection_<id>/``, their types,
and their values from a model snapshot (see :mod:`simulators.traffic.server` for the tree)."""

from __future__ import annotations

from asyncua import ua

from simulators.traffic.status import Snapshot

NAMESPACE = "urn:streetgate:sim-tlc"
_V = ua.VariantType
PRIORITY_SLOTS = 4
UNECE_UNITS = "http://www.opcfoundation.org/UA/units/un/cefact"
# analog variables -> (UNECE common code, display name, description): their EngineeringUnits property
_UNITS = {
    "CycleCounter": ("SEC", "s", "second"),
    "CycleTime": ("SEC", "s", "second"),
    "Occupancy": ("P1", "%", "percent"),
    "GrantedS": ("SEC", "s", "second"),
}
_TYPES = {
    "ControlMode": _V.Int32,
    "FunctionalPosition": _V.Int32,
    "CurrentPlan": _V.Byte,
    "PlanSource": _V.Int32,
    "CycleCounter": _V.UInt16,
    "CycleTime": _V.UInt16,
    "Stage": _V.UInt16,
    "State": _V.String,  # a signal group's (a priority slot's is an Int32: see vtype)
    "Color": _V.Int32,
    "Active": _V.Boolean,
    "Count": _V.UInt32,
    "Occupancy": _V.Double,
    "RequestId": _V.String,
    "SignalGroup": _V.UInt16,
    "GrantedS": _V.Double,
}


def vtype(path: str) -> ua.VariantType:
    if path.startswith("Alarms/"):
        return _V.Boolean
    if path.startswith("Priority/") and path.endswith("/State"):
        return _V.Int32
    return _TYPES[path.rsplit("/", 1)[-1]]


def engineering_units(path: str) -> ua.EUInformation | None:
    """The EngineeringUnits of an analog variable (OPC-UA Part 8: UNECE code as UnitId), else None."""
    unit = _UNITS.get(path.rsplit("/", 1)[-1])
    if unit is None:
        return None
    code, display, description = unit
    eu = ua.EUInformation()
    eu.NamespaceUri = ua.String(UNECE_UNITS)
    eu.UnitId = ua.Int32(int.from_bytes(code.encode(), "big"))
    eu.DisplayName = ua.LocalizedText(display, "en")
    eu.Description = ua.LocalizedText(description, "en")
    return eu


def values(s: Snapshot) -> dict[str, object]:
    out: dict[str, object] = {
        "Status/ControlMode": int(s.control_mode),
        "Status/FunctionalPosition": int(s.functional_position),
        "Status/CurrentPlan": s.plan,
        "Status/PlanSource": int(s.plan_source),
        "Status/CycleCounter": s.cycle_counter,
        "Status/CycleTime": s.cycle_time,
        "Status/Stage": s.stage,
    }
    for n, (state, color) in enumerate(zip(s.groups, s.colors, strict=True), start=1):
        out[f"SignalGroups/SG{n}/State"] = state
        out[f"SignalGroups/SG{n}/Color"] = int(color)
    for n, d in enumerate(s.detectors, start=1):
        out[f"Detectors/D{n}/Active"] = d.active
        out[f"Detectors/D{n}/Count"] = d.count
        out[f"Detectors/D{n}/Occupancy"] = d.occupancy
    for code, active in s.alarms.items():
        out[f"Alarms/{code}"] = active
    slots = list(s.priority) + [None] * (PRIORITY_SLOTS - len(s.priority))
    for k, slot in enumerate(slots, start=1):
        out[f"Priority/Requests/R{k}/RequestId"] = slot.request_id if slot else ""
        out[f"Priority/Requests/R{k}/State"] = int(slot.state) if slot else -1
        out[f"Priority/Requests/R{k}/SignalGroup"] = slot.signal_group if slot else 0
        out[f"Priority/Requests/R{k}/GrantedS"] = float(slot.granted_s) if slot else 0.0
    return out


def argument(name: str, vtype: ua.VariantType) -> ua.Argument:
    arg = ua.Argument()
    arg.Name = ua.String(name)
    arg.DataType = ua.NodeId(ua.Int32(vtype.value))
    arg.ValueRank = ua.Int32(-1)
    arg.Description = ua.LocalizedText(name)
    return arg
