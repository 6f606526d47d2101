"""The lighting cabinet as it is built, with no I/O: the grid supply, the mains contactor K1 whose coil is
fed by the gateway's relay output (DO1) **or** by the hardware fallback's contact wired in parallel
(:mod:`.fallback`), and the door contact.

The lighting circuit (the luminaires' mains) is live while the supply is there and K1 is closed, i.e.
``supply and (output or fallback)``: a dead gateway (its output drops: a relay module's outputs go to
their safe state, off, without their master) still lights the street by night through the fallback,
and the gateway can switch the street on by day (tests, maintenance). :meth:`Cabinet.update` looks at the
inputs and calls ``on_mains(live)`` on each change of the circuit (the luminaire bank's
:meth:`~simulators.luminaire.bank.LuminaireBankServer.mains`); the server calls it on every request,
a test or a runner calls it as its clock moves.
"""

from __future__ import annotations

from collections.abc import Callable

from simulators.contactor.fallback import Fallback


def _nothing(_: bool) -> None:
    pass


class Cabinet:
    def __init__(self, fallback: Fallback | None, on_mains: Callable[[bool], None] = _nothing) -> None:
        self.fallback = fallback
        self.on_mains = on_mains
        self.supply = True  # the grid feeding the cabinet
        self.door_open = False
        self._output = False  # DO1, the gateway's relay on K1's coil
        self._live: bool | None = None  # None: never looked
        self.closings = 0  # K1 pulled in (counts every dusk)

    @property
    def output(self) -> bool:
        return self._output

    def set_output(self, on: bool) -> None:
        self._output = on
        self.update()

    def fallback_closed(self) -> bool:
        return self.fallback is not None and self.fallback.closed()

    def contactor_closed(self) -> bool:
        return self.supply and (self._output or self.fallback_closed())

    def update(self) -> bool:
        """Whether the lighting circuit is live now; tells ``on_mains`` when that changed."""
        live = self.contactor_closed()
        if live != self._live:
            if live:
                self.closings += 1
            self._live = live
            self.on_mains(live)
        return live

    def dead_gateway(self) -> None:
        """The gateway's relay module loses its master (or its power): its outputs go off."""
        self.set_output(False)
