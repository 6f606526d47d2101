"""Commissioning a street's luminaires (``edge-agent lighting commission``): store each gear's POWER ON
LEVEL (the level it lights at whenever the cabinet's contactor brings mains, the hardware fallback's
included: the street's light when the gateway is dead) and SYSTEM FAILURE LEVEL (the level it goes to
when the DALI line loses its power), where the interface can write them:

- a DALI line through a serial interface (``dali_serial``): DTR0, SET … LEVEL sent twice, and the QUERY
  that reads the stored arc level back (:meth:`drivers.dali.client.DaliSerialDriver.store_level`);
- a Modbus device whose profile maps writable points ``power_on_level`` / ``system_failure_level`` (in
  %): written and read back. The DALI-to-Modbus gateway's map (``dali-gw-luminaire``, devices.md §5.1)
  has both (+11, +12) read-only: it cannot, and says so;
- anything else: it cannot (not a DALI luminaire).

The devices are those named, or every device that takes ``set_level``. Nothing else is sent, and
nothing goes through the centre: it is a bench or site tool, run with the agent stopped on that line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivers.dali.client import DaliSerialDriver
from drivers.dali.config import StoredLevel
from drivers.dali.curve import arc_to_percent, percent_to_arc
from drivers.errors import DriverError
from drivers.modbus.client import ModbusDriver
from drivers.modbus.config import ModbusDevice, Table
from drivers.scheduler import BusScheduler
from edge_agent.config.resolved import AnyDevice, ResolvedConfig
from edge_agent.poll.build import build_driver

LEVEL_ACTION = "set_level"
_POINTS = {StoredLevel.POWER_ON: "power_on_level", StoredLevel.SYSTEM_FAILURE: "system_failure_level"}


@dataclass(frozen=True, slots=True)
class Outcome:
    device: str
    done: bool
    detail: str  # what was stored and read back, or why it could not be


def _luminaire(dev: AnyDevice) -> bool:
    actions = getattr(dev, "actions", None)
    return actions is not None and LEVEL_ACTION in actions.actions


async def commission(
    config: ResolvedConfig, levels: dict[StoredLevel, float], devices: Sequence[str] = ()
) -> list[Outcome]:
    """Each device's levels stored (``levels``: % of light), in the config's order; a name the config
    does not have is an outcome too."""
    known = {d.name for bus in config.buses for d in bus.devices}
    out = [Outcome(name, False, "no such device in the config") for name in devices if name not in known]
    for bus in config.buses:
        chosen = [d for d in bus.devices if (d.name in devices if devices else _luminaire(d))]
        if not chosen:
            continue
        driver = build_driver(bus, BusScheduler(bus.name))
        try:
            for dev in chosen:
                try:
                    if isinstance(driver, DaliSerialDriver):
                        out.append(await _dali(driver, dev.name, levels))
                    elif isinstance(driver, ModbusDriver) and isinstance(dev, ModbusDevice):
                        out.append(await _modbus(driver, dev, levels))
                    else:
                        why = f"not a DALI luminaire (bus {bus.name} is {bus.link.kind})"
                        out.append(Outcome(dev.name, False, why))
                except DriverError as exc:
                    out.append(Outcome(dev.name, False, f"{type(exc).__name__}: {exc}"))
        finally:
            await driver.aclose()
    return out


async def _dali(driver: DaliSerialDriver, device: str, levels: dict[StoredLevel, float]) -> Outcome:
    said, ok = [], True
    for which, percent in levels.items():
        arc = await driver.store_level(device, which, percent)
        ok = ok and arc == percent_to_arc(percent)
        said.append(f"{which} {percent:g} % stored, reads back arc {arc} ({arc_to_percent(arc):.1f} %)")
    return Outcome(device, ok, "; ".join(said))


async def _modbus(driver: ModbusDriver, dev: ModbusDevice, levels: dict[StoredLevel, float]) -> Outcome:
    writable = {p.name for p in dev.points if p.table in (Table.HOLDING, Table.COIL)}
    missing = [_POINTS[w] for w in levels if _POINTS[w] not in writable]
    if missing:
        return Outcome(
            dev.name,
            False,
            f"cannot: its profile maps no writable {' or '.join(missing)} (the DALI-to-Modbus gateway's "
            "map has the power-on and system-failure levels, +11 and +12, read-only); store them on a "
            "DALI line or with the gateway's own tool",
        )
    said = []
    for which, percent in levels.items():
        await driver.write(dev.name, _POINTS[which], round(percent))
        said.append(f"{which} {percent:g} % written")
    read = {v.point: v.value for v in await driver.read(dev.name)}
    got = [read.get(_POINTS[w]) for w in levels]
    ok = got == [round(p) for p in levels.values()]
    return Outcome(dev.name, ok, "; ".join(said) + f"; reads back {got}")
