"""The control room's Python API (collector/commands/api.py ``CommandCentre``) used directly: a signed
command through a real broker to a gateway that verifies it and answers with signed results, which a real
collector verifies and stores in the audit; the API waits for the final state, lists and shows it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collector.commands.api import BadCommand, CommandCentre, NotSent
from collector.config import CollectorConfig
from collector.sinks.base import Sink
from harness.broker import Broker, free_port
from tests.collector.test_command_audit import GW, Gateway, centre, with_gateway, write_config
from wire.commands import ResultState
from wire.signing import KeyRing

__all__ = ["centre"]  # the fixture, shared with test_command_audit


@pytest.fixture
def api(centre: tuple[Path, CollectorConfig, KeyRing, Sink]) -> tuple[CommandCentre, KeyRing]:
    config_path, _, ring, _ = centre
    return CommandCentre.load(config_path), ring


async def test_send_wait_list_and_show_through_a_real_broker_and_collector(
    api: tuple[CommandCentre, KeyRing], broker: Broker
) -> None:
    centre_api, ring = api
    gateway = Gateway(broker, ring)

    async def round_trip() -> tuple[object, ...]:
        cmd = await centre_api.send(GW, "lum-01", "set_level", {"level": 40}, issuer="operator:alice")
        audited = await centre_api.wait(cmd.id, timeout_s=20)
        return cmd, audited

    cmd, audited = await with_gateway(gateway, round_trip())
    assert audited is not None
    assert audited.final is not None
    assert audited.final.state is ResultState.DONE
    assert [s.state for s in audited.states] == [ResultState.ACCEPTED, ResultState.DONE]
    assert (audited.id, audited.issuer, audited.args) == (str(cmd.id), "operator:alice", {"level": 40})
    listed = await centre_api.listing(gateway=GW, since_ms=time.time_ns() // 1_000_000 - 60_000)
    assert [a.id for a in listed] == [str(cmd.id)]
    assert await centre_api.listing(gateway="cab-9") == []
    shown = await centre_api.show(cmd.id)
    assert shown is not None
    assert shown.final is not None
    assert [r.point for r in shown.final.read_back] == ["level"]


async def test_wait_returns_what_is_known_when_no_result_comes(
    api: tuple[CommandCentre, KeyRing], broker: Broker
) -> None:
    centre_api, ring = api
    gateway = Gateway(broker, ring)
    gateway.silent = True

    async def unanswered() -> object:
        cmd = await centre_api.send(GW, "lum-01", "off")
        return await centre_api.wait(cmd.id, timeout_s=0.5)

    audited = await with_gateway(gateway, unanswered())
    assert audited is not None
    assert audited.final is None
    assert audited.status(time.time_ns() // 1_000_000) == "sent"


async def test_bad_requests_are_refused_and_nothing_is_recorded(api: tuple[CommandCentre, KeyRing]) -> None:
    centre_api, _ = api
    with pytest.raises(BadCommand, match=r"unknown gateway 'cab-9' \(commands.gateways lists: cab-1\)"):
        await centre_api.send("cab-9", "lum-01", "off")
    with pytest.raises(BadCommand, match="expires_s must be positive"):
        await centre_api.send(GW, "lum-01", "off", expires_s=0)
    assert await centre_api.listing() == []
    assert await centre_api.wait("0f8e7a3c-5b2d-4e1f-9a6b-3c2d1e0f4a5b", timeout_s=0.1) is None


async def test_a_broker_that_cannot_be_reached_is_not_sent_and_audited_so(tmp_path: Path) -> None:
    config_path, _ = write_config(tmp_path, free_port())
    centre_api = CommandCentre.load(config_path)
    with pytest.raises(NotSent) as info:
        await centre_api.send(GW, "lum-01", "off", timeout_s=0.5)
    audited = await centre_api.show(info.value.command.id)
    assert audited is not None
    assert audited.status(time.time_ns() // 1_000_000) == "not sent"
