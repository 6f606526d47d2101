"""The gate a gateway puts an authentic command through before any interlock or device I/O (wire.gate)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.contract.make_golden import COMMAND, GATEWAY, T
from wire.commands import ResultState, decode_result, encode_result
from wire.errors import Expired, IssuedInFuture, Refusal, TtlTooLong, WrongGateway
from wire.gate import check_command, refusal_result
from wire.signing import KeyRing

SKEW = 2_000
TTL = COMMAND.ttl_ms  # 30 s


def check(*, gateway: str = "cab-0042", now_ms: int = T + 1_000, max_ttl_ms: int = TTL) -> None:
    check_command(COMMAND, gateway=gateway, now_ms=now_ms, skew_ms=SKEW, max_ttl_ms=max_ttl_ms)


def test_an_authentic_command_in_time_passes() -> None:
    check()
    check(now_ms=COMMAND.issued_at_ms - SKEW)  # the gateway's clock is behind by the full allowance
    check(now_ms=COMMAND.expires_at_ms + SKEW - 1)  # ... or ahead by just under it


def test_a_command_for_gateway_a_is_refused_by_b() -> None:
    with pytest.raises(WrongGateway, match="addressed to gateway 'cab-0042', this is 'cab-0043'"):
        check(gateway="cab-0043")


def test_expired() -> None:
    with pytest.raises(Expired, match="expired 2000 ms ago"):
        check(now_ms=COMMAND.expires_at_ms + SKEW)


def test_issued_in_the_future_beyond_the_skew() -> None:
    with pytest.raises(IssuedInFuture, match="issued 2001 ms in the future"):
        check(now_ms=COMMAND.issued_at_ms - SKEW - 1)


def test_ttl_beyond_the_actions_maximum() -> None:
    with pytest.raises(TtlTooLong, match="'raise' allows at most 29999 ms"):
        check(max_ttl_ms=TTL - 1)


def test_the_gateway_is_checked_first() -> None:
    late_and_elsewhere = dataclasses.replace(COMMAND, gateway="cab-0043")
    with pytest.raises(WrongGateway):
        check_command(late_and_elsewhere, gateway="cab-0042", now_ms=T + 10**9, skew_ms=0, max_ttl_ms=1)


@pytest.mark.parametrize(("skew", "ttl"), [(-1, TTL), (SKEW, 0)])
def test_nonsense_limits_are_a_programming_error(skew: int, ttl: int) -> None:
    with pytest.raises(ValueError, match="skew_ms must be"):
        check_command(COMMAND, gateway="cab-0042", now_ms=T, skew_ms=skew, max_ttl_ms=ttl)


@pytest.mark.parametrize(
    ("refusal", "state"),
    [
        (Expired("expired 5 ms ago"), ResultState.EXPIRED),
        (WrongGateway("addressed to gateway 'cab-0043'"), ResultState.REFUSED),
        (TtlTooLong("too long"), ResultState.REFUSED),
        (IssuedInFuture("early"), ResultState.REFUSED),
    ],
)
def test_a_refusal_becomes_a_signed_result(refusal: Refusal, state: ResultState) -> None:
    result = refusal_result(COMMAND, refusal, gateway="cab-0042", ts_ms=T + 5, key_id=GATEWAY.key_id)
    assert (result.command_id, result.state, result.reason) == (COMMAND.id, state, str(refusal))
    assert decode_result(encode_result(result)) == result
    ring = KeyRing({GATEWAY.key_id: GATEWAY.public})
    assert ring.verify_result(GATEWAY.seal_result(result)) == result
