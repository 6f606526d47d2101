"""The checks a gateway makes on an authentic command before any interlock or device I/O.

Order at the gateway (``docs/protocol.md``, "Checks, in order"): the envelope's key and signature
(:meth:`wire.signing.KeyRing.verify`), then :func:`check_command` — gateway, expiry, issue time, time to
live — then the command id against the replay store (the agent's, issue 11), then the interlocks.

``skew_ms`` is the clock-skew allowance between the centre and the gateway: a gateway whose clock runs
up to ``skew_ms`` ahead still runs a command until its expiry, and one whose clock runs behind still
takes a command issued up to ``skew_ms`` "in the future". The window a command is accepted in is thus
at most ``max_ttl_ms + 2 * skew_ms`` long, which bounds how long the replay store must remember an id.
"""

from __future__ import annotations

from wire.commands import Command, CommandResult, ResultState
from wire.errors import Expired, IssuedInFuture, Refusal, TtlTooLong, WrongGateway


def check_command(cmd: Command, *, gateway: str, now_ms: int, skew_ms: int, max_ttl_ms: int) -> None:
    """Raise a :class:`Refusal` when ``cmd`` must not run on ``gateway`` at ``now_ms`` (UTC ms);
    ``max_ttl_ms`` is the longest validity the command's action allows."""
    if skew_ms < 0 or max_ttl_ms <= 0:
        raise ValueError(f"skew_ms must be >= 0 and max_ttl_ms > 0, got {skew_ms} and {max_ttl_ms}")
    if cmd.gateway != gateway:
        raise WrongGateway(f"addressed to gateway {cmd.gateway!r}, this is {gateway!r}")
    if now_ms >= cmd.expires_at_ms + skew_ms:
        late = now_ms - cmd.expires_at_ms
        raise Expired(f"expired {late} ms ago (skew allowance {skew_ms} ms)")
    if cmd.issued_at_ms > now_ms + skew_ms:
        early = cmd.issued_at_ms - now_ms
        raise IssuedInFuture(f"issued {early} ms in the future (skew allowance {skew_ms} ms)")
    if cmd.ttl_ms > max_ttl_ms:
        raise TtlTooLong(f"valid for {cmd.ttl_ms} ms, {cmd.action!r} allows at most {max_ttl_ms} ms")


def refusal_result(cmd: Command, refusal: Refusal, *, gateway: str, ts_ms: int, key_id: str) -> CommandResult:
    """The result by which ``gateway`` (the one answering, signing with ``key_id``) answers a refused
    command: ``expired`` for :class:`Expired`, else ``refused``; the reason is the refusal's message."""
    state = ResultState.EXPIRED if isinstance(refusal, Expired) else ResultState.REFUSED
    return CommandResult(cmd.id, gateway, state, ts_ms, key_id, reason=str(refusal))
