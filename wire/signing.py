"""Ed25519 signatures over command and result bodies, the envelope that carries them, and key rings.

The envelope is a msgpack map with sorted keys::

    {"body": <bin: the canonical body, wire.commands>, "key_id": "centre-2026a", "sig": <bin: 64 bytes>}

The signature covers the exact bytes of ``body``; the key id names the signer's key and is repeated
inside the body, so the signed bytes say which key signed them. The centre signs commands with its
key; each gateway signs its results with its own key, registered at the centre. A :class:`KeyRing`
holds one signer's public keys: at a gateway, the centre's (two valid at once while a key is rotated,
old ones on the revocation list); at the centre, one ring per gateway, picked by the topic's gateway.

Computation only: generating, formatting and checking keys returns bytes and text; where they are
stored is the CLI's and the config's business.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from wire.commands import (
    KEY_ID_RE,
    Command,
    CommandResult,
    canonical,
    decode_command,
    decode_result,
    encode_command,
    encode_result,
)
from wire.errors import BadSignature, PayloadError, RevokedKey, UnknownKey
from wire.lighting import LightingPush, decode_push, encode_push

PUBLIC_KEY_PREFIX = "ed25519:"
PRIVATE_KEY_PREFIX = "ed25519-private:"
KEY_BYTES = 32
SIG_BYTES = 64
MAX_ENVELOPE = 64 * 1024
MAX_VALID_KEYS = 2  # the key in use and its successor, during a rotation
_ENVELOPE_KEYS = frozenset({"body", "key_id", "sig"})


@dataclass(frozen=True, slots=True)
class Envelope:
    body: bytes
    key_id: str
    sig: bytes


def encode_envelope(env: Envelope) -> bytes:
    return canonical({"body": env.body, "key_id": env.key_id, "sig": env.sig})


def decode_envelope(payload: bytes, *, max_bytes: int = MAX_ENVELOPE) -> Envelope:
    """The envelope's parts, checked for shape only: nothing in it is trusted yet."""
    if len(payload) > max_bytes:
        raise PayloadError("", f"envelope of {len(payload)} bytes exceeds the limit of {max_bytes}")
    try:
        obj: Any = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:
        raise PayloadError("", f"not msgpack: {exc}") from exc
    if not isinstance(obj, dict):
        raise PayloadError("", f"envelope must be a map, got {type(obj).__name__}")
    if unknown := sorted(set(obj) - _ENVELOPE_KEYS, key=str):
        raise PayloadError(str(unknown[0]), "unknown envelope field")
    if missing := sorted(_ENVELOPE_KEYS - set(obj)):
        raise PayloadError(missing[0], "missing")
    body, key_id, sig = obj["body"], obj["key_id"], obj["sig"]
    if not isinstance(body, bytes) or not body:
        raise PayloadError("body", "must be non-empty binary")
    if not isinstance(key_id, str) or not KEY_ID_RE.match(key_id):
        raise PayloadError("key_id", "key id must be 1-64 letters, digits, '_', '.', ':' or '-'")
    if not isinstance(sig, bytes) or len(sig) != SIG_BYTES:
        raise PayloadError("sig", f"must be {SIG_BYTES} bytes of binary (an Ed25519 signature)")
    return Envelope(body, key_id, sig)


@dataclass(frozen=True, slots=True)
class KeyPair:
    private: bytes = field(repr=False)  # 32 raw bytes (RFC 8032 seed): keep it secret
    public: bytes  # 32 raw bytes


def generate_key_pair() -> KeyPair:
    key = Ed25519PrivateKey.generate()
    return KeyPair(key.private_bytes_raw(), key.public_key().public_bytes_raw())


def new_key_texts(key_id: str) -> tuple[str, str]:
    """A new key pair for ``key_id`` as text: the private key for its owner's key file, and the line
    ``<key_id>: ed25519:<public>`` for the other side's config."""
    if not KEY_ID_RE.match(key_id):
        raise ValueError(f"key id {key_id!r} must be 1-64 letters, digits, '_', '.', ':' or '-'")
    pair = generate_key_pair()
    return format_private_key(pair.private), f"{key_id}: {format_public_key(pair.public)}"


def format_public_key(raw: bytes) -> str:
    """The text form of a public key in configs: ``ed25519:`` and the 32 bytes in standard base64."""
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {KEY_BYTES} bytes, got {len(raw)}")
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def parse_public_key(text: str) -> bytes:
    if not text.startswith(PUBLIC_KEY_PREFIX):
        raise ValueError(f"a public key must start with {PUBLIC_KEY_PREFIX!r}")
    try:
        raw = base64.b64decode(text[len(PUBLIC_KEY_PREFIX) :], validate=True)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise ValueError(f"a public key must be base64 after {PUBLIC_KEY_PREFIX!r}: {exc}") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {KEY_BYTES} bytes, got {len(raw)}")
    if format_public_key(raw) != text:  # one text per key: no stray padding bits
        raise ValueError("a public key must be in canonical base64")
    return raw


def format_private_key(raw: bytes) -> str:
    """The text form of a private key in a key file: ``ed25519-private:`` and the 32-byte seed in base64."""
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 private key is {KEY_BYTES} bytes, got {len(raw)}")
    return PRIVATE_KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def parse_private_key(text: str) -> bytes:
    text = text.strip()
    if not text.startswith(PRIVATE_KEY_PREFIX):
        raise ValueError(f"a private key must start with {PRIVATE_KEY_PREFIX!r}")
    try:
        raw = base64.b64decode(text[len(PRIVATE_KEY_PREFIX) :], validate=True)
    except ValueError as exc:
        raise ValueError(f"a private key must be base64 after {PRIVATE_KEY_PREFIX!r}: {exc}") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 private key is {KEY_BYTES} bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs bodies with one private key; ``key_id`` is the name its public key is registered under."""

    key_id: str
    private: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID_RE.match(self.key_id):
            raise ValueError(f"key id {self.key_id!r} must be 1-64 letters, digits, '_', '.', ':' or '-'")
        if len(self.private) != KEY_BYTES:
            raise ValueError(f"an Ed25519 private key is {KEY_BYTES} bytes, got {len(self.private)}")

    @property
    def public(self) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.private).public_key().public_bytes_raw()

    def sign(self, body: bytes) -> Envelope:
        return Envelope(body, self.key_id, Ed25519PrivateKey.from_private_bytes(self.private).sign(body))

    def seal_command(self, cmd: Command) -> bytes:
        self._owns(cmd.key_id)
        return encode_envelope(self.sign(encode_command(cmd)))

    def seal_result(self, result: CommandResult) -> bytes:
        self._owns(result.key_id)
        return encode_envelope(self.sign(encode_result(result)))

    def seal_push(self, push: LightingPush) -> bytes:
        self._owns(push.key_id)
        return encode_envelope(self.sign(encode_push(push)))

    def _owns(self, key_id: str) -> None:
        if key_id != self.key_id:
            raise ValueError(f"the body names key {key_id!r} but this signer holds {self.key_id!r}")


class KeyRing:
    """One signer's public keys by key id, at most ``max_valid`` of them not revoked."""

    def __init__(
        self, keys: Mapping[str, bytes], revoked: Iterable[str] = (), *, max_valid: int = MAX_VALID_KEYS
    ) -> None:
        self.revoked = frozenset(revoked)
        valid = sorted(set(keys) - self.revoked)
        if len(valid) > max_valid:
            raise ValueError(
                f"{len(valid)} valid keys {valid}, at most {max_valid} at once: revoke the old ones"
            )
        self._keys: dict[str, Ed25519PublicKey] = {}
        for key_id, raw in keys.items():
            if not KEY_ID_RE.match(key_id):
                raise ValueError(f"key id {key_id!r} must be 1-64 letters, digits, '_', '.', ':' or '-'")
            if len(raw) != KEY_BYTES:
                raise ValueError(
                    f"key {key_id!r}: an Ed25519 public key is {KEY_BYTES} bytes, got {len(raw)}"
                )
            self._keys[key_id] = Ed25519PublicKey.from_public_bytes(raw)

    @classmethod
    def parse(cls, keys: Mapping[str, str], revoked: Iterable[str] = (), **kw: int) -> KeyRing:
        """A ring from config text: key id -> ``ed25519:<base64>``."""
        return cls({k: parse_public_key(v) for k, v in keys.items()}, revoked, **kw)

    @property
    def valid(self) -> frozenset[str]:
        return frozenset(self._keys) - self.revoked

    def open(self, payload: bytes) -> Envelope:
        """The envelope, once its key is known and not revoked and its signature verifies over the
        exact body bytes; raises :class:`PayloadError` or a :class:`SignatureError`."""
        env = decode_envelope(payload)
        if env.key_id in self.revoked:
            raise RevokedKey(env.key_id, "revoked")
        key = self._keys.get(env.key_id)
        if key is None:
            raise UnknownKey(env.key_id, f"not one of {sorted(self.valid)}")
        try:
            key.verify(env.sig, env.body)
        except InvalidSignature:
            raise BadSignature(env.key_id, "the signature does not match the body") from None
        return env

    def verify(self, payload: bytes) -> Command:
        """An authentic, well-formed command (not yet checked for gateway or time: ``wire.gate``)."""
        env = self.open(payload)
        cmd = decode_command(env.body)
        _same_key(env, cmd.key_id)
        return cmd

    def verify_result(self, payload: bytes) -> CommandResult:
        env = self.open(payload)
        result = decode_result(env.body)
        _same_key(env, result.key_id)
        return result

    def verify_push(self, payload: bytes) -> LightingPush:
        """An authentic, well-formed lighting push (not yet checked for gateway, version or set)."""
        env = self.open(payload)
        push = decode_push(env.body)
        _same_key(env, push.key_id)
        return push


def _same_key(env: Envelope, signed_key_id: str) -> None:
    if signed_key_id != env.key_id:
        raise BadSignature(env.key_id, f"the signed body names key {signed_key_id!r}")
