"""Program sets pushed from the centre, checked on the gateway: installed (durably, reported, handed to
the runner) or refused with reasons while the running set stays; the retained set redelivered quietly;
no replay of an older set or an older rollback; a signed rollback; a restart runs the stored set, unless
its key was revoked since."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edge_agent.clock import ManualClock
from edge_agent.lighting.installer import Installer
from edge_agent.lighting.runner import LightingRunner, Order
from edge_agent.lighting.store import LightingStore
from tests.lighting.sets import DIJON, program_set
from wire.commands import canonical
from wire.events import Event, EventKind
from wire.lighting import LightingPush
from wire.signing import KeyRing, Signer, encode_envelope, generate_key_pair

GW = "cab-0042"


@dataclass
class Desk:
    """The centre's signing key and the gateway's installer over a real store."""

    path: Path
    signer: Signer
    ring: KeyRing
    clock: ManualClock = field(default_factory=ManualClock)
    events: list[Event] = field(default_factory=list)
    stores: list[LightingStore] = field(default_factory=list)

    def push(self, number: int, *, rollback: bool = False, gateway: str = GW, **changes: Any) -> bytes:
        self.clock.step_wall(1000)
        raw = program_set(version=number).model_dump(mode="json", by_alias=True)
        raw.update(changes)
        push = LightingPush(gateway, number, rollback, self.clock.now_ms(), "alice", self.signer.key_id, raw)
        return self.signer.seal_push(push)

    async def installer(self, ring: KeyRing | None = None) -> tuple[Installer, LightingRunner]:
        async def never(order: Order) -> bool:
            raise AssertionError("the installer does not run orders")

        async def report(e: Event) -> None:
            self.events.append(e)

        runner = LightingRunner(devices=["lum-00"], place=DIJON, clock=self.clock, apply=never)
        store = await LightingStore.open(self.path)
        self.stores.append(store)
        return Installer(
            gateway=GW, ring=ring or self.ring, store=store, runner=runner, report=report, clock=self.clock
        ), runner

    def last(self) -> tuple[EventKind, dict[str, Any]]:
        e = self.events[-1]
        return e.kind, dict(e.details)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    pair = generate_key_pair()
    d = Desk(tmp_path / "lighting.db", Signer("centre-k", pair.private), KeyRing({"centre-k": pair.public}))
    yield d
    for store in d.stores:
        await store.close()


async def test_install_newer_refuse_older_and_replays_rollback_signed(desk: Desk) -> None:
    inst, runner = await desk.installer()
    v1 = desk.push(1)
    assert await inst.handle(v1)
    installed = {"version": 1, "issued_at_ms": desk.clock.now_ms(), "issuer": "alice", "rollback": False}
    assert desk.last() == (EventKind.LIGHTING_INSTALLED, installed)
    assert runner.program_set is not None
    assert runner.program_set.version == 1
    n = len(desk.events)
    assert not await inst.handle(v1)  # the retained set again, on a reconnect: quietly
    assert len(desk.events) == n
    assert not await inst.handle(desk.push(1))  # the same version, signed later: not newer
    assert "version 1 is not newer than the running v1" in desk.last()[1]["reason"]
    v2 = desk.push(2)
    assert await inst.handle(v2)
    assert not await inst.handle(v1)  # an old push replayed
    kind, details = desk.last()
    assert (kind, details["version"]) == (EventKind.LIGHTING_REFUSED, 1)
    assert "a replay" in details["reason"]
    back = desk.push(1, rollback=True)
    assert await inst.handle(back)  # the centre signed the return to v1
    assert runner.program_set.version == 1
    assert desk.last()[1]["rollback"] is True
    assert await inst.handle(desk.push(3))
    assert not await inst.handle(back)  # the old rollback replayed: issued before v3
    assert runner.program_set.version == 3


async def test_a_bad_set_is_refused_whole_with_its_reasons_and_the_old_one_runs(desk: Desk) -> None:
    inst, runner = await desk.installer()
    assert await inst.handle(desk.push(1))
    bad = desk.push(
        2,
        programs={"p": {"steps": [{"at": "25:00", "level": 50}]}},
        calendars={"streets": {"default_program": "p", "rules": [{"program": "gone"}]}},
    )
    assert not await inst.handle(bad)
    kind, details = desk.last()
    assert (kind, details["version"]) == (EventKind.LIGHTING_REFUSED, 2)
    assert "programs.p.steps.0.at" in details["reason"]
    assert runner.program_set is not None
    assert runner.program_set.version == 1


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        ("gateway", "for gateway 'cab-0099', not this one"),
        ("signature", "not authentic"),
        ("version", "differs from the body's version"),
    ],
)
async def test_refused_before_the_set_is_read(desk: Desk, tamper: str, says: str) -> None:
    inst, runner = await desk.installer()
    if tamper == "gateway":
        payload = desk.push(1, gateway="cab-0099")
    elif tamper == "signature":
        forged = bytearray(desk.push(1))
        forged[-1] ^= 1
        payload = bytes(forged)
    else:  # the set inside says 9, the body 1: the centre's encoder refuses it, so it is signed by hand
        raw = program_set(version=9).model_dump(mode="json", by_alias=True)
        body = {"v": 1, "gateway": GW, "version": 1, "rollback": False, "issued_at_ms": desk.clock.now_ms(),
                "issuer": "mallory", "key_id": "centre-k", "set": raw}  # fmt: skip
        payload = encode_envelope(desk.signer.sign(canonical(body)))
    assert not await inst.handle(payload)
    assert says in desk.last()[1]["reason"]
    assert runner.program_set is None


async def test_a_restart_runs_the_stored_set_unless_its_key_was_revoked(desk: Desk) -> None:
    inst, _ = await desk.installer()
    assert await inst.handle(desk.push(4))
    again, runner = await desk.installer()
    pset = await again.load()
    assert pset is not None
    assert runner.program_set == pset
    assert pset.version == 4
    revoked = KeyRing({"centre-k": desk.signer.public}, revoked=["centre-k"])
    third, runner3 = await desk.installer(revoked)
    assert await third.load() is None
    assert runner3.program_set is None
    kind, details = desk.last()
    assert (kind, details["version"]) == (EventKind.LIGHTING_REFUSED, 4)
    assert "revoked" in details["reason"]
