"""``sim-tlc`` as a real OPC-UA server (asyncua): a :class:`TrafficController` under
``Objects/Intersection_<id>/`` (devices.md §5.2), in namespace :data:`NAMESPACE`.

::

    Intersection_<id>/
      Status/       ControlMode, FunctionalPosition, PlanSource (Int32 enums), CurrentPlan (Byte),
                    CycleCounter, CycleTime, Stage (UInt16)
      SignalGroups/ SG<n>/State (String: the RSMP character), SG<n>/Color (Int32: traffic_controller.Color)
      Detectors/    D<n>/Active (Boolean), D<n>/Count (UInt32), D<n>/Occupancy (Double, %)
      Alarms/       A0001 ... A0302 (Boolean)
      Priority/     Requests/R<k>/RequestId (String), State (Int32, -1 = empty slot), SignalGroup (UInt16),
                    GrantedS (Double); the 4 most recent requests, newest last
      SetPlan(Plan: Byte, UseCommanded: Boolean, SecurityCode: String) -> AppliesInS: Double
      SetFunctionalPosition(Position: Int32, TimeoutMin: UInt16, SecurityCode: String) -> AppliesInS: Double
      RequestPriority(RequestId: String, SignalGroup: UInt16, Type: Int32, Level: Byte, Eta: UInt16,
                      VehicleType: Int32) -> State: Int32
      Heartbeat()

Every node id is ``ns=<NAMESPACE>;s=Intersection_<id>/<path>``. Variables are read-only; the values are
pushed from the model every ``refresh_s`` (only those that changed, so subscriptions see changes) and
after each method call. A refused command is a Bad status: BadUserAccessDenied (security code),
BadInvalidArgument, BadInvalidState. With ``security``, only Basic256Sha256 endpoints are offered, and
with ``trusted`` only those client certificates are accepted (others get BadCertificateUntrusted).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from asyncua import ua
from asyncua.common.node import Node
from asyncua.common.utils import ServiceError
from asyncua.server.server import Server
from asyncua.ua.status_codes import StatusCodes
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from simulators.traffic.controller import TrafficController
from simulators.traffic.priority import PriorityType
from simulators.traffic.status import CommandRefused, FunctionalPosition, Refusal, Snapshot

NAMESPACE = "urn:streetgate:sim-tlc"
APPLICATION_URI = "urn:streetgate:sim-tlc:server"
Mode = Literal["Sign", "SignAndEncrypt"]
_V = ua.VariantType
_REFUSALS = {
    Refusal.BAD_SECURITY_CODE: StatusCodes.BadUserAccessDenied,
    Refusal.INVALID_ARGUMENT: StatusCodes.BadInvalidArgument,
    Refusal.INVALID_STATE: StatusCodes.BadInvalidState,
}
_Method = Callable[[list[Any]], Awaitable[list[ua.Variant]]]


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    certificate: Path
    private_key: Path
    modes: tuple[Mode, ...] = ("Sign", "SignAndEncrypt")
    trusted: tuple[Path, ...] | None = None  # client certificates accepted; None: any


class TrafficControllerServer:
    def __init__(
        self,
        model: TrafficController,
        *,
        host: str = "127.0.0.1",
        port: int = 4840,
        intersection: int = 1,
        security: ServerSecurity | None = None,
        refresh_s: float = 0.2,
    ) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.intersection = intersection
        self.security = security
        self.refresh_s = refresh_s
        self._server: Server | None = None
        self._ns = 0
        self._nodes: dict[str, tuple[ua.NodeId, ua.VariantType]] = {}
        self._written: dict[str, object] = {}
        self._bad: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def root(self) -> str:
        return f"Intersection_{self.intersection}"

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/"

    def node_id(self, path: str) -> str:
        """The node id (text form) of a variable, e.g. ``node_id("Status/Stage")``."""
        return f"ns={self._ns};s={self.root}/{path}"

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.disable_clock()  # its 1 s ticker would delay stop() by up to a second
        server.set_server_name(f"sim-tlc intersection {self.intersection}")
        await server.set_application_uri(APPLICATION_URI)
        server.set_endpoint(self.endpoint)
        await self._set_security(server)
        self._ns = await server.register_namespace(NAMESPACE)
        await self._build(server)
        await server.start()
        if server.bserver is not None and server.bserver.port:
            self.port = int(server.bserver.port)
        self._server = server
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_loop(), name=f"sim-tlc-{self.intersection}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server is not None:
            await self._server.stop()
            # asyncua keeps a session with subscriptions after its connection closed (Part 4 §6.7: the
            # client may reactivate it); a controller that stops loses them all, and so does this one.
            iserver = self._server.iserver
            for session in list(iserver._external_sessions.values()):
                await session.close_session(True)
            self._server = None
        self._written.clear()

    async def __aenter__(self) -> TrafficControllerServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def set_bad(self, path: str, status: str = "BadSensorFailure") -> None:
        """Fault injection: the variable at ``path`` reports a Bad ``status`` (its value frozen) until
        :meth:`clear_bad`."""
        server = self._server
        if server is None:
            raise RuntimeError("the server is not running")
        node, vtype = self._nodes[path]
        self._bad.add(path)
        code = ua.StatusCode(ua.UInt32(getattr(StatusCodes, status)))
        value = ua.Variant(self._written.get(path), vtype)
        await server.write_attribute_value(node, ua.DataValue(value, StatusCode=code))

    async def clear_bad(self, path: str) -> None:
        self._bad.discard(path)
        self._written.pop(path, None)
        await self.refresh()

    async def refresh(self) -> None:
        """Write the model's current values (those that changed) into the address space."""
        server = self._server
        if server is None:
            return
        for path, value in _values(self.model.snapshot()).items():
            if path in self._bad or self._written.get(path, _UNSET) == value:
                continue
            node, vtype = self._nodes[path]
            await server.write_attribute_value(node, ua.DataValue(ua.Variant(value, vtype)))
            self._written[path] = value

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            await self.refresh()

    async def _set_security(self, server: Server) -> None:
        server.set_identity_tokens([ua.AnonymousIdentityToken])  # no users: the channel's security only
        sec = self.security
        if sec is None:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
            return
        await server.load_certificate(str(sec.certificate))
        await server.load_private_key(str(sec.private_key))
        policies = {
            "Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
            "SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
        }
        server.set_security_policy([policies[m] for m in sec.modes])
        if sec.trusted is not None:
            trusted = {_fingerprint(x509.load_pem_x509_certificate(p.read_bytes())) for p in sec.trusted}

            async def validate(cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
                if _fingerprint(cert) not in trusted:
                    raise ServiceError(StatusCodes.BadCertificateUntrusted)

            server.set_certificate_validator(validate)

    # --- the address space ------------------------------------------------------------------------

    async def _build(self, server: Server) -> None:
        root = await server.nodes.objects.add_object(self._id(""), self._name(self.root))
        objects: dict[str, Node] = {"": root}
        for path, value in _values(self.model.snapshot()).items():
            parent = await self._parent(objects, path.rsplit("/", 1)[0])
            vtype = _vtype(path)
            node = await parent.add_variable(self._id(path), self._name(path.split("/")[-1]), value, vtype)
            self._nodes[path] = (node.nodeid, vtype)
        await self._method(
            root,
            "SetPlan",
            self._set_plan,
            [("Plan", _V.Byte), ("UseCommanded", _V.Boolean), ("SecurityCode", _V.String)],
            [("AppliesInS", _V.Double)],
        )
        await self._method(
            root,
            "SetFunctionalPosition",
            self._set_position,
            [("Position", _V.Int32), ("TimeoutMin", _V.UInt16), ("SecurityCode", _V.String)],
            [("AppliesInS", _V.Double)],
        )
        request = [("RequestId", _V.String), ("SignalGroup", _V.UInt16), ("Type", _V.Int32)]
        request += [("Level", _V.Byte), ("Eta", _V.UInt16), ("VehicleType", _V.Int32)]
        await self._method(root, "RequestPriority", self._request_priority, request, [("State", _V.Int32)])
        await self._method(root, "Heartbeat", self._heartbeat, [], [])

    async def _parent(self, objects: dict[str, Node], path: str) -> Node:
        if path not in objects:
            above, _, name = path.rpartition("/")
            parent = await self._parent(objects, above)
            objects[path] = await parent.add_object(self._id(path), self._name(name))
        return objects[path]

    async def _method(
        self,
        parent: Node,
        name: str,
        call: _Method,
        inputs: Sequence[tuple[str, ua.VariantType]],
        outputs: Sequence[tuple[str, ua.VariantType]],
    ) -> None:
        types = [t for _, t in inputs]

        async def checked(node: ua.NodeId, *args: ua.Variant) -> list[ua.Variant] | ua.StatusCode:
            if len(args) != len(types):
                code = (
                    StatusCodes.BadArgumentsMissing
                    if len(args) < len(types)
                    else StatusCodes.BadTooManyArguments
                )
                return ua.StatusCode(ua.UInt32(code))
            if any(a.VariantType != t for a, t in zip(args, types, strict=True)):
                return ua.StatusCode(ua.UInt32(StatusCodes.BadTypeMismatch))
            try:
                result = await call([a.Value for a in args])
            except CommandRefused as exc:
                return ua.StatusCode(ua.UInt32(_REFUSALS[exc.refusal]))
            await self.refresh()
            return result

        await parent.add_method(
            self._id(name),
            self._name(name),
            checked,
            [_argument(*i) for i in inputs],
            [_argument(*o) for o in outputs],
        )

    def _id(self, path: str) -> ua.NodeId:
        text = f"{self.root}/{path}" if path else self.root
        return ua.NodeId(ua.String(text), ua.Int16(self._ns), ua.NodeIdType.String)

    def _name(self, name: str) -> ua.QualifiedName:
        return ua.QualifiedName(name, self._ns)

    # --- the methods --------------------------------------------------------------------------------

    async def _set_plan(self, args: list[Any]) -> list[ua.Variant]:
        plan, use_commanded, code = args
        return [ua.Variant(self.model.set_plan(plan, use_commanded, code), _V.Double)]

    async def _set_position(self, args: list[Any]) -> list[ua.Variant]:
        position, timeout_min, code = args
        try:
            target = FunctionalPosition(position)
        except ValueError:
            raise CommandRefused(Refusal.INVALID_ARGUMENT, f"no functional position {position}") from None
        return [ua.Variant(self.model.set_functional_position(target, timeout_min, code), _V.Double)]

    async def _request_priority(self, args: list[Any]) -> list[ua.Variant]:
        request_id, group, type_, level, eta, vehicle = args
        try:
            kind = PriorityType(type_)
        except ValueError:
            raise CommandRefused(Refusal.INVALID_ARGUMENT, f"no request type {type_}") from None
        state = self.model.request_priority(
            request_id, group, kind, level=level, eta_s=eta, vehicle_type=vehicle
        )
        return [ua.Variant(int(state), _V.Int32)]

    async def _heartbeat(self, args: list[Any]) -> list[ua.Variant]:
        self.model.heartbeat()
        return []


_UNSET = object()
PRIORITY_SLOTS = 4
_TYPES = {
    "ControlMode": _V.Int32,
    "FunctionalPosition": _V.Int32,
    "CurrentPlan": _V.Byte,
    "PlanSource": _V.Int32,
    "CycleCounter": _V.UInt16,
    "CycleTime": _V.UInt16,
    "Stage": _V.UInt16,
    "State": _V.String,  # a signal group's (a priority slot's is an Int32: see _vtype)
    "Color": _V.Int32,
    "Active": _V.Boolean,
    "Count": _V.UInt32,
    "Occupancy": _V.Double,
    "RequestId": _V.String,
    "SignalGroup": _V.UInt16,
    "GrantedS": _V.Double,
}


def _vtype(path: str) -> ua.VariantType:
    if path.startswith("Alarms/"):
        return _V.Boolean
    if path.startswith("Priority/") and path.endswith("/State"):
        return _V.Int32
    return _TYPES[path.rsplit("/", 1)[-1]]


def _values(s: Snapshot) -> dict[str, object]:
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


def _argument(name: str, vtype: ua.VariantType) -> ua.Argument:
    arg = ua.Argument()
    arg.Name = ua.String(name)
    arg.DataType = ua.NodeId(ua.Int32(vtype.value))
    arg.ValueRank = ua.Int32(-1)
    arg.Description = ua.LocalizedText(name)
    return arg


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())
