"""Confirmations: the payload of ``.../confirm`` (collector -> gateway, msgpack).

``{"v": 1, "ep": "<epoch>", "ok": [seq, ...], "rej": [seq, ...](, "cf": [seq, ...])}``: ``ok`` batches
are in the store (now or from an earlier delivery); ``rej`` batches were quarantined by the collector and
will never be stored, so the gateway dead-letters and counts them instead of re-sending them forever.

``cf`` (added in version 1 without a new ``v``: optional, and absent when empty) names the ``rej``
batches whose key the store already holds with *other* content: a re-used batch key. Every ``cf`` seq
is also in ``rej``, so a gateway that does not know ``cf`` still stops re-sending them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgpack

from wire import PROTOCOL_VERSION
from wire.errors import PayloadError
from wire.telemetry import EPOCH_RE


@dataclass(frozen=True, slots=True)
class Confirmation:
    epoch: str
    stored: tuple[int, ...] = ()
    rejected: tuple[int, ...] = field(default=())
    conflicts: tuple[int, ...] = ()  # a subset of ``rejected``: the key was re-used with other content

    def __post_init__(self) -> None:
        if not set(self.conflicts) <= set(self.rejected):
            raise ValueError("every conflicting batch is a rejected one too (v1 gateways read only 'rej')")


def encode_confirmation(c: Confirmation) -> bytes:
    body: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "ep": c.epoch,
        "ok": list(c.stored),
        "rej": list(c.rejected),
    }
    if c.conflicts:
        body["cf"] = list(c.conflicts)
    return msgpack.packb(body, use_bin_type=True)


def decode_confirmation(payload: bytes) -> Confirmation:
    try:
        body = msgpack.unpackb(payload, raw=False)
    except Exception as exc:
        raise PayloadError("", f"not msgpack: {exc}") from exc
    if not isinstance(body, dict) or body.get("v") != PROTOCOL_VERSION:
        raise PayloadError("v", "not a version-1 confirmation")
    epoch = body.get("ep")
    if not isinstance(epoch, str) or not EPOCH_RE.match(epoch):
        raise PayloadError("ep", "epoch must be 16 lowercase hex digits")
    rejected = _seqs(body.get("rej", []), "rej")
    conflicts = _seqs(body.get("cf", []), "cf")
    if not set(conflicts) <= set(rejected):
        raise PayloadError("cf", "a conflicting batch must also be listed in 'rej'")
    return Confirmation(epoch, _seqs(body.get("ok", []), "ok"), rejected, conflicts)


def _seqs(v: object, where: str) -> tuple[int, ...]:
    if not isinstance(v, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in v):
        raise PayloadError(where, "must be a list of integers")
    return tuple(v)
