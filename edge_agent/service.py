"""The agent as a service: run it until SIGTERM or SIGINT with its status socket, supervise it (exit code
1 when a part fails), and flush its buffer without polling (``edge-agent flush``)."""

from __future__ import annotations

import asyncio
import logging
import signal

from edge_agent.clock import Clock
from edge_agent.config.resolved import ResolvedConfig
from edge_agent.health.status_server import StatusServer
from edge_agent.runtime import VERSION, Agent
from edge_agent.supervisor import first_failure

log = logging.getLogger(__name__)


async def run_agent(config: ResolvedConfig, clock: Clock | None = None) -> int:
    """Run until SIGTERM or SIGINT (exit code 0), or until a part of the agent fails (exit code 1)."""
    agent = await Agent.build(config, clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = status_server(config, agent)
    status: StatusServer | None = server
    try:
        await server.start()
    except OSError as exc:  # the agent's job is the data; a missing status socket is worth a warning only
        log.warning(
            "no status socket at %s (edge-agent status will not see this agent): %s",
            config.status_socket,
            exc,
        )
        status = None
    try:
        return await supervise(agent, stop, status)
    finally:
        if status is not None:
            await status.close()


def status_server(config: ResolvedConfig, agent: Agent) -> StatusServer:
    """The agent's status socket (``edge-agent status``, ``read``, ``values``); :meth:`StatusServer.start`
    it, then pass it to :meth:`Agent.run`."""
    cfg = config.config
    return StatusServer(
        path=config.status_socket,
        identity={"gateway": cfg.gateway, "site": cfg.site, "version": VERSION, "config": str(config.source)},
        buffer=agent.buffer,
        link=agent.link,
        publisher=agent.publisher,
        outbox=agent.outbox,
        outbox_sender=agent.outbox_sender,
        pollers=agent.pollers,
        clock=agent.clock,
        last_values=agent.last_values,
        maintenance=agent.commands.executor.maintenance_status if agent.commands is not None else None,
    )


async def supervise(agent: Agent, stop: asyncio.Event, status: StatusServer | None = None) -> int:
    """Run ``agent`` until ``stop`` is set (0), or until one of its parts fails (1, logged)."""
    try:
        await agent.run(stop, status)
    except Exception as exc:  # the failing part logged its traceback
        log.error("the agent stopped after a failure (%r); exit code 1", first_failure(exc), exc_info=exc)
        return 1
    return 0


async def flush_buffer(config: ResolvedConfig, timeout_s: float) -> int:
    """Deliver what the buffer holds without polling; return how many readings are still left."""
    agent = await Agent.build(config, poll=False)
    stop = asyncio.Event()
    runner = asyncio.create_task(agent.run(stop), name="agent")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    left = -1
    try:
        while not runner.done():
            stats = await agent.buffer.stats()
            left = stats.unsealed + stats.sealed_readings
            if left == 0 or loop.time() >= deadline:
                break
            agent.publisher.wake()
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await runner  # a part that failed raises here
    return left
