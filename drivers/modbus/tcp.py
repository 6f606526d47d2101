"""Modbus TCP: the devices behind one server or gateway (:class:`~drivers.modbus.client.ModbusDriver`
over a TCP connection)."""

from __future__ import annotations

from collections.abc import Sequence

from pymodbus.client import AsyncModbusTcpClient

from drivers.modbus.client import Client, ModbusDriver
from drivers.modbus.config import ModbusDevice, ModbusTcpLink
from drivers.scheduler import BusScheduler


class ModbusTcpDriver(ModbusDriver):
    """The devices behind one Modbus TCP server or gateway. A request without an answer closes the
    connection: its late answer must never be taken for the next request's."""

    _lost = "connection lost"

    def __init__(
        self,
        name: str,
        link: ModbusTcpLink,
        devices: Sequence[ModbusDevice],
        *,
        scheduler: BusScheduler | None = None,
    ) -> None:
        super().__init__(name, link, devices, scheduler=scheduler)
        self._tcp = link

    def _new_client(self) -> Client:
        link = self._tcp
        return AsyncModbusTcpClient(
            link.host, port=link.port, name=self._name, timeout=self._backstop_s, retries=0, reconnect_delay=0
        )

    def _where(self) -> str:
        return f"{self._tcp.host}:{self._tcp.port}"

    def _cannot_connect(self) -> str:
        return f"cannot connect to {self._where()} (refused, or no answer within {self._tcp.timeout_s} s)"

    def _after_silence(self) -> None:
        self._drop()
