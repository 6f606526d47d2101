"""simulators.luminaire.gateway: the register map, without a socket."""

from __future__ import annotations

import random

import pytest

from simulators.luminaire.gateway import DaliGateway, GatewayError
from simulators.luminaire.model import LAMP_FAILURE, Fault, Luminaire
from tests.drivers.conftest import SteppedClock


def gateway(clock: SteppedClock, count: int = 3, channel: int = 0) -> DaliGateway:
    return DaliGateway([Luminaire(100.0, clock, random.Random(sa)) for sa in range(count)], channel)


def test_ranges_follow_the_channel(clock: SteppedClock) -> None:
    assert gateway(clock, 3).ranges == ((0, 300), (25000, 300), (60000, 3))
    assert gateway(clock, 2, channel=1).ranges == ((7000, 200), (28200, 200), (60000, 2))


def test_luminaire_registers(clock: SteppedClock) -> None:
    gw = gateway(clock)
    clock.advance(3600)
    status, level, dtype, phys_min, lo, hi, on, fail, fade_time, fade_rate, setpoint = gw.read(105, 11)
    assert (status & 0x04, level, dtype, phys_min, lo, hi, on, fail) == (4, 100, 6, 1, 1, 100, 100, 100)
    assert (fade_time, fade_rate, setpoint) == (0, 7, 100)
    d4i = gw.read(25134, 24)
    assert d4i[0:2] == [0, 100]  # 100.5 Wh after an hour at 100.5 W, whole Wh
    assert d4i[2:4] == [0, 1005]  # 0.1 W
    assert d4i[4:12] == [0xFFFF] * 8  # apparent and load-side: MASK
    assert d4i[12:14] == [0, 3600]  # operating time
    assert d4i[14:16] == [0, 1]  # start counter
    assert 50 < d4i[16] < 60  # gear temperature °C
    assert 2280 <= d4i[18] <= 2320  # supply voltage 0.1 V
    assert d4i[19:21] == [0, 3600]  # light-source on-time
    assert (d4i[21], d4i[23]) == (0, 100)  # light-source failure, output current %


def test_32_bit_values_are_high_word_first(clock: SteppedClock) -> None:
    gw = gateway(clock)
    clock.advance(100_000)
    hi, lo = gw.read(25046, 2)
    assert (hi << 16) | lo == 100_000
    assert hi == 1


def test_negative_temperature_is_twos_complement(clock: SteppedClock) -> None:
    lum = Luminaire(100.0, clock, random.Random(0), ambient_c=-12.4)  # a winter night, lamp just on
    assert DaliGateway([lum]).read(25050, 1) == [0x10000 - 12]


def test_unmapped_registers_inside_the_map_read_zero(clock: SteppedClock) -> None:
    gw = gateway(clock)
    assert gw.read(116, 10) == [0] * 10
    assert gw.read(25100, 34) == [0] * 34


def test_outside_the_map_is_an_illegal_address(clock: SteppedClock) -> None:
    gw = gateway(clock, 3)
    with pytest.raises(GatewayError) as err:
        gw.read(300, 1)
    assert err.value.code == GatewayError.ILLEGAL_ADDRESS


def test_setpoint_write_sets_the_target_through_the_curve(clock: SteppedClock) -> None:
    gw = gateway(clock)
    gw.write(215, [50])
    assert gw.luminaires[2].state().target_arc == 229
    assert gw.read(206, 1) == [51]  # arc 229 is 50.5 %: the gateway rounds
    assert gw.read(106, 1) == [100]  # the others did not move


@pytest.mark.parametrize(
    ("address", "values", "code"),
    [
        (105, [1], GatewayError.ILLEGAL_ADDRESS),  # status is read-only
        (25134, [0], GatewayError.ILLEGAL_ADDRESS),
        (115, [101], GatewayError.ILLEGAL_VALUE),
        (60000, [9], GatewayError.ILLEGAL_VALUE),
        (192, [1], GatewayError.ILLEGAL_VALUE),  # only the logarithmic curve
        (114, [0, 50], GatewayError.ILLEGAL_ADDRESS),  # +14 is read-only: nothing of the write happens
    ],
)
def test_refused_writes(clock: SteppedClock, address: int, values: list[int], code: int) -> None:
    gw = gateway(clock)
    with pytest.raises(GatewayError) as err:
        gw.write(address, values)
    assert err.value.code == code
    assert gw.luminaires[1].state().target_arc == 254


def test_sim_control_injects_and_clears_faults(clock: SteppedClock) -> None:
    gw = gateway(clock)
    gw.write(60001, [1])
    assert gw.read(60000, 3) == [0, 1, 0]
    assert gw.read(105, 2)[0] & LAMP_FAILURE
    assert gw.read(0, 1) == [0b010]  # channel failure bitfield: ECG 1
    gw.write(60002, [2])
    assert gw.read(0, 4) == [0b110, 0, 0, 0]
    assert gw.luminaires[2].fault is Fault.BALLAST
    gw.write(60001, [0, 0])
    assert gw.read(0, 1) == [0]
    gw.write(60000, [3])
    assert gw.read(25048, 2) == [0, 2]  # power cycle of sa 0: its start counter


def test_a_dead_gear_reads_mask(clock: SteppedClock) -> None:
    gw = gateway(clock)
    gw.luminaires[0].inject(Fault.BALLAST)
    d4i = gw.read(25034, 24)
    assert d4i[16] == d4i[22] == 0x7FFF  # the signed temperatures
    assert d4i[17] == 0  # +51 is unmapped
    assert [r for i, r in enumerate(d4i) if i not in (16, 17, 22)] == [0xFFFF] * 21
    assert gw.read(25134, 2) != [0xFFFF, 0xFFFF]  # its neighbour is fine


def test_update_all_trigger_is_accepted_and_reads_zero(clock: SteppedClock) -> None:
    gw = gateway(clock)
    gw.write(4, [1])
    assert gw.read(4, 1) == [0]


def test_the_energy_counter_wraps_at_32_bits(clock: SteppedClock) -> None:
    lum = Luminaire(100.0, clock, random.Random(0), energy_wh=2**32 - 50.0)  # 100.5 W at full power
    gw = DaliGateway([lum])
    assert gw.read(25034, 2) == [0xFFFF, 0xFFCE]  # 2³² - 50 Wh
    clock.t += 3600.0
    assert gw.read(25034, 2) == [0, 50]  # 100.5 Wh later: past 2³², the register starts again from 0


def test_sim_control_switches_mains_and_silences_a_gear(clock: SteppedClock) -> None:
    gw = gateway(clock)
    gw.write(60001, [4])  # mains off: the gear answers, 0 V
    assert gw.read(25152, 1) == [0]
    assert gw.read(105, 2)[1] == 0
    gw.write(60001, [5])  # mains back: a power cycle
    assert gw.read(25148, 2) == [0, 2]
    assert gw.read(25152, 1)[0] > 2200
    gw.write(60002, [6])  # sa 2 stops answering
    for address, count in ((205, 2), (280, 1), (25234, 22), (200, 10)):
        with pytest.raises(GatewayError) as err:
            gw.read(address, count)
        assert err.value.code == GatewayError.TARGET_NO_RESPONSE
    assert gw.read(0, 1) == [0b100]  # the gateway counts it as failed
    assert gw.read(105, 2)[0] & 0x04  # the others answer
    gw.write(215, [50])  # taken by the gateway, lost on the way to the gear
    gw.write(60002, [7])
    status, level = gw.read(205, 2)
    assert (status & 0x04, level) == (0x04, 100)
