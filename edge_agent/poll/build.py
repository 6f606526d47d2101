"""The drivers and pollers of one bus, built through the bus kinds' registry: one poller per device,
their starts spread over the interval, backing off from a device while it does not answer."""

from __future__ import annotations

from collections.abc import Hashable

from drivers.base import Driver
from drivers.scheduler import BusScheduler
from edge_agent.buffer.intake import Intake
from edge_agent.clock import Clock
from edge_agent.config.kinds import BUS_KINDS, BusKinds
from edge_agent.config.resolved import Bus
from edge_agent.poll.backoff import PollBackoff, Reachability
from edge_agent.poll.poller import DevicePoller, offsets
from edge_agent.poll.report import ReportFilter
from edge_agent.state.lastvalues import LastValues


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
    last_values: LastValues | None = None,
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
            last_values=last_values,
        )
        for dev, start, key in zip(devices, starts, keys, strict=True)
    ]
