"""Lighting program sets, centre -> gateway, on ``.../lighting`` (QoS 1, **retained**: a gateway that was
offline gets the latest set when it connects). The body is signed like a command (:mod:`wire.signing`'s
envelope, the centre's key) and canonical msgpack like one (:func:`wire.commands.canonical`)::

    {"v": 1, "gateway": "cab-0042", "version": 7, "rollback": false, "issued_at_ms": 1767225600000,
     "issuer": "alice", "key_id": "centre-2026", "set": {...the program set...}}

``set`` is the program set as a map (``lighting.model.ProgramSet``: calendars, programs, groups,
assignments, default level); the contract carries it, the gateway validates it whole. Its ``version``
must equal the body's.

A gateway installs a set when it is authentic, names the gateway, validates, and is **newer** than the
one it runs: ``version`` greater, or ``rollback: true`` (the centre signed the return to that version);
in both cases ``issued_at_ms`` must be later than the installed set's, so no message can be replayed,
a rollback included. Otherwise it keeps the set it runs and reports a refusal with its reasons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from wire import PROTOCOL_VERSION
from wire.commands import MAX_NAME, MAX_TEXT, _key_id, _keys, _text, _ts, _unpack, canonical
from wire.errors import PayloadError

MAX_SET_BYTES = 256 * 1024  # a city's calendars and programs fit many times over
MAX_DEPTH = 8
_KEYS = frozenset({"v", "gateway", "version", "rollback", "issued_at_ms", "issuer", "key_id", "set"})


@dataclass(frozen=True, slots=True)
class LightingPush:
    gateway: str
    version: int
    rollback: bool
    issued_at_ms: int
    issuer: str
    key_id: str
    set: dict[str, Any]  # the program set, as a map


def encode_push(push: LightingPush) -> bytes:
    """The canonical body: the bytes the centre signs. Raises :class:`PayloadError`."""
    body = {
        "v": PROTOCOL_VERSION,
        "gateway": push.gateway,
        "version": push.version,
        "rollback": push.rollback,
        "issued_at_ms": push.issued_at_ms,
        "issuer": push.issuer,
        "key_id": push.key_id,
        "set": push.set,
    }
    _push(body)
    return canonical(body)


def decode_push(body: bytes) -> LightingPush:
    """Decode and check a push body; any flaw raises :class:`PayloadError` naming the field."""
    if len(body) > MAX_SET_BYTES:
        raise PayloadError("set", f"body of {len(body)} bytes exceeds the limit of {MAX_SET_BYTES}")
    return _push(_unpack(body))


def _push(body: dict[str, Any]) -> LightingPush:
    _keys(body, _KEYS, "")
    version = body["version"]
    if type(version) is not int or not 1 <= version < 2**53:
        raise PayloadError("version", f"{version!r} is not a positive integer")
    if type(body["rollback"]) is not bool:
        raise PayloadError("rollback", "must be true or false")
    doc = body["set"]
    if not isinstance(doc, dict):
        raise PayloadError("set", "must be a map (the program set)")
    _document(doc, "set", 0)
    if doc.get("version") != version:
        raise PayloadError("set.version", f"{doc.get('version')!r} differs from the body's version {version}")
    return LightingPush(
        gateway=_text(body["gateway"], "gateway", MAX_NAME),
        version=version,
        rollback=body["rollback"],
        issued_at_ms=_ts(body["issued_at_ms"], "issued_at_ms"),
        issuer=_text(body["issuer"], "issuer", MAX_TEXT),
        key_id=_key_id(body["key_id"], "key_id"),
        set=doc,
    )


def _document(v: object, where: str, depth: int) -> None:
    """Maps with text keys, lists and scalars, nested at most ``MAX_DEPTH`` deep."""
    if depth > MAX_DEPTH:
        raise PayloadError(where, f"nested deeper than {MAX_DEPTH}")
    if isinstance(v, dict):
        for k, x in v.items():
            _text(k, where, MAX_NAME)
            _document(x, f"{where}.{k}", depth + 1)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _document(x, f"{where}.{i}", depth + 1)
    elif isinstance(v, float) and not math.isfinite(v):
        raise PayloadError(where, f"{v} is not a finite number")
    elif not (v is None or isinstance(v, bool | int | float | str)):
        raise PayloadError(where, f"value of type {type(v).__name__} is not allowed")
