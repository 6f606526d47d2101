"""simulators.bollard.register_map: the §5.3 registers over the model, and the command mailbox's handshake."""

from __future__ import annotations

import pytest

from simulators.bollard.codes import Command, Logic, Result, SiteState
from simulators.bollard.register_map import COMMAND, LAST_SEQUENCE, RESULT, SIM_CONTROL, BollardMap, MapError
from simulators.bollard.site import BollardSite
from tests.drivers.conftest import SteppedClock

LOOP_1, DOOR, LOGIC = SIM_CONTROL, SIM_CONTROL + 3, SIM_CONTROL + 6
BOLLARD_2_PRESSURE, BOLLARD_2_LIMIT = SIM_CONTROL + 32, SIM_CONTROL + 36


@pytest.fixture
def regs(clock: SteppedClock) -> BollardMap:
    return BollardMap(BollardSite(2, clock, logic=Logic.SEMI_AUTOMATIC))


def send(regs: BollardMap, command: Command, sequence: int, hold_s: int = 0) -> tuple[int, int]:
    """One FC16 of 100..102, then what 103 and 104 read."""
    regs.write_holding(COMMAND, [command, hold_s, sequence])
    result, echo = regs.read_holding(RESULT, 2)
    return result, echo


def test_the_sequence_number_is_echoed_with_the_result(regs: BollardMap, clock: SteppedClock) -> None:
    assert regs.read_holding(COMMAND, 5) == [0, 0, 0, 0, 0]
    assert send(regs, Command.LOWER, 41) == (Result.OK, 41)
    clock.advance(3.0)
    regs.write_holding(LOOP_1, [1])
    assert send(regs, Command.RAISE, 42) == (Result.LOOP_OCCUPIED, 42)
    assert regs.read_holding(COMMAND, 3) == [Command.RAISE, 0, 42]  # the mailbox reads back as written


def test_a_repeated_sequence_number_is_not_run_again(regs: BollardMap, clock: SteppedClock) -> None:
    assert send(regs, Command.LOWER, 7) == (Result.OK, 7)
    clock.advance(3.0)
    assert send(regs, Command.RAISE, 7) == (Result.OK, 7)  # a retry: the first result stands
    assert regs.site.state() is SiteState.DOWN
    assert send(regs, Command.RAISE, 8) == (Result.OK, 8)
    assert regs.site.state() is SiteState.RISING


def test_single_register_writes_run_the_command_on_register_100(regs: BollardMap) -> None:
    regs.write_holding(COMMAND + 1, [60])  # hold duration
    regs.write_holding(COMMAND + 2, [1])  # sequence
    assert regs.read_holding(LAST_SEQUENCE, 1) == [0]  # nothing ran yet
    regs.write_holding(COMMAND, [Command.HOLD_DOWN])
    assert regs.read_holding(RESULT, 2) == [Result.OK, 1]
    assert regs.site.state() is SiteState.LOWERING


@pytest.mark.parametrize(
    ("address", "values", "code", "reason"),
    [
        (COMMAND, [9], MapError.ILLEGAL_VALUE, "unknown command 9"),
        (COMMAND, [0], MapError.ILLEGAL_VALUE, "unknown command 0"),
        (RESULT, [0], MapError.ILLEGAL_ADDRESS, "read-only"),
        (COMMAND, [1, 0, 5, 0], MapError.ILLEGAL_ADDRESS, "103 is read-only"),
        (LOGIC, [4], MapError.ILLEGAL_VALUE, "4 is not 0..3"),
        (LOOP_1, [2], MapError.ILLEGAL_VALUE, "2 is not 0..1"),
        (SIM_CONTROL + 7, [1], MapError.ILLEGAL_ADDRESS, "read-only"),
        (99, [1], MapError.ILLEGAL_ADDRESS, "outside the map"),
        (SIM_CONTROL + 48, [1], MapError.ILLEGAL_ADDRESS, "outside the map"),  # no bollard 3
    ],
)
def test_refused_writes_change_nothing(
    regs: BollardMap, address: int, values: list[int], code: int, reason: str
) -> None:
    with pytest.raises(MapError, match=reason) as err:
        regs.write_holding(address, values)
    assert err.value.code == code
    assert regs.read_holding(COMMAND, 5) == [0, 0, 0, 0, 0]
    assert regs.site.state() is SiteState.UP


def test_sim_control_reads_back_and_reaches_the_inputs(regs: BollardMap) -> None:
    regs.write_holding(LOOP_1, [1, 1, 0, 1])  # loops 1 and 2, mains ok, door open
    regs.write_holding(BOLLARD_2_PRESSURE, [1])
    assert regs.read_holding(LOOP_1, 7) == [1, 1, 0, 1, 0, 0, Logic.SEMI_AUTOMATIC]
    assert regs.read_holding(BOLLARD_2_PRESSURE, 5) == [1, 0, 0, 0, 0]
    bits = regs.discrete_inputs()
    assert len(bits) == 32
    b1, b2 = bits[:16], bits[16:]
    assert b1[:5] == [True, False, True, True, False]  # up; loops; bollard 1's pressure switch
    assert b2[:5] == [True, False, True, True, True]  # bollard 2's pressure switch
    assert (b1[11], b2[11]) == (True, True)  # the cabinet door is the site's: every block repeats it
    assert b1[14:] == [False, False]


def test_input_registers(regs: BollardMap, clock: SteppedClock) -> None:
    send(regs, Command.LOWER, 1)
    clock.advance(3.0)
    send(regs, Command.RAISE, 2)
    clock.advance(1.0 + 4.0)
    regs.write_holding(BOLLARD_2_LIMIT, [3])  # both limits open on bollard 2: fault 6
    ir = regs.input_registers()
    assert ir[:4] == [SiteState.FAULT, Logic.SEMI_AUTOMATIC, 6, 0]
    assert ir[4:8] == [0, 1, 0, 9999]  # cycle counter 1, cycles to service 9999 (uint32, high word first)
    assert ir[8:10] == [4000, 3000]
    assert ir[10] == 120  # 12.0 bar held up
    assert 200 < ir[11] < 210  # oil warmed a little by 4 s of pumping
    assert ir[12] == 0
