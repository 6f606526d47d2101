"""Command and result bodies, their signed envelope, and key rings (wire.commands, wire.signing)."""

from __future__ import annotations

import dataclasses
import math
import uuid
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.contract.make_golden import CENTRE, COMMAND, GATEWAY, RESULT, T
from wire.commands import (
    MAX_ARGS,
    CommandResult,
    ResultState,
    canonical,
    decode_command,
    decode_result,
    encode_command,
    encode_result,
)
from wire.errors import BadSignature, PayloadError, RevokedKey, UnknownKey
from wire.points import Value
from wire.signing import (
    Envelope,
    KeyRing,
    Signer,
    decode_envelope,
    encode_envelope,
    format_public_key,
    generate_key_pair,
    parse_public_key,
)

RING = KeyRing({CENTRE.key_id: CENTRE.public})
OTHER = Signer("centre-2026b", generate_key_pair().private)


def same(a: Value, b: Value) -> bool:
    """Equal and of the same type: ``True == 1 == 1.0`` in Python, not on the wire."""
    return type(a) is type(b) and a == b


def command_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = msgpack.unpackb(encode_command(COMMAND))
    body.update(changes)
    return body


def result_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = msgpack.unpackb(encode_result(RESULT))
    body.update(changes)
    return body


def test_command_round_trip() -> None:
    cmd = RING.verify(CENTRE.seal_command(COMMAND))
    assert cmd == COMMAND
    assert all(same(cmd.args[k], v) for k, v in COMMAND.args.items())


def test_result_round_trip() -> None:
    ring = KeyRing({GATEWAY.key_id: GATEWAY.public})
    assert ring.verify_result(GATEWAY.seal_result(RESULT)) == RESULT
    done = CommandResult(COMMAND.id, "cab-0042", ResultState.DONE, T, GATEWAY.key_id)
    assert ring.verify_result(GATEWAY.seal_result(done)) == done


@pytest.mark.parametrize("where", ["body", "sig"])
def test_a_tampered_envelope_is_refused(where: str) -> None:
    env = decode_envelope(CENTRE.seal_command(COMMAND))
    if where == "body":  # a valid, canonical body for another device, under the original signature
        tampered = dataclasses.replace(env, body=canonical(command_body(device="bollard-2")))
        assert decode_command(tampered.body).device == "bollard-2"
    else:
        tampered = dataclasses.replace(env, sig=bytes([env.sig[0] ^ 1]) + env.sig[1:])
    with pytest.raises(BadSignature, match="does not match"):
        RING.verify(encode_envelope(tampered))


def test_a_signature_by_another_known_key_is_refused() -> None:
    ring = KeyRing({CENTRE.key_id: CENTRE.public, OTHER.key_id: OTHER.public})
    forged = Envelope(encode_command(COMMAND), CENTRE.key_id, OTHER.sign(encode_command(COMMAND)).sig)
    with pytest.raises(BadSignature):
        ring.verify(encode_envelope(forged))


def test_the_body_must_name_the_key_that_signed_it() -> None:
    ring = KeyRing({CENTRE.key_id: CENTRE.public, OTHER.key_id: OTHER.public})
    env = OTHER.sign(encode_command(COMMAND))  # signed by the other key, body still names CENTRE's
    with pytest.raises(BadSignature, match="names key 'centre-2026a'"):
        ring.verify(encode_envelope(env))
    with pytest.raises(ValueError, match="this signer holds"):
        OTHER.seal_command(COMMAND)


def test_unknown_key() -> None:
    with pytest.raises(UnknownKey) as err:
        KeyRing({OTHER.key_id: OTHER.public}).verify(CENTRE.seal_command(COMMAND))
    assert err.value.key_id == CENTRE.key_id


def test_revoked_key_is_refused_even_while_still_in_the_ring() -> None:
    ring = KeyRing({CENTRE.key_id: CENTRE.public, OTHER.key_id: OTHER.public}, revoked={CENTRE.key_id})
    with pytest.raises(RevokedKey):
        ring.verify(CENTRE.seal_command(COMMAND))
    assert ring.valid == {OTHER.key_id}


def test_at_most_two_valid_keys_at_once() -> None:
    third = Signer("centre-2026c", generate_key_pair().private)
    keys = {s.key_id: s.public for s in (CENTRE, OTHER, third)}
    with pytest.raises(ValueError, match="at most 2 at once"):
        KeyRing(keys)
    assert KeyRing(keys, revoked={CENTRE.key_id}).valid == {OTHER.key_id, third.key_id}


def test_public_key_text_round_trip() -> None:
    pair = generate_key_pair()
    text = format_public_key(pair.public)
    assert text.startswith("ed25519:")
    assert parse_public_key(text) == pair.public
    ring = KeyRing.parse({CENTRE.key_id: format_public_key(CENTRE.public)})
    assert ring.verify(CENTRE.seal_command(COMMAND)) == COMMAND


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rsa:" + format_public_key(bytes(32))[8:], "must start with"),
        ("ed25519:not base64!", "must be base64"),
        (format_public_key(bytes(32))[:-4], "32 bytes"),
        (format_public_key(bytes(32))[:-2] + "B=", "canonical base64"),  # padding bits set
    ],
)
def test_public_key_text_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_public_key(text)


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"v": 2}, "v"),
        ({"v": True}, "v"),
        ({"id": str(COMMAND.id).upper()}, "id"),
        ({"id": "42"}, "id"),
        ({"gateway": ""}, "gateway"),
        ({"device": 7}, "device"),
        ({"action": "x" * 129}, "action"),
        ({"args": [1, 2]}, "args"),
        ({"args": {"level": [1]}}, "args.level"),
        ({"args": {"level": math.nan}}, "args.level"),
        ({"args": {"level": math.inf}}, "args.level"),
        ({"args": {"level": 2**63}}, "args.level"),
        ({"args": {"level": b"raw"}}, "args.level"),
        ({"args": {f"a{i:02}": i for i in range(MAX_ARGS + 1)}}, "args"),
        ({"issued_at_ms": True}, "issued_at_ms"),
        ({"issued_at_ms": 1_767_225_600}, "issued_at_ms"),  # seconds, not milliseconds
        ({"expires_at_ms": COMMAND.issued_at_ms}, "expires_at_ms"),
        ({"issuer": ""}, "issuer"),
        ({"key_id": "centre 2026"}, "key_id"),
        ({"override_interlock": True}, "override_interlock"),
    ],
)
def test_command_field_errors_name_the_field(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(PayloadError) as err:
        decode_command(canonical(command_body(**changes)))
    assert err.value.where == where, err.value


def test_a_missing_command_field_is_named() -> None:
    body = command_body()
    del body["expires_at_ms"]
    with pytest.raises(PayloadError) as err:
        decode_command(canonical(body))
    assert (err.value.where, err.value.reason) == ("expires_at_ms", "missing")


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"state": "ok"}, "state"),
        ({"reason": None}, "reason"),  # a failed result must say why
        ({"command_id": "0f8e7a3c"}, "command_id"),
        ({"ts_ms": -1}, "ts_ms"),
        ({"read_back": {"state": "down"}}, "read_back"),
        (
            {"read_back": [{"point": "state", "value": "down", "ts_ms": T}, {"point": "x"}]},
            "read_back[1].ts_ms",
        ),
        (
            {"read_back": [{"point": "state", "value": "down", "ts_ms": T, "quality": 0}]},
            "read_back[0].quality",
        ),
        ({"read_back": [{"point": "state", "value": [], "ts_ms": T}]}, "read_back[0].value"),
        ({"read_back": ["state"]}, "read_back[0]"),
        ({"result": "done"}, "result"),
    ],
)
def test_result_field_errors_name_the_field(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(PayloadError) as err:
        decode_result(canonical(result_body(**changes)))
    assert err.value.where == where, err.value


@pytest.mark.parametrize(
    "body",
    [
        msgpack.packb(dict(reversed(command_body().items()))),  # keys not sorted
        msgpack.packb(command_body(args={"level": 80.5}), use_single_float=True),  # a 32-bit float
        # a duplicate key: the last "device" wins in this reader, maybe the first in another
        b"\x8b" + canonical(command_body())[1:] + msgpack.packb("device") + msgpack.packb("bollard-2"),
    ],
    ids=["unsorted", "float32", "duplicate-key"],
)
def test_only_the_canonical_form_is_read(body: bytes) -> None:
    with pytest.raises(PayloadError, match="not canonical"):
        decode_command(body)


def test_the_centre_cannot_encode_what_a_gateway_would_refuse() -> None:
    with pytest.raises(PayloadError) as err:
        encode_command(dataclasses.replace(COMMAND, args={"level": math.nan}))
    assert err.value.where == "args.level"
    with pytest.raises(PayloadError) as err:
        encode_result(dataclasses.replace(RESULT, reason=None))
    assert err.value.where == "reason"


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (b"\xc1", ""),
        (msgpack.packb([1, 2]), ""),
        (msgpack.packb({"body": b"x", "key_id": "k"}), "sig"),
        (msgpack.packb({"body": b"x", "key_id": "k", "sig": b"\0" * 63}), "sig"),
        (msgpack.packb({"body": "x", "key_id": "k", "sig": b"\0" * 64}), "body"),
        (msgpack.packb({"body": b"x", "key_id": "", "sig": b"\0" * 64}), "key_id"),
        (msgpack.packb({"body": b"x", "key_id": "k", "sig": b"\0" * 64, "alg": "none"}), "alg"),
        (msgpack.packb({"body": b"x" * 70_000, "key_id": "k", "sig": b"\0" * 64}), ""),
    ],
)
def test_envelope_errors_name_the_field(payload: bytes, where: str) -> None:
    with pytest.raises(PayloadError) as err:
        RING.verify(payload)
    assert err.value.where == where, err.value


NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8"), max_size=40),
)


@given(st.dictionaries(NAMES, VALUES, max_size=MAX_ARGS))
def test_arguments_round_trip(args: dict[str, Value]) -> None:
    cmd = dataclasses.replace(COMMAND, id=uuid.uuid4(), args=args)
    payload = CENTRE.seal_command(cmd)
    got = RING.verify(payload)
    assert got == cmd
    assert list(got.args) == sorted(args)  # canonical order
    assert all(same(got.args[k], v) for k, v in args.items())
    assert CENTRE.seal_command(got) == payload  # one command, one byte string
