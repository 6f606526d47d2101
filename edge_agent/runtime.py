"""Build the agent from its resolved config, run it, and shut it down cleanly.

Everything is constructed here and passed in; nothing is global. Only the drivers the config uses are
imported. Shutdown (SIGTERM/SIGINT): stop polling, let in-progress commits finish, publish the
retained ``offline`` status, disconnect, close the buffer. Sealed, unconfirmed batches stay in the
buffer and are re-sent on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from drivers.base import Driver
from drivers.scheduler import BusScheduler
from edge_agent.buffer.intake import Intake
from edge_agent.buffer.retention import Retention
from edge_agent.buffer.store import Buffer
from edge_agent.clock import Clock, SystemClock
from edge_agent.config.kinds import BUS_KINDS, BusKinds
from edge_agent.config.resolved import Bus, ResolvedConfig
from edge_agent.health.reporter import HealthReporter
from edge_agent.health.status_server import StatusServer
from edge_agent.poll.backoff import PollBackoff, Reachability
from edge_agent.poll.poller import DevicePoller, offsets
from edge_agent.poll.report import ReportFilter
from edge_agent.uplink.publisher import Publisher
from mqtt_session import Backoff, MqttLink, Will
from wire import topics
from wire.status import GatewayStatus, LinkState, encode_status

log = logging.getLogger(__name__)
VERSION = "0.1.0"


def build_driver(bus: Bus, scheduler: BusScheduler, kinds: BusKinds = BUS_KINDS) -> Driver:
    """The driver of one bus, built by its kind's registry entry; every request it sends waits for its
    turn on ``scheduler``."""
    return kinds[bus.link.kind].driver(bus, scheduler)


def build_pollers(
    bus: Bus,
    driver: Driver,
    buffer: Intake,
    clock: Clock,
    report: ReportFilter | None = None,
    *,
    kinds: BusKinds = BUS_KINDS,
) -> list[DevicePoller]:
    """One poller per device of the bus, their starts spread over the interval, backing off from a device
    while it does not answer; the devices behind one Modbus unit id (the luminaires of one gateway) back
    off together: it is one thing on the line that answers or not."""
    devices = bus.devices
    starts = offsets([d.poll_interval_s for d in devices])
    policies = [
        PollBackoff.for_device(d.poll_interval_s, d.timeout_s or bus.link.timeout_s, bus.link.backoff_max_s)
        for d in devices
    ]
    groups: dict[Hashable, list[PollBackoff]] = {}
    keys = [kinds[bus.link.kind].answers_as(d) for d in devices]
    for key, policy in zip(keys, policies, strict=True):
        groups.setdefault(key, []).append(policy)
    shared = {  # the most patient policy of a group
        key: Reachability(PollBackoff(max(p.first_s for p in ps), max(p.max_s for p in ps)))
        for key, ps in groups.items()
    }
    return [
        DevicePoller(
            driver=driver,
            device=dev.name,
            points=[p.name for p in dev.points],
            interval_s=dev.poll_interval_s,
            offset_s=start,
            buffer=buffer,
            clock=clock,
            reachability=shared[key],
            report=report,
        )
        for dev, start, key in zip(devices, starts, keys, strict=True)
    ]


@dataclass
class Agent:
    """The running parts, exposed for the status command and the tests."""

    config: ResolvedConfig
    buffer: Buffer
    link: MqttLink
    publisher: Publisher
    drivers: list[Driver]
    pollers: list[DevicePoller]
    health: HealthReporter
    clock: Clock
    buses: list[BusScheduler] = field(default_factory=list)  # one request queue per bus, same order
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def build(
        cls,
        config: ResolvedConfig,
        clock: Clock | None = None,
        *,
        poll: bool = True,
        kinds: BusKinds = BUS_KINDS,
    ) -> Agent:
        clock = clock or SystemClock()
        cfg = config.config
        buffer = await Buffer.open(
            config.buffer_path,
            gateway=cfg.gateway,
            clock=clock,
            max_bytes=cfg.buffer.max_bytes,
            commit_interval_s=cfg.buffer.commit_interval_s,
            retention=Retention(
                when_full=cfg.buffer.when_full, thin_keep=cfg.buffer.thin_keep, max_age_s=cfg.buffer.max_age_s
            ),
        )
        status_topic = topics.topic(cfg.site, cfg.gateway, topics.TopicKind.STATUS)
        confirm_topic = topics.topic(cfg.site, cfg.gateway, topics.TopicKind.CONFIRM)

        def on_connected() -> None:
            online = GatewayStatus(LinkState.ONLINE, clock.now_ms(), VERSION)
            link.publish(status_topic, encode_status(online), qos=1, retain=True)

        link = MqttLink(
            client_id=cfg.broker.client_id or f"streetgate-{cfg.gateway}",
            host=cfg.broker.host,
            port=cfg.broker.port,
            keepalive=cfg.broker.keepalive_s,
            will=Will(status_topic, encode_status(GatewayStatus(LinkState.OFFLINE, None, VERSION))),
            clean_start=cfg.broker.session_expiry_s == 0,  # commands sent while away wait for the agent
            session_expiry=cfg.broker.session_expiry_s,
            on_connected=on_connected,
            backoff=Backoff(cfg.broker.reconnect_initial_s, cfg.broker.reconnect_cap_s),
        )
        publisher = Publisher(
            buffer=buffer,
            link=link,
            topic=topics.topic(cfg.site, cfg.gateway, topics.TopicKind.TELEMETRY),
            config=cfg.uplink,
            clock=clock,
        )
        link.route(confirm_topic, publisher.on_confirm_message, qos=1)
        drivers: list[Driver] = []
        pollers: list[DevicePoller] = []
        buses: list[BusScheduler] = []
        report = ReportFilter(config.report_specs())
        for bus in config.buses if poll else ():
            scheduler = BusScheduler(bus.name, bus.link.frame_gap_s)
            driver = build_driver(bus, scheduler, kinds)
            buses.append(scheduler)
            drivers.append(driver)
            pollers.extend(build_pollers(bus, driver, buffer, clock, report, kinds=kinds))
        health = HealthReporter(
            buffer=buffer,
            publisher=publisher,
            link=link,
            pollers=pollers,
            clock=clock,
            interval_s=cfg.health_interval_s,
            buses=buses,
            report=report,
        )
        return cls(config, buffer, link, publisher, drivers, pollers, health, clock, buses)

    def start(self) -> None:
        self.tasks.append(asyncio.create_task(self.link.run(), name="mqtt-link"))
        self.tasks.append(asyncio.create_task(self.publisher.run(), name="uplink"))
        if self.pollers:
            self.tasks.append(asyncio.create_task(self.health.run(), name="health"))
        for p in self.pollers:
            self.tasks.append(asyncio.create_task(p.run(), name=f"poll-{p.device}"))
        log.info(
            "agent %s/%s started: %d devices on %d buses, buffer %s (epoch %s)",
            self.config.config.site,
            self.config.config.gateway,
            len(self.pollers),
            len(self.drivers),
            self.config.buffer_path,
            self.buffer.epoch,
        )

    async def stop(self) -> None:
        pollers = [t for t in self.tasks if t.get_name().startswith("poll-") or t.get_name() == "health"]
        await _cancel(pollers, "pollers")
        offline = GatewayStatus(LinkState.OFFLINE, self.clock.now_ms(), VERSION)
        cfg = self.config.config
        await self.link.close(
            final=(topics.topic(cfg.site, cfg.gateway, topics.TopicKind.STATUS), encode_status(offline))
        )
        await _cancel(self.tasks, "tasks")
        for d in self.drivers:
            with contextlib.suppress(Exception):
                await d.aclose()
        await self.buffer.close()
        log.info("agent stopped; %d readings wait in the buffer", self.buffer.unsealed)


async def _cancel(tasks: list[asyncio.Task[None]], what: str, grace_s: float = 3.0) -> None:
    """Cancel and wait, but never forever: a library that swallows a cancellation (seen in a Modbus
    connect) must not turn a clean stop into one that systemd ends with SIGKILL."""
    for t in tasks:
        t.cancel()
    if not tasks:
        return
    _, stuck = await asyncio.wait(tasks, timeout=grace_s)
    if stuck:
        log.warning(
            "%d %s did not stop within %.0f s: %s",
            len(stuck),
            what,
            grace_s,
            ", ".join(t.get_name() for t in stuck),
        )


async def run_agent(config: ResolvedConfig, clock: Clock | None = None) -> int:
    """Run until SIGTERM or SIGINT (exit code 0), or until a part of the agent fails (exit code 1).

    A part that fails is logged with its traceback and the agent stops cleanly, so that systemd
    restarts it: a stalled agent that looks alive is the one outcome we never accept.
    """
    agent = await Agent.build(config, clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    agent.start()
    cfg = config.config
    status = StatusServer(
        path=config.status_socket,
        identity={"gateway": cfg.gateway, "site": cfg.site, "version": VERSION, "config": str(config.source)},
        buffer=agent.buffer,
        link=agent.link,
        publisher=agent.publisher,
        pollers=agent.pollers,
        clock=agent.clock,
    )
    try:
        await status.start()
    except OSError as exc:  # the agent's job is the data; a missing status socket is worth a warning only
        log.warning(
            "no status socket at %s (edge-agent status will not see this agent): %s",
            config.status_socket,
            exc,
        )
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    failed: list[asyncio.Task[Any]] = []
    try:
        done, _ = await asyncio.wait([stopper, *agent.tasks], return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in done if t is not stopper]
        for t in failed:
            error = None if t.cancelled() else t.exception()
            log.error("%s ended unexpectedly: %r; stopping the agent", t.get_name(), error, exc_info=error)
        if not failed:
            log.info("stopping")
    finally:
        stopper.cancel()
        await status.close()
        await agent.stop()
    return 1 if failed else 0


async def flush_buffer(config: ResolvedConfig, timeout_s: float) -> int:
    """Deliver what the buffer holds without polling; return how many readings are still left."""
    agent = await Agent.build(config, poll=False)
    agent.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while loop.time() < deadline:
            stats = await agent.buffer.stats()
            if stats.unsealed == 0 and stats.sealed_batches == 0:
                return 0
            agent.publisher.wake()
            await asyncio.sleep(0.2)
        stats = await agent.buffer.stats()
        return stats.unsealed + stats.sealed_readings
    finally:
        await agent.stop()
