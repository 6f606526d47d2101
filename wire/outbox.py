"""Outbox frames: how a gateway's results and events travel, keyed like telemetry batches.

A result (``.../cmd/result``: a signed envelope, :mod:`wire.signing`) or an event (``.../event``:
:mod:`wire.events`) leaves the gateway's outbox inside a frame that carries its key::

    {"v": 1, "gw": "cab-0042", "ep": "4d2e9a0c7b1f3e58", "sq": 3, "b": <the result envelope or event bytes>}

``(gw, ep, sq)`` is the outbox key: ``ep`` is drawn when the outbox file is created (it is not the
buffer's epoch), ``sq`` counts its messages and is never used twice within an epoch, even across
restarts. The collector stores a key once and confirms it on ``.../outbox/confirm`` with the
confirmation of :mod:`wire.confirm` (``ep`` the outbox epoch, ``ok``/``rej``/``cf`` the outbox seqs).

Why a frame and not the key inside the body: a result's body is signed, canonical and defined by
:mod:`wire.commands`; a transport key in it would change what is signed and make a re-send look like
another result. The frame leaves the signed bytes untouched, and keys results and events the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgpack

from wire import PROTOCOL_VERSION
from wire.errors import PayloadError
from wire.telemetry import EPOCH_RE, MAX_NAME
from wire.topics import TopicKind

OUTBOX_KINDS = frozenset({TopicKind.COMMAND_RESULT, TopicKind.EVENT})  # the topics a frame travels on
MAX_FRAME_BYTES = 80 * 1024  # a result envelope is at most 64 kB (wire.signing.MAX_ENVELOPE)
_KEYS = frozenset({"v", "gw", "ep", "sq", "b"})


@dataclass(frozen=True, slots=True)
class OutboxKey:
    gateway: str
    epoch: str
    seq: int


@dataclass(frozen=True, slots=True)
class OutboxFrame:
    key: OutboxKey
    body: bytes  # a signed result envelope or an encoded event, untouched


def encode_frame(frame: OutboxFrame) -> bytes:
    k = frame.key
    body = {"v": PROTOCOL_VERSION, "gw": k.gateway, "ep": k.epoch, "sq": k.seq, "b": frame.body}
    payload: bytes = msgpack.packb(body, use_bin_type=True)
    decode_frame(payload)  # refuse to send what the collector would quarantine
    return payload


def body_digest(body: bytes) -> bytes:
    """16 bytes of BLAKE2b over a frame's body: the store tells a re-send from a re-used key by it."""
    return hashlib.blake2b(body, digest_size=16).digest()


def peek_outbox_key(payload: bytes) -> OutboxKey | None:
    """The key of a frame that may be otherwise broken, or None when even that is unreadable."""
    try:
        body = msgpack.unpackb(payload, raw=False, strict_map_key=True)
        gw, ep, sq = body["gw"], body["ep"], body["sq"]
    except Exception:
        return None
    ok_seq = isinstance(sq, int) and not isinstance(sq, bool) and sq > 0
    if isinstance(gw, str) and isinstance(ep, str) and EPOCH_RE.match(ep) and ok_seq:
        return OutboxKey(gw, ep, sq)
    return None


def decode_frame(payload: bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> OutboxFrame:
    """Decode a frame, checking its key and that it has a body; a flaw raises :class:`PayloadError`."""
    if len(payload) > max_bytes:
        raise PayloadError("", f"payload of {len(payload)} bytes exceeds the limit of {max_bytes}")
    try:
        body: Any = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:
        raise PayloadError("", f"not msgpack: {exc}") from exc
    if not isinstance(body, dict):
        raise PayloadError("", f"top level must be a map, got {type(body).__name__}")
    if body.get("v") != PROTOCOL_VERSION:
        raise PayloadError("v", f"unsupported protocol version {body.get('v')!r} (this side speaks 1)")
    if unknown := sorted(set(body) - _KEYS, key=str):
        raise PayloadError(str(unknown[0]), "unknown frame field")
    gw = body.get("gw")
    if not isinstance(gw, str) or not 0 < len(gw) <= MAX_NAME:
        raise PayloadError("gw", f"must be a non-empty string of at most {MAX_NAME} characters")
    ep = body.get("ep")
    if not isinstance(ep, str) or not EPOCH_RE.match(ep):
        raise PayloadError("ep", "epoch must be 16 lowercase hex digits")
    sq = body.get("sq")
    if not isinstance(sq, int) or isinstance(sq, bool) or sq < 1:
        raise PayloadError("sq", "sequence must be a positive integer")
    inner = body.get("b")
    if not isinstance(inner, bytes) or not inner:
        raise PayloadError("b", "body must be non-empty binary")
    return OutboxFrame(OutboxKey(gw, ep, sq), inner)
