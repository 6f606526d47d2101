"""The methods of the ``sim-tlc`` server (SetPlan, SetFunctionalPosition, RequestPriority, Heartbeat):
arguments checked against their declared types, the model's command called, a refused command as a Bad
status (BadUserAccessDenied for the security code, BadInvalidArgument, BadInvalidState)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from asyncua import ua
from asyncua.ua.status_codes import StatusCodes

from simulators.traffic.controller import TrafficController
from simulators.traffic.priority import PriorityType
from simulators.traffic.status import CommandRefused, FunctionalPosition, Refusal

_V = ua.VariantType
_REFUSALS = {
    Refusal.BAD_SECURITY_CODE: StatusCodes.BadUserAccessDenied,
    Refusal.INVALID_ARGUMENT: StatusCodes.BadInvalidArgument,
    Refusal.INVALID_STATE: StatusCodes.BadInvalidState,
}
Call = Callable[[list[Any]], Awaitable[list[ua.Variant]]]
Signature = Sequence[tuple[str, ua.VariantType]]
Handler = Callable[..., Awaitable[list[ua.Variant] | ua.StatusCode]]


def checked(call: Call, inputs: Signature, after: Callable[[], Awaitable[None]]) -> Handler:
    """``call`` as an asyncua method handler: its arguments' count and types checked first, a refused
    command as its Bad status, ``after()`` awaited once it ran."""
    types = [t for _, t in inputs]

    async def handler(node: ua.NodeId, *args: ua.Variant) -> list[ua.Variant] | ua.StatusCode:
        if len(args) != len(types):
            code = (
                StatusCodes.BadArgumentsMissing if len(args) < len(types) else StatusCodes.BadTooManyArguments
            )
            return ua.StatusCode(ua.UInt32(code))
        if any(a.VariantType != t for a, t in zip(args, types, strict=True)):
            return ua.StatusCode(ua.UInt32(StatusCodes.BadTypeMismatch))
        try:
            result = await call([a.Value for a in args])
        except CommandRefused as exc:
            return ua.StatusCode(ua.UInt32(_REFUSALS[exc.refusal]))
        await after()
        return result

    return handler


class Methods:
    """The model's commands with OPC-UA arguments: name -> (call, inputs, outputs)."""

    def __init__(self, model: TrafficController) -> None:
        self.model = model

    def table(self) -> dict[str, tuple[Call, Signature, Signature]]:
        request = [("RequestId", _V.String), ("SignalGroup", _V.UInt16), ("Type", _V.Int32)]
        request += [("Level", _V.Byte), ("Eta", _V.UInt16), ("VehicleType", _V.Int32)]
        return {
            "SetPlan": (
                self._set_plan,
                [("Plan", _V.Byte), ("UseCommanded", _V.Boolean), ("SecurityCode", _V.String)],
                [("AppliesInS", _V.Double)],
            ),
            "SetFunctionalPosition": (
                self._set_position,
                [("Position", _V.Int32), ("TimeoutMin", _V.UInt16), ("SecurityCode", _V.String)],
                [("AppliesInS", _V.Double)],
            ),
            "RequestPriority": (self._request_priority, request, [("State", _V.Int32)]),
            "Heartbeat": (self._heartbeat, [], []),
        }

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
