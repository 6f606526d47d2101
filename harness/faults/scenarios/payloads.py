"""Malformed and oversized payloads on the telemetry topics, and the negative control: a collector that
confirms before its commit must show loss."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from harness.faults.scenarios.common import (
    CI,
    Durations,
    first_data,
    now_ms,
    running,
    settle,
)
from harness.faults.stack import FaultStack, Outcome, wait
from wire import topics
from wire.points import Reading
from wire.telemetry import BatchKey, encode_batch


def _bad_payloads(site: str, gateway: str) -> list[tuple[str, bytes]]:
    """What a broken or hostile publisher may put on the telemetry topics."""
    telemetry = topics.topic(site, gateway, topics.TopicKind.TELEMETRY)
    good = encode_batch(
        BatchKey(gateway, "0badc0ffee0badc0", 1), [Reading("lum-00", "level", now_ms(), 50.0)] * 20
    )
    return [
        (telemetry, b""),
        (telemetry, os.urandom(3000)),
        (telemetry, b"\x81\xa1a\x01"),  # msgpack, but a map of the wrong shape
        (telemetry, good[: len(good) // 2]),  # cut short
        (telemetry, good.replace(gateway.encode(), b"x" * len(gateway))),  # another gateway's key
        (telemetry, b"\x00" * (5 * 1024 * 1024)),  # larger than ingest.max_payload_bytes (4 MiB)
        (topics.topic(site, "bad gateway!", topics.TopicKind.TELEMETRY), good),  # not a gateway name
    ]


def _publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fault-injector", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for t, payload in messages:
            client.publish(t, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def malformed_payloads(workdir: Path, d: Durations = CI) -> Outcome:
    """Malformed and oversized payloads on the telemetry topics, among a gateway's good batches: each
    is quarantined with its reason, ingest goes on, the gateway's readings are stored exactly once."""
    with running(FaultStack(workdir)) as stack:
        assert stack.broker is not None
        first_data(stack, d)
        bad = _bad_payloads(stack.site, stack.gateway)
        _publish(stack.broker.port, bad)
        quarantined = wait(
            lambda: stack.quarantined() >= len(bad),
            d.recovery_timeout_s,
            "the bad payloads quarantined",
            stack,
        )
        assert stack.collector_proc_of(0).running, stack.logs()
        o = settle(stack, d, "malformed and oversized payloads on the telemetry topic")
        assert stack.quarantined() == len(bad)
        return replace(o, notes=f"{len(bad)} quarantined within {quarantined:.1f} s")


def negative_control(workdir: Path, d: Durations = CI) -> Outcome:
    """A collector that confirms before its commit (built for this test only) is killed: the readings
    it had confirmed but not committed are gone. The comparison must show that loss — proof that the
    suite can see one. The caller asserts that it does; this function does not check exactly-once."""
    stack = FaultStack(workdir, collector_fault=["--fault", "confirm-before-commit", "--delay", "3"])
    with running(stack):
        first_data(stack, d)
        stack.collector_proc_of(0).kill()
        stack.restart_collector()
        return settle(
            stack, d, "NEGATIVE CONTROL: a collector confirms before its commit, killed", check=False
        )
