"""Modbus RTU: the devices on one RS-485 line through a local serial port
(:class:`~drivers.modbus.client.ModbusDriver` over pymodbus's serial client)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.framer import FramerType

from drivers.modbus.client import Client, ModbusDriver
from drivers.modbus.config import ModbusDevice, ModbusRtuLink
from drivers.scheduler import BusScheduler


class ModbusRtuDriver(ModbusDriver):
    """The devices on one RS-485 line, through a local serial port. The port stays open after a
    request without an answer: pymodbus empties its receive buffer before each request and skips a
    frame from another unit id, and the scheduler keeps the line silent between frames."""

    _lost = "serial port lost"

    def __init__(
        self,
        name: str,
        link: ModbusRtuLink,
        devices: Sequence[ModbusDevice],
        *,
        scheduler: BusScheduler | None = None,
    ) -> None:
        for d in devices:
            if not 1 <= d.unit <= 247:
                raise ValueError(f"{name}: device {d.name!r}: unit {d.unit} is not 1..247 (0 is broadcast)")
        super().__init__(name, link, devices, scheduler=scheduler)
        self._rtu = link

    def _new_client(self) -> Client:
        link = self._rtu
        return AsyncModbusSerialClient(
            link.port,
            framer=FramerType.RTU,
            baudrate=link.baudrate,
            bytesize=link.bytesize,
            parity=link.parity.value,
            stopbits=link.stopbits,
            name=self._name,
            timeout=self._backstop_s,
            retries=0,
            reconnect_delay=0,
        )

    def _where(self) -> str:
        link = self._rtu
        return f"{link.port} ({link.baudrate} {link.bytesize}{link.parity.value}{link.stopbits})"

    def _cannot_connect(self) -> str:
        port = self._rtu.port
        if not os.path.exists(port):
            return f"cannot open serial port {port}: no such device"
        if not os.access(port, os.R_OK | os.W_OK):
            return f"cannot open serial port {port}: permission denied"
        return f"cannot open serial port {port}: in use by another process, or not a serial port"
