"""One name per counter, from where it is counted to where it is reported: the buffer's table, the
status server's JSON, ``edge-agent status`` and the ``_agent`` points."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from edge_agent.buffer.retention import Retention
from edge_agent.buffer.store import Buffer
from edge_agent.cli.live import print_status
from edge_agent.clock import ManualClock
from edge_agent.config.model import UplinkConfig
from edge_agent.counters import BUFFER, DROPS, OUTBOX, OUTBOX_SENDER, UPLINK, Counter
from edge_agent.health.reporter import HealthReporter
from edge_agent.health.status_server import StatusServer
from edge_agent.outbox.sender import OutboxSender
from edge_agent.outbox.store import Outbox
from edge_agent.uplink.publisher import Publisher
from edge_agent.uplink.topics import UplinkTopics
from mqtt_session.link import MqttLink
from wire.points import Reading
from wire.topics import TopicKind


async def test_an_older_buffer_file_keeps_its_counts_under_the_new_names(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = await Buffer.open(path, gateway="gw", clock=ManualClock(), commit_interval_s=0)
    await buf.append([Reading("d", "p", 1_767_225_600_000 + i, i) for i in range(7)])
    await buf.close()
    with contextlib.closing(sqlite3.connect(path)) as db, db:  # as the agent before the names were one
        db.execute("DELETE FROM counters WHERE value = 0")
        db.execute("UPDATE counters SET name = 'committed' WHERE name = ?", (str(Counter.COMMITTED),))
        db.execute("INSERT INTO counters VALUES ('dropped_age', 3)")
    again = await Buffer.open(path, gateway="gw", clock=ManualClock(), commit_interval_s=0)
    try:
        counters = (await again.stats()).counters
    finally:
        await again.close()
    assert counters[Counter.COMMITTED] == 7
    assert counters[Counter.DROPPED_AGE] == 3
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = {n for (n,) in db.execute("SELECT name FROM counters")}
    assert names == {str(c) for c in BUFFER}


async def test_one_name_from_the_buffer_to_the_status_the_cli_and_the_wire(
    tmp_path: Path, capsys: object
) -> None:
    clock = ManualClock()
    buf = await Buffer.open(
        tmp_path / "b.db", gateway="gw", clock=clock, commit_interval_s=0, retention=Retention(max_age_s=60)
    )
    link = MqttLink(client_id="gw", host="127.0.0.1", port=1)  # not connected
    publisher = Publisher(
        buffer=buf, link=link, topics=UplinkTopics.single("t"), config=UplinkConfig(), clock=clock
    )
    publisher.counters.add(Counter.BATCHES_RESENT, 2)
    reporter = HealthReporter(
        buffer=buf, publisher=publisher, link=link, pollers=[], clock=clock, interval_s=60
    )
    status = StatusServer(
        path=tmp_path / "s.sock",
        identity={"gateway": "gw", "site": "s", "version": "0", "config": "c"},
        buffer=buf,
        link=link,
        publisher=publisher,
        pollers=[],
        clock=clock,
    )
    try:
        now = clock.now_ms()
        await buf.append([Reading("d", "p", now - 120_000 + i, i) for i in range(4)])  # too old: dropped
        await buf.append([Reading("d", "p", now + i, i) for i in range(6)])
        st = await status.answer(json.dumps({"cmd": "status"}).encode())
        stats = await buf.stats()
        points = {r.point: r.value for r in await reporter.report()}  # then appended: read before
    finally:
        await buf.close()
    assert stats.counters[Counter.DROPPED_AGE] == 4
    for c in BUFFER:
        assert points[c] == st["buffer"][c] == stats.counters[c], c
    assert points[Counter.DROPPED] == st["buffer"][Counter.DROPPED] == sum(stats.counters[c] for c in DROPS)
    for c in UPLINK:
        assert points[c] == st["uplink"][c] == publisher.counters[c], c
    assert points[Counter.BATCHES_RESENT] == 2
    print_status(st)
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "dropped 4 (4 age)" in out


async def test_the_outbox_depth_bound_refusal_and_counters_in_the_status_the_cli_and_the_wire(
    tmp_path: Path, capsys: object
) -> None:
    clock = ManualClock()
    buf = await Buffer.open(tmp_path / "b.db", gateway="gw", clock=clock, commit_interval_s=0)
    box = await Outbox.open(tmp_path / "outbox.db", gateway="gw", clock=clock, max_messages=2)
    link = MqttLink(client_id="gw", host="127.0.0.1", port=1)  # not connected
    publisher = Publisher(
        buffer=buf, link=link, topics=UplinkTopics.single("t"), config=UplinkConfig(), clock=clock
    )
    sender = OutboxSender(outbox=box, link=link, topic_of=str, confirm_timeout_s=15, clock=clock)
    sender.counters.add(Counter.OUTBOX_RESENT, 3)
    common: dict[str, Any] = {
        "buffer": buf,
        "publisher": publisher,
        "link": link,
        "pollers": [],
        "clock": clock,
    }
    reporter = HealthReporter(**common, interval_s=60, outbox=box, outbox_sender=sender)
    status = StatusServer(
        **common,
        path=tmp_path / "s.sock",
        identity={"gateway": "gw", "site": "s", "version": "0", "config": "c"},
        outbox=box,
        outbox_sender=sender,
    )
    try:
        for _ in range(2):
            await box.put(TopicKind.EVENT, b"e")
        assert box.refusal() is not None  # a command would be refused: counted
        st = await status.answer(json.dumps({"cmd": "status"}).encode())
        points = {r.point: r.value for r in await reporter.report()}
    finally:
        await buf.close()
        await box.close()
    out = st["outbox"]
    assert (out["depth"], out["bound"]) == (points["outbox_depth"], points["outbox_bound"]) == (2, 2)
    assert out["refusal"] == points["outbox_refusal"]
    assert str(out["refusal"]).startswith("outbox full: 2 results and events wait for the collector")
    for c in OUTBOX:
        assert points[c] == out[c], c
    for c in OUTBOX_SENDER:
        assert points[c] == out[c] == sender.counters[c], c
    assert (points[Counter.OUTBOX_PUT], points[Counter.OUTBOX_REFUSED]) == (2, 1)
    assert points[Counter.OUTBOX_RESENT] == 3
    print_status(st)
    text = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "outbox  2 of 2 results and events unconfirmed, 0 confirmed, 1 refused; REFUSING NEW WORK" in text
