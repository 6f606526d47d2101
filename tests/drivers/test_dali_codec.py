"""drivers.dali, the pure parts: answers to values (scale byte, TMASK/MASK, temperature offset), the
LUBA framing against bytes read off python-dali's serial driver, the read plan and its bus time, the
config and its samples."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from drivers.base import Value
from drivers.dali import luba
from drivers.dali.codec import decode
from drivers.dali.config import (
    DaliDevice,
    DaliDeviceSpec,
    DaliPoint,
    DaliSerialLink,
    Quantity,
    resolve_devices,
)
from drivers.dali.plan import line_problems, plan_reads
from drivers.errors import DecodeError
from edge_agent.cli.main import app
from edge_agent.config.load import load_config
from edge_agent.config.model import DaliSerialBus

ROOT = Path(__file__).resolve().parents[2]
LINK = DaliSerialLink(kind="dali_serial", port="/dev/null")


def point(q: Quantity) -> DaliPoint:
    return DaliPoint(q.value, q, None)


def gear(*quantities: Quantity, latch: bool = True, interval: float = 60.0) -> DaliDevice:
    return DaliDevice("lum", 5, interval, tuple(point(q) for q in quantities), latch)


DECODED: list[tuple[Quantity, str, Value]] = [
    # bank 202: a scale byte (signed exponent) in front, value = raw x 10^scale
    (Quantity.ACTIVE_POWER, "FF 00000389", 90.5),
    (Quantity.ACTIVE_POWER, "00 00000389", 905.0),
    (Quantity.ACTIVE_POWER, "03 00000389", 905000.0),
    (Quantity.ACTIVE_POWER, "FA 00000001", 1e-6),
    (Quantity.ACTIVE_POWER, "06 00000002", 2e6),
    (Quantity.ACTIVE_ENERGY, "00 000000003039", 12345.0),
    (Quantity.ACTIVE_ENERGY, "FE 000000003039", 123.45),
    (Quantity.ACTIVE_ENERGY, "02 FFFFFFFFFFFD", 0xFFFFFFFFFFFD * 100.0),
    # temperatures: raw - 60 °C
    (Quantity.GEAR_TEMPERATURE, "50", 20),
    (Quantity.GEAR_TEMPERATURE, "00", -60),
    (Quantity.GEAR_TEMPERATURE, "FD", 193),
    (Quantity.LIGHT_SOURCE_TEMPERATURE, "5A", 30),
    # fixed scales, counters, flags
    (Quantity.SUPPLY_VOLTAGE, "08FC", 230.0),
    (Quantity.POWER_FACTOR, "5F", 0.95),
    (Quantity.LIGHT_SOURCE_CURRENT, "08CA", 2.25),
    (Quantity.OPERATING_TIME, "00000E10", 3600),
    (Quantity.START_COUNTER, "000102", 258),
    (Quantity.LIGHT_SOURCE_ON_TIME, "FFFFFFFD", 0xFFFFFFFD),
    (Quantity.GEAR_FAILURE, "01", True),
    (Quantity.LIGHT_SOURCE_OPEN_CIRCUIT, "00", False),
    # queries
    (Quantity.LEVEL, "FE", 100.0),
    (Quantity.LEVEL, "00", 0.0),
    (Quantity.LEVEL, "01", 0.1),
    (Quantity.STATUS, "84", 0x84),
    (Quantity.LED_FAILURE, "02", 2),
]

REFUSED: list[tuple[Quantity, str, str]] = [
    (Quantity.ACTIVE_POWER, "00 FFFFFFFE", "TMASK"),  # the scale byte is not part of the pattern
    (Quantity.ACTIVE_ENERGY, "FF FFFFFFFFFFFE", "TMASK"),
    (Quantity.ACTIVE_POWER, "00 FFFFFFFF", "not a valid value"),  # no MASK for 252 values: above max
    (Quantity.ACTIVE_POWER, "07 00000001", "not a valid value"),  # scale +7: out of -6..6
    (Quantity.ACTIVE_POWER, "F9 00000001", "not a valid value"),  # scale -7
    (Quantity.GEAR_TEMPERATURE, "FE", "TMASK"),
    (Quantity.GEAR_TEMPERATURE, "FF", "not a valid value"),  # no MASK for the gear's temperature
    (Quantity.LIGHT_SOURCE_TEMPERATURE, "FF", "MASK: not implemented"),
    (Quantity.SUPPLY_VOLTAGE, "FFFF", "MASK"),
    (Quantity.SUPPLY_VOLTAGE, "FFFE", "TMASK"),
    (Quantity.OPERATING_TIME, "FFFFFFFE", "TMASK"),
    (Quantity.START_COUNTER, "FFFFFE", "TMASK"),
    (Quantity.POWER_FACTOR, "65", "not a valid value"),  # 1.01
    (Quantity.GEAR_FAILURE, "02", "not a valid value"),
    (Quantity.LIGHT_SOURCE_SHORT_CIRCUIT, "FF", "MASK"),
    (Quantity.LEVEL, "FF", "MASK: no actual level"),
    (Quantity.ACTIVE_POWER, "00 0389", "expected 5 bytes, got 3"),
    (Quantity.STATUS, "0084", "1 byte, got 2"),
]


@pytest.mark.parametrize(("quantity", "raw", "expected"), DECODED)
def test_decode(quantity: Quantity, raw: str, expected: Value) -> None:
    value = decode(point(quantity), bytes.fromhex(raw))
    assert value == pytest.approx(expected) if isinstance(expected, float) else value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("quantity", "raw", "reason"), REFUSED)
def test_decode_refuses(quantity: Quantity, raw: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=re.escape(reason)) as exc:
        decode(point(quantity), bytes.fromhex(raw))
    assert exc.value.point == quantity.value


@given(st.integers(-6, 6), st.integers(0, 0xFFFFFFFD))
def test_scaled_power_is_raw_times_ten_to_the_scale(scale: int, raw: int) -> None:
    data = bytes([scale & 0xFF]) + raw.to_bytes(4, "big")
    assert decode(point(Quantity.ACTIVE_POWER), data) == pytest.approx(raw * 10.0**scale)


def test_half_the_light_is_arc_229() -> None:
    assert decode(point(Quantity.LEVEL), bytes([229])) == pytest.approx(50.0, abs=1.5)


# -- LUBA framing: bytes as python-dali 0.16's DriverLubaRs232 writes and reads them ----------------


def test_add_frame_matches_python_dali_layout() -> None:
    # QueryActualLevel(GearShort(5)) at priority 5: 'Y', 0x32, 7, line 0, 16 bits, mode 5, 0B A0, 00, 00, XOR
    assert luba.add_frame(bytes([0x0B, 0xA0]), priority=5) == bytes.fromhex(
        "59 32 07 00 10 05 0B A0 00 00 8B"
    )
    # EnableWriteMemory(GearShort(5)): send twice (mode bit 7), priority 1
    assert luba.add_frame(bytes([0x0B, 0x81]), send_twice=True) == bytes.fromhex(
        "59 32 07 00 10 81 0B 81 00 00 2E"
    )


def test_handshake_messages() -> None:
    assert luba.query_device_info() == bytes.fromhex("59 20 01 00 21")
    assert luba.write_settings(integrated_supply=False) == bytes.fromhex("59 2A 03 00 12 00 3B")
    assert luba.write_settings(integrated_supply=True)[-2:] == bytes([0x80, 0xBB])


def test_events_round_trip() -> None:
    sent = luba.sent_event(0x1234, 7, bytes([0x0B, 0xA0]))
    assert luba.Event.parse(luba.MessageParser().feed(sent.encode())[0].payload) == sent
    assert (sent.frame_id, sent.frame) == (7, bytes([0x0B, 0xA0]))
    back = luba.received_event(1, bytes([0xFE]))
    assert (back.type, back.info, back.frame) == (luba.EVENT_RECEIVED, 8, bytes([0xFE]))
    clash = luba.received_event(1, None)
    assert clash.encode() == bytes.fromhex("59 31 04 00 01 00 BF 8B")  # python-dali's framing-error test


def test_parser_splits_resyncs_and_counts_noise() -> None:
    msg = luba.encode(luba.Command.EVENT, bytes([0, 1, 0, 0x88, 0x42]))
    parser = luba.MessageParser()
    assert parser.feed(msg[:4]) == []
    assert parser.pending == 4
    assert [m.payload[-1] for m in parser.feed(msg[4:] + msg)] == [0x42, 0x42]
    # a stray 'Y' with a plausible length must not swallow the real message behind it
    out = parser.feed(b"\x00\xff" + b"\x59\x31\x05" + msg)
    assert [m.payload[-1] for m in out] == [0x42]
    assert parser.noise == 5
    assert bytes(parser.sample[:2]) == b"\x00\xff"
    bad = bytearray(msg)
    bad[-1] ^= 1
    assert parser.feed(bytes(bad)) == []
    assert parser.noise > 5


def test_frame_request_parses_what_add_frame_writes() -> None:
    msg = luba.MessageParser(min_length=0).feed(luba.add_frame(bytes([0xA3, 2]), send_twice=True, priority=3))
    req = luba.FrameRequest.parse(msg[0].payload)
    assert (req.line, req.bits, req.send_twice, req.priority, req.frame) == (0, 16, True, 3, bytes([0xA3, 2]))
    with pytest.raises(ValueError, match="16 or 24 bits"):
        luba.FrameRequest.parse(bytes([0, 8, 1, 0xFE, 0, 0, 0]))


# -- the plan ---------------------------------------------------------------------------------------


def test_queries_first_then_one_latched_transaction_per_bank() -> None:
    plan = plan_reads(gear(Quantity.ACTIVE_POWER, Quantity.STATUS, Quantity.LED_FAILURE), LINK)
    assert [t.describe() for t in plan.transactions] == [
        "QueryStatus",
        "QueryFailureStatus",
        "bank 202 0x0B..0x0F",
    ]
    dt6 = plan.transactions[1].frames
    assert [f.label for f in dt6] == ["EnableDeviceType", "QueryFailureStatus"]
    assert [f.priority for f in dt6] == [5, 1]  # the first frame of a transaction at poll priority
    bank = plan.transactions[2].frames
    assert [f.label.split()[0] for f in bank] == [
        "DTR1",
        *("EnableWriteMemory", "DTR0", "WriteMemoryLocationNoReply"),  # latch: 0xAA at 0x02
        "DTR0",  # after the latch DTR0 is 3: jump to 0x0B
        *["ReadMemoryLocation"] * 5,
        *("EnableWriteMemory", "DTR0", "WriteMemoryLocationNoReply"),  # unlatch: 0xFF
    ]
    assert bank[3].data == bytes([0xC9, 0xAA])
    assert bank[-1].data == bytes([0xC9, 0xFF])
    assert [f.location for f in bank if f.location is not None] == [0x0B, 0x0C, 0x0D, 0x0E, 0x0F]
    assert [f.closing for f in bank] == [False] * (len(bank) - 3) + [True] * 3
    assert bank[1].send_twice
    # 7 queries; commands: EnableDeviceType, DTR1, 2 x (EWM twice, DTR0, write), DTR0 = 11
    assert (plan.queries, plan.commands) == (7, 11)
    assert plan.bus_time(LINK) == pytest.approx(7 * 0.05 + 11 * 0.035)


def test_no_latch_for_single_bytes_or_when_off() -> None:
    temp = plan_reads(gear(Quantity.GEAR_TEMPERATURE), LINK).transactions[0]
    assert [f.label.split()[0] for f in temp.frames] == ["DTR1", "DTR0", "ReadMemoryLocation"]
    off = plan_reads(gear(Quantity.ACTIVE_POWER, latch=False), LINK).transactions[0]
    assert [f.label.split()[0] for f in off.frames] == ["DTR1", "DTR0", *["ReadMemoryLocation"] * 5]


def test_holes_are_jumped_when_a_dtr0_costs_less_than_reading_through() -> None:
    flags = gear(Quantity.LIGHT_SOURCE_FAILURE, Quantity.LIGHT_SOURCE_OPEN_CIRCUIT)
    jumped = plan_reads(flags, LINK).transactions[0]
    assert [f.location for f in jumped.frames if f.query] == [0x16, 0x1A]
    slow_commands = LINK.model_copy(update={"command_spacing_s": 0.25})
    read_through = plan_reads(flags, slow_commands).transactions[0]
    assert [f.location for f in read_through.frames if f.query] == list(range(0x16, 0x1B))


def test_the_whole_catalogue_plans() -> None:
    plan = plan_reads(gear(*Quantity), LINK)
    assert [t.bank for t in plan.transactions] == [None, None, None, 202, 205, 206]
    assert plan.bus_time(LINK) == pytest.approx(plan.queries * 0.05 + plan.commands * 0.035)


def test_line_problems_name_the_device_or_the_line() -> None:
    spec = DaliDeviceSpec(
        name="lum-{sa}",
        repeat={"sa": (0, 9)},
        short_address="sa",
        points=(Quantity.ACTIVE_POWER,),
        poll_interval_s=0.5,
    )
    (problem,) = line_problems(LINK, [spec])
    assert problem.startswith("devices[0] (lum-0).poll_interval_s: 0.5 s is shorter than one read")
    busy = spec.model_copy(update={"poll_interval_s": 5.0})  # 10 gear x 0.6 s in 5 s
    (problem,) = line_problems(LINK, [busy])
    assert "need ≈ 120 % of the DALI bus time" in problem
    assert line_problems(LINK, [spec.model_copy(update={"poll_interval_s": 10.0})]) == []


# -- config -----------------------------------------------------------------------------------------


def test_ranges_expand_and_clashes_are_refused() -> None:
    specs = (
        DaliDeviceSpec(
            name="lum-{sa:02d}", repeat={"sa": (0, 2)}, short_address="sa", points=(Quantity.LEVEL,)
        ),
        DaliDeviceSpec(name="spare", short_address=9, points=(Quantity.STATUS,)),
    )
    assert [(d.name, d.address) for d in resolve_devices(specs)] == [
        ("lum-00", 0),
        ("lum-01", 1),
        ("lum-02", 2),
        ("spare", 9),
    ]
    assert resolve_devices(specs)[0].points[0].unit == "%"
    clash = (*specs, DaliDeviceSpec(name="x", short_address=1, points=(Quantity.LEVEL,)))
    with pytest.raises(
        ValueError, match=r"devices\[2\] \(x\).short_address: 1 is also devices\[0\] \(lum-01\)"
    ):
        resolve_devices(clash)
    with pytest.raises(ValueError, match=r"needs \{sa\} in the device name"):
        DaliDeviceSpec(name="lum", repeat={"sa": (0, 2)}, short_address="sa", points=(Quantity.LEVEL,))
    with pytest.raises(ValueError, match=r"written repeat: \{sa: \[first, last\]\} with short_address: sa"):
        DaliDeviceSpec.model_validate({"name": "lum-{sa}", "short_address": [0, 2], "points": ["level"]})
    with pytest.raises(ValueError, match=r"devices\[0\] \(lum-64\).short_address: a short address is 0..63"):
        resolve_devices(
            (
                DaliDeviceSpec(
                    name="lum-{sa}", repeat={"sa": (62, 64)}, short_address="sa", points=(Quantity.LEVEL,)
                ),
            )
        )
    with pytest.raises(ValueError, match="listed twice"):
        DaliDeviceSpec(name="lum", short_address=0, points=(Quantity.LEVEL, Quantity.LEVEL))


def test_readme_config_block_validates() -> None:
    readme = (ROOT / "drivers" / "dali" / "README.md").read_text()
    block = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)[0]  # [1]: commands
    config: dict[str, Any] = yaml.safe_load(block)
    (raw,) = config["buses"]
    bus = DaliSerialBus.model_validate(raw)
    devices = resolve_devices(bus.devices)
    plan = plan_reads(devices[0], bus)
    assert len(devices) == 2
    assert f"{plan.queries} queries and {plan.commands} frames" in readme
    assert f"≈ {plan.bus_time(bus):.2f} s of bus time" in readme


def test_example_config_loads_and_checks() -> None:
    path = ROOT / "configs" / "dali-serial.example.yaml"
    cfg = load_config(path)
    (line,) = cfg.buses
    assert line.link.kind == "dali_serial"
    assert [d.name for d in line.devices][:2] == ["lum-00", "lum-01"]
    assert len(line.devices) == 20
    assert all(d.actions is not None and "set_level" in d.actions.actions for d in line.devices)
    r = CliRunner().invoke(app, ["check-config", str(path)])
    assert r.exit_code == 0, r.output
    assert "1 bus(es), 20 device(s), 240 point(s)" in r.output


def test_config_refuses_a_poll_interval_the_line_cannot_serve(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "dali-serial.example.yaml").read_text()
    bad = tmp_path / "agent.yaml"
    bad.write_text(text.replace("poll_interval_s: 300", "poll_interval_s: 2"))
    r = CliRunner().invoke(app, ["check-config", str(bad)])
    assert r.exit_code == 2
    assert "buses[0]: devices[0] (lum-00).poll_interval_s: 2 s is shorter than one read" in r.output
