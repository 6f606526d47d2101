"""Build the agent from its resolved config, run its parts, and shut them down cleanly (the process around
it: :mod:`edge_agent.service`).

Everything is constructed here and passed in; nothing is global. Only the drivers the config uses are
imported. Shutdown (SIGTERM/SIGINT): stop polling, let in-progress commits finish, publish the
retained ``offline`` status, disconnect, close the buffer and the outbox. Sealed, unconfirmed batches
stay in the buffer, unconfirmed results and events in the outbox; both are re-sent on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from drivers.base import Driver
from drivers.scheduler import BusScheduler
from edge_agent.buffer.retention import Retention
from edge_agent.buffer.store import Buffer
from edge_agent.clock import Clock, SystemClock
from edge_agent.commands.wiring import CommandPath
from edge_agent.config.kinds import BUS_KINDS, BusKinds
from edge_agent.config.resolved import ResolvedConfig
from edge_agent.health.reporter import HealthReporter
from edge_agent.health.status_server import StatusServer
from edge_agent.lighting.wiring import LightingPath
from edge_agent.outbox.sender import OutboxSender
from edge_agent.outbox.store import Outbox
from edge_agent.poll.build import build_driver, build_pollers
from edge_agent.poll.poller import DevicePoller
from edge_agent.poll.report import ReportFilter
from edge_agent.state.lastvalues import LastValues
from edge_agent.supervisor import Supervisor, cancel
from edge_agent.uplink.publisher import Publisher
from edge_agent.uplink.topics import UplinkTopics
from mqtt_session import Backoff, MqttLink, NotConnected, Will
from wire import topics
from wire.status import GatewayStatus, LinkState, encode_status

log = logging.getLogger(__name__)
VERSION = "0.1.0"


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
    outbox: Outbox  # results and events, ahead of the telemetry backlog
    outbox_sender: OutboxSender
    buses: list[BusScheduler] = field(default_factory=list)  # one request queue per bus, same order
    last_values: LastValues = field(default_factory=LastValues)  # every point's, as last polled
    commands: CommandPath | None = None  # None: no ``commands:`` section, the gateway takes no commands
    lighting: LightingPath | None = None  # None: no ``lighting:`` section
    supervisor: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(on_failure=self._say_offline)

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The running parts (the buffer's writer among them)."""
        return self.supervisor.tasks

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
            start=False,  # its writer runs in the agent's task group (run)
            batch_readings=cfg.uplink.batch_max_readings,
        )
        try:
            outbox = await Outbox.open(
                config.outbox_file, gateway=cfg.gateway, clock=clock, max_messages=cfg.outbox.max_messages
            )
        except BaseException:
            await buffer.close()
            raise
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
            topics=UplinkTopics.of(cfg.site, cfg.gateway, cfg.uplink),
            config=cfg.uplink,
            clock=clock,
        )
        link.route(confirm_topic, publisher.on_confirm_message, qos=1)
        outbox_sender = OutboxSender(
            outbox=outbox,
            link=link,
            topic_of=lambda kind: topics.topic(cfg.site, cfg.gateway, kind),
            confirm_timeout_s=cfg.outbox.confirm_timeout_s,
            clock=clock,
        )
        link.route(
            topics.topic(cfg.site, cfg.gateway, topics.TopicKind.OUTBOX_CONFIRM),
            outbox_sender.on_confirm_message,
            qos=1,
        )
        drivers: list[Driver] = []
        pollers: list[DevicePoller] = []
        buses: list[BusScheduler] = []
        report = ReportFilter(config.report_specs())
        last_values = LastValues()
        for bus in config.buses if poll else ():
            scheduler = BusScheduler(bus.name, bus.link.frame_gap_s)
            driver = build_driver(bus, scheduler, kinds)
            buses.append(scheduler)
            drivers.append(driver)
            pollers.extend(
                build_pollers(bus, driver, buffer, clock, report, kinds=kinds, last_values=last_values)
            )
        commands: CommandPath | None = None
        try:  # no commands without the buses (a flush): they would all be refused as unknown devices
            commands = await CommandPath.build(
                config if poll else None,
                link=link,
                results=outbox,
                drivers=drivers,
                last_heard=lambda: publisher.last_confirm_mono,
                clock=clock,
            )
            lighting = await LightingPath.build(
                config, link=link, outbox=outbox, commands=commands, clock=clock
            )
            if lighting is not None:
                lighting.watch(pollers)
        except BaseException:
            if commands is not None:
                await commands.close()
            await buffer.close()
            await outbox.close()
            raise
        health = HealthReporter(
            buffer=buffer,
            publisher=publisher,
            link=link,
            pollers=pollers,
            clock=clock,
            interval_s=cfg.health_interval_s,
            buses=buses,
            report=report,
            outbox=outbox,
            outbox_sender=outbox_sender,
            lighting=lighting.runner if lighting is not None else None,
        )
        return cls(
            config,
            buffer,
            link,
            publisher,
            drivers,
            pollers,
            health,
            clock,
            outbox,
            outbox_sender,
            buses,
            last_values=last_values,
            commands=commands,
            lighting=lighting,
        )

    def start(self, tasks: asyncio.TaskGroup) -> None:
        """Start the parts — MQTT link, uplink, outbox sender, health, pollers — as tasks of ``tasks``."""
        spawn = self.supervisor.spawn
        spawn(tasks, self.link.run(), "mqtt-link")
        spawn(tasks, self.publisher.run(), "uplink")
        spawn(tasks, self.outbox_sender.run(), "outbox-sender")
        if self.pollers:
            spawn(tasks, self.health.run(), "health")
        for p in self.pollers:
            spawn(tasks, p.run(), f"poll-{p.device}")
        if self.commands is not None:
            self.commands.start(spawn, tasks)
        if self.lighting is not None:
            self.lighting.start(spawn, tasks)
        log.info(
            "agent %s/%s started: %d devices on %d buses, buffer %s (epoch %s)",
            self.config.config.site,
            self.config.config.gateway,
            len(self.pollers),
            len(self.drivers),
            self.config.buffer_path,
            self.buffer.epoch,
        )

    def _say_offline(self) -> None:
        """Queue the retained ``offline`` status: the link's cancellation (by the task group) sends it
        ahead of its clean disconnect, which leaves no last will to say it instead."""
        topic, payload = self._offline()
        with contextlib.suppress(NotConnected):
            self.link.publish(topic, payload, qos=1, retain=True)

    async def run(self, stop: asyncio.Event, status: StatusServer | None = None) -> None:
        """Run until ``stop`` is set, then stop cleanly (return). Every long-running task — the buffer's
        writer, the MQTT link, the uplink, health, the pollers, the status server — runs supervised
        (:mod:`edge_agent.supervisor`): when one fails, the others are cancelled, the agent closes what
        it holds and the failure is raised (an ``ExceptionGroup``): the process exits non-zero."""
        # The writer's group is the outer one: it outlives the parts, to commit their last readings.
        async with asyncio.TaskGroup() as core:
            self.buffer.start(lambda writer, name: self.supervisor.spawn(core, writer, name))
            try:
                async with asyncio.TaskGroup() as parts:
                    self.start(parts)
                    if status is not None:
                        self.supervisor.spawn(parts, status.serve(), "status-server")
                    await stop.wait()
                    log.info("stopping")
                    await self._stop_parts()
            finally:
                await self._close()

    async def _stop_parts(self) -> None:
        self.supervisor.stopping = True
        pollers = [t for t in self.tasks if t.get_name().startswith("poll-") or t.get_name() == "health"]
        await cancel(pollers, "pollers")
        await self.link.close(final=self._offline())
        await cancel([t for t in self.tasks if t.get_name() != "buffer-writer"], "tasks")

    async def _close(self) -> None:
        for d in self.drivers:
            with contextlib.suppress(Exception):
                await d.aclose()
        await self.buffer.close()
        if self.lighting is not None:
            await self.lighting.close()
        if self.commands is not None:
            await self.commands.close()
        await self.outbox.close()
        log.info(
            "agent stopped; %d readings wait in the buffer, %d results and events in the outbox",
            self.buffer.unsealed,
            self.outbox.depth,
        )

    def _offline(self) -> tuple[str, bytes]:
        cfg = self.config.config
        offline = GatewayStatus(LinkState.OFFLINE, self.clock.now_ms(), VERSION)
        return topics.topic(cfg.site, cfg.gateway, topics.TopicKind.STATUS), encode_status(offline)
