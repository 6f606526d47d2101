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
import datetime
from collections.abc import Callable
from typing import cast

from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

from simulators.served import Served
from simulators.traffic.address import NAMESPACE, argument, engineering_units, values, vtype
from simulators.traffic.controller import TrafficController
from simulators.traffic.methods import Methods, checked
from simulators.traffic.security import ServerSecurity, set_security

APPLICATION_URI = "urn:streetgate:sim-tlc:server"
_UNSET = object()


class TrafficControllerServer(Served):
    def __init__(
        self,
        model: TrafficController,
        *,
        host: str = "127.0.0.1",
        port: int = 4840,
        intersection: int = 1,
        security: ServerSecurity | None = None,
        refresh_s: float = 0.2,
        wall: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.intersection = intersection
        self.security = security
        self.refresh_s = refresh_s
        self._wall = wall or _utc_now  # the controller's clock: its values' SourceTimestamp
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
        await set_security(server, self.security)
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
        await server.write_attribute_value(node, self._stamped(value, code))

    async def clear_bad(self, path: str) -> None:
        self._bad.discard(path)
        self._written.pop(path, None)
        await self.refresh()

    async def refresh(self) -> None:
        """Write the model's current values (those that changed) into the address space."""
        server = self._server
        if server is None:
            return
        for path, value in values(self.model.snapshot()).items():
            if path in self._bad or self._written.get(path, _UNSET) == value:
                continue
            node, vtype = self._nodes[path]
            await server.write_attribute_value(node, self._stamped(ua.Variant(value, vtype)))
            self._written[path] = value

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            await self.refresh()

    # --- the address space ------------------------------------------------------------------------

    async def _build(self, server: Server) -> None:
        root = await server.nodes.objects.add_object(self._id(""), self._name(self.root))
        objects: dict[str, Node] = {"": root}
        for path, value in values(self.model.snapshot()).items():
            parent = await self._parent(objects, path.rsplit("/", 1)[0])
            vt = vtype(path)
            node = await parent.add_variable(self._id(path), self._name(path.split("/")[-1]), value, vt)
            eu = engineering_units(path)
            if eu is not None:
                await node.add_property(
                    self._id(f"{path}/EngineeringUnits"),
                    ua.QualifiedName("EngineeringUnits", 0),
                    ua.Variant(eu, ua.VariantType.ExtensionObject),
                    datatype=ua.NodeId(ua.Int32(ObjectIds.EUInformation)),
                )
            self._nodes[path] = (node.nodeid, vt)
        for name, (call, inputs, outputs) in Methods(self.model).table().items():
            await root.add_method(
                self._id(name),
                self._name(name),
                checked(call, inputs, self.refresh),
                [argument(*i) for i in inputs],
                [argument(*o) for o in outputs],
            )

    async def _parent(self, objects: dict[str, Node], path: str) -> Node:
        if path not in objects:
            above, _, name = path.rpartition("/")
            parent = await self._parent(objects, above)
            objects[path] = await parent.add_object(self._id(path), self._name(name))
        return objects[path]

    def _id(self, path: str) -> ua.NodeId:
        text = f"{self.root}/{path}" if path else self.root
        return ua.NodeId(ua.String(text), ua.Int16(self._ns), ua.NodeIdType.String)

    def _name(self, name: str) -> ua.QualifiedName:
        return ua.QualifiedName(name, self._ns)

    def _stamped(self, value: ua.Variant, status: ua.StatusCode | None = None) -> ua.DataValue:
        """A value as the controller sends it: its SourceTimestamp from the controller's clock, its
        ServerTimestamp from the server's."""
        # asyncua types its DateTime as a marker subclass of datetime, and takes any datetime
        source, server = cast(ua.DateTime, self._wall()), cast(ua.DateTime, _utc_now())
        if status is None:
            return ua.DataValue(value, SourceTimestamp=source, ServerTimestamp=server)
        return ua.DataValue(value, StatusCode=status, SourceTimestamp=source, ServerTimestamp=server)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
