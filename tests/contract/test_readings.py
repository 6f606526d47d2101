"""A reading that is not good carries no value: the encoder refuses one, the decoder quarantines it."""

from __future__ import annotations

import pytest

from wire.errors import PayloadError
from wire.points import Quality, Reading
from wire.telemetry import BatchKey, decode_batch, encode_batch

KEY = BatchKey("cab-0042", "9f3c2a61d0b7e45a", 1)
T = 1_767_225_600_000


@pytest.mark.parametrize("quality", [Quality.BAD, Quality.OFFLINE])
@pytest.mark.parametrize("value", [0, 0.0, False, "", 41.5])
def test_encode_refuses_a_value_on_a_reading_that_is_not_good(quality: Quality, value: object) -> None:
    rows = [Reading("lum-07", "online", T, True), Reading("lum-07", "active_power", T, value, quality, "x")]  # type: ignore[arg-type]
    with pytest.raises(PayloadError, match=r"^r\[1\]\[2\]: value must be nil when quality is") as info:
        encode_batch(KEY, rows)
    assert "(lum-07.active_power)" in str(info.value)


def test_nil_on_any_quality_and_a_reason_on_a_good_online_pass_both_ways() -> None:
    rows = [
        Reading("lum-07", "active_power", T, None, Quality.OFFLINE, "no response within 1.0 s"),
        Reading("lum-07", "online", T, False, Quality.GOOD, "no response within 1.0 s"),
        Reading("lum-07", "level", T, None),  # a good reading without a value yet
    ]
    assert decode_batch(encode_batch(KEY, rows)).readings == tuple(rows)
