"""The ``lighting.faults`` config section: defaults, and a value out of range refused with its field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from edge_agent.config.faults import FaultsConfig

LIGHTING_DOC = Path(__file__).resolve().parents[2] / "docs" / "lighting.md"


def test_an_empty_section_takes_the_defaults() -> None:
    cfg = FaultsConfig.model_validate({})
    assert (cfg.dimming_tolerance_pct, cfg.ramp_grace_s, cfg.supply_min_v) == (10.0, 120.0, 170.0)
    assert (cfg.cycling_max_starts, cfg.cycling_window_min, cfg.comm_failure_after_polls) == (4, 60.0, 2)
    assert cfg.switched_mains is False


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"dimming_tolerance_pct": 0}, "dimming_tolerance_pct"),
        ({"ramp_grace_s": -1}, "ramp_grace_s"),
        ({"cycling_max_starts": 0}, "cycling_max_starts"),
        ({"cycling_window_min": 0}, "cycling_window_min"),
        ({"supply_min_v": 0}, "supply_min_v"),
        ({"comm_failure_after_polls": 0}, "comm_failure_after_polls"),
        ({"switched_mains": "sometimes"}, "switched_mains"),
        ({"cycling_max": 3}, "cycling_max"),  # a misspelt key is refused, not ignored
    ],
)
def test_a_bad_value_names_its_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        FaultsConfig.model_validate(raw)
    (problem,) = err.value.errors()
    assert problem["loc"] == (field,)


def test_the_documented_section_is_valid_and_shows_the_defaults() -> None:
    section = LIGHTING_DOC.read_text().split("## Faults at the edge", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block is not None
    raw = yaml.safe_load(block.group(1))
    assert FaultsConfig.model_validate(raw["lighting"]["faults"]) == FaultsConfig()
