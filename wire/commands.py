"""Commands (centre -> gateway, ``.../cmd``) and their results (gateway -> centre, ``.../cmd/result``).

This module holds the *bodies*: what is signed. :mod:`wire.signing` wraps a body in the envelope
``{"body": <bytes>, "key_id": ..., "sig": <64 bytes>}``; :mod:`wire.gate` holds the checks a gateway
makes before it acts. ``docs/protocol.md`` ("Commands and results") is the human-readable contract.

**Canonical msgpack, not canonical JSON.** A signature covers the exact bytes of the body, and the
verifier checks those bytes *before* decoding them, so a body never needs re-serialising to be verified.
What the encoding must still give is one byte string per command: the golden files are byte-stable,
the audit log can hash a body, and no two readers can see different commands in the same signed bytes.
Canonical form here is: maps with keys sorted (at every level), the shortest integer encodings, floats
always 64-bit, text as msgpack ``str``. The decoder re-encodes what it read and refuses a body whose
bytes differ, which also refuses duplicate keys (a classic way to make two parsers disagree about a
signed document), 32-bit floats and padded integers. msgpack keeps ``1``, ``1.0`` and ``true`` apart
and carries floats bit-exactly, where canonical JSON leaves number formatting to each library (``1e-07``
or ``1E-7``, ``1.0`` or ``1``) and has no ``-0.0``; it is already the telemetry encoding, so both
services have it. The keys are the field names in full: a command is a few hundred bytes, rarely sent,
and read by people in the audit log.

Bodies refuse unknown keys: a v1 gateway must never run a command while ignoring a field it does not
understand (a later ``override_interlock`` would be exactly that). Encoding validates the same way as
decoding, so the centre cannot sign a command a gateway would refuse to read.
"""

from __future__ import annotations

import enum
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from wire import PROTOCOL_VERSION
from wire.errors import PayloadError
from wire.points import Value

KEY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_NAME = 128  # gateway, device, action, argument and point names (as in telemetry)
MAX_TEXT = 512  # issuer, reason and text values
MAX_ARGS = 32
MAX_READ_BACK = 64
TS_MIN = 946_684_800_000  # 2000-01-01: anything earlier is a clock that was never set
TS_MAX = 4_102_444_800_000  # 2100-01-01
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what every msgpack reader holds as a signed integer


class ResultState(enum.StrEnum):
    """What became of a command. Every authentic command gets exactly one final state."""

    ACCEPTED = "accepted"  # passed every check, queued for the device; a final state follows
    DONE = "done"  # executed, and the read-back shows the requested state
    FAILED = "failed"  # the device was addressed and it did not work: device error, read-back mismatch
    REFUSED = "refused"  # not executed, nothing touched: a check or an interlock said no
    EXPIRED = "expired"  # not executed: its expiry passed before it could run

    @property
    def final(self) -> bool:
        return self is not ResultState.ACCEPTED


NEEDS_REASON = frozenset({ResultState.FAILED, ResultState.REFUSED, ResultState.EXPIRED})


@dataclass(frozen=True, slots=True)
class Command:
    """One signed instruction to one device of one gateway, valid from ``issued_at_ms`` to
    ``expires_at_ms`` (UTC milliseconds) and signed with the centre's key ``key_id``."""

    id: uuid.UUID
    gateway: str
    device: str
    action: str
    args: Mapping[str, Value]
    issued_at_ms: int
    expires_at_ms: int
    issuer: str  # who asked: a person or a system, for the audit
    key_id: str

    @property
    def ttl_ms(self) -> int:
        return self.expires_at_ms - self.issued_at_ms


@dataclass(frozen=True, slots=True)
class ReadBack:
    """A value read from the device after the command, with the time it was read (UTC ms)."""

    point: str
    value: Value
    ts_ms: int


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the gateway reports about a command, signed with the gateway's own key ``key_id``."""

    command_id: uuid.UUID
    gateway: str
    state: ResultState
    ts_ms: int  # when the gateway reached this state
    key_id: str
    reason: str | None = None  # what failed: the check, the interlock, the device error, the mismatch
    read_back: tuple[ReadBack, ...] = field(default=())


_COMMAND_KEYS = frozenset(
    {"v", "id", "gateway", "device", "action", "args", "issued_at_ms", "expires_at_ms", "issuer", "key_id"}
)
_RESULT_KEYS = frozenset({"v", "command_id", "gateway", "state", "ts_ms", "key_id", "reason", "read_back"})
_READ_BACK_KEYS = frozenset({"point", "value", "ts_ms"})
_STATES = {s.value: s for s in ResultState}


def encode_command(cmd: Command) -> bytes:
    """The canonical body of ``cmd``: the bytes the centre signs. Raises :class:`PayloadError`."""
    body = {
        "v": PROTOCOL_VERSION,
        "id": str(cmd.id),
        "gateway": cmd.gateway,
        "device": cmd.device,
        "action": cmd.action,
        "args": dict(cmd.args),
        "issued_at_ms": cmd.issued_at_ms,
        "expires_at_ms": cmd.expires_at_ms,
        "issuer": cmd.issuer,
        "key_id": cmd.key_id,
    }
    _command(body)
    return canonical(body)


def decode_command(body: bytes) -> Command:
    """Decode and validate a command body; any flaw raises :class:`PayloadError` naming the field."""
    return _command(_unpack(body))


def encode_result(result: CommandResult) -> bytes:
    """The canonical body of ``result``: the bytes the gateway signs. Raises :class:`PayloadError`."""
    body = {
        "v": PROTOCOL_VERSION,
        "command_id": str(result.command_id),
        "gateway": result.gateway,
        "state": result.state.value,
        "ts_ms": result.ts_ms,
        "key_id": result.key_id,
        "reason": result.reason,
        "read_back": [{"point": r.point, "value": r.value, "ts_ms": r.ts_ms} for r in result.read_back],
    }
    _result(body)
    return canonical(body)


def decode_result(body: bytes) -> CommandResult:
    """Decode and validate a result body; any flaw raises :class:`PayloadError` naming the field."""
    return _result(_unpack(body))


def canonical(obj: Any) -> bytes:
    """msgpack with every map's keys sorted; floats are always 64-bit (msgpack-python's default)."""
    try:
        return msgpack.packb(_sorted(obj), use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:  # mixed key types, lone surrogates, huge ints
        raise PayloadError("", f"cannot be encoded canonically: {exc}") from exc


def _sorted(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted(v) for v in obj]
    return obj


def _unpack(body: bytes) -> dict[str, Any]:
    try:
        obj = msgpack.unpackb(body, raw=False, strict_map_key=True)
    except Exception as exc:
        raise PayloadError("", f"not msgpack: {exc}") from exc
    if not isinstance(obj, dict):
        raise PayloadError("", f"body must be a map, got {type(obj).__name__}")
    version = obj.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:  # not `true`, which equals 1 in Python
        raise PayloadError("v", f"unsupported protocol version {version!r} (this side speaks 1)")
    if canonical(obj) != body:
        raise PayloadError(
            "", "body is not canonical (sorted keys, shortest integers, 64-bit floats, no duplicate keys)"
        )
    return obj


def _command(body: dict[str, Any]) -> Command:
    _keys(body, _COMMAND_KEYS, "")
    issued, expires = _ts(body["issued_at_ms"], "issued_at_ms"), _ts(body["expires_at_ms"], "expires_at_ms")
    if expires <= issued:
        raise PayloadError("expires_at_ms", "must be after issued_at_ms")
    return Command(
        id=_uuid(body["id"], "id"),
        gateway=_text(body["gateway"], "gateway", MAX_NAME),
        device=_text(body["device"], "device", MAX_NAME),
        action=_text(body["action"], "action", MAX_NAME),
        args=_args(body["args"]),
        issued_at_ms=issued,
        expires_at_ms=expires,
        issuer=_text(body["issuer"], "issuer", MAX_TEXT),
        key_id=_key_id(body["key_id"], "key_id"),
    )


def _result(body: dict[str, Any]) -> CommandResult:
    _keys(body, _RESULT_KEYS, "")
    state = _STATES.get(body["state"]) if isinstance(body["state"], str) else None
    if state is None:
        raise PayloadError("state", f"{body['state']!r} is not one of {sorted(_STATES)}")
    reason = body["reason"]
    if reason is None and state in NEEDS_REASON:
        raise PayloadError("reason", f"a {state.value} result must say why")
    if reason is not None:
        reason = _text(reason, "reason", MAX_TEXT)
    rows = body["read_back"]
    if not isinstance(rows, list) or len(rows) > MAX_READ_BACK:
        raise PayloadError("read_back", f"must be a list of at most {MAX_READ_BACK} values")
    return CommandResult(
        command_id=_uuid(body["command_id"], "command_id"),
        gateway=_text(body["gateway"], "gateway", MAX_NAME),
        state=state,
        ts_ms=_ts(body["ts_ms"], "ts_ms"),
        key_id=_key_id(body["key_id"], "key_id"),
        reason=reason,
        read_back=tuple(_read_back(row, f"read_back[{i}]") for i, row in enumerate(rows)),
    )


def _read_back(row: object, where: str) -> ReadBack:
    if not isinstance(row, dict):
        raise PayloadError(where, "must be a map {point, value, ts_ms}")
    _keys(row, _READ_BACK_KEYS, where + ".")
    return ReadBack(
        _text(row["point"], where + ".point", MAX_NAME),
        _value(row["value"], where + ".value"),
        _ts(row["ts_ms"], where + ".ts_ms"),
    )


def _keys(body: dict[str, Any], expected: frozenset[str], prefix: str) -> None:
    if unknown := sorted(set(body) - expected):
        raise PayloadError(prefix + unknown[0], "unknown field (a v1 reader refuses what it cannot honour)")
    if missing := sorted(expected - set(body)):
        raise PayloadError(prefix + missing[0], "missing")


def _args(v: object) -> dict[str, Value]:
    if not isinstance(v, dict):
        raise PayloadError("args", "must be a map of argument name to value")
    if len(v) > MAX_ARGS:
        raise PayloadError("args", f"{len(v)} arguments, at most {MAX_ARGS}")
    return {_text(k, "args", MAX_NAME): _value(x, f"args.{k}") for k, x in v.items()}


def _value(v: object, where: str) -> Value:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        if not INT_MIN <= v <= INT_MAX:
            raise PayloadError(where, f"integer {v} is outside the signed 64-bit range")
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise PayloadError(where, f"{v} is not a finite number")
        return v
    if isinstance(v, str):
        return _text(v, where, MAX_TEXT, empty=True)
    raise PayloadError(where, f"value of type {type(v).__name__} is not a number, text, boolean or nil")


def _text(v: object, where: str, max_len: int, *, empty: bool = False) -> str:
    if not isinstance(v, str) or (not v and not empty) or len(v) > max_len:
        raise PayloadError(
            where, f"must be {'' if empty else 'non-empty '}text of at most {max_len} characters"
        )
    return v


def _key_id(v: object, where: str) -> str:
    if not isinstance(v, str) or not KEY_ID_RE.match(v):
        raise PayloadError(where, "key id must be 1-64 letters, digits, '_', '.', ':' or '-'")
    return v


def _ts(v: object, where: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not TS_MIN <= v < TS_MAX:
        raise PayloadError(where, f"{v!r} is not milliseconds UTC in 2000..2100")
    return v


def _uuid(v: object, where: str) -> uuid.UUID:
    try:
        u = uuid.UUID(v) if isinstance(v, str) else None
    except ValueError:
        u = None
    if u is None or str(u) != v:
        raise PayloadError(where, f"{v!r} is not a UUID in canonical form (lowercase, hyphenated)")
    return u
