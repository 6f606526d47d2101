"""A program set is valid or refused as one, and a refusal names the field that is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from configfile.loader import parse
from edge_agent.config.lighting import LightingConfig
from lighting.model import ProgramSet
from tests.lighting.sets import program_set


def refused(**changes: Any) -> str:
    with pytest.raises(ValidationError) as info:
        program_set(**changes)
    return str(info.value)


def test_the_usual_set_is_valid_and_assigns_through_groups() -> None:
    pset = program_set()
    assert pset.calendar_of("lum-01") == "streets"
    assert pset.calendar_of("lum-09") == "streets"
    assert pset.calendar_of("lum-02") is None
    assert pset.devices() == {"lum-00", "lum-01", "lum-09"}


@pytest.mark.parametrize(
    ("step", "says"),
    [
        ({"at": "24:00", "level": 50}, 'neither "HH:MM"'),
        ({"at": "dusk", "level": 50}, 'neither "HH:MM"'),
        ({"at": "22:00", "level": 101}, "less than or equal to 100"),
        ({"at": "22:00", "offset_min": 5, "level": 50}, "offset_min is for sunset/sunrise"),
        ({"at": "sunset", "offset_min": 600, "level": 50}, "offset_min"),
        ({"at": "sunset", "level": 50, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_step_names_itself(step: dict[str, Any], says: str) -> None:
    text = refused(programs={"p": {"steps": [step]}}, calendars={"c": {"default_program": "p"}},
                   assign=[{"calendar": "c", "devices": ["x"]}])  # fmt: skip
    assert "programs.p.steps.0" in text
    assert says in text


def test_references_are_checked_with_their_path() -> None:
    text = refused(
        calendars={"streets": {"rules": [{"program": "nope", "weekdays": [1]}], "default_program": "gone"}},
        assign=[{"calendar": "streets", "groups": ["rue-z"]}, {"calendar": "other", "devices": ["a"]}],
    )
    assert "calendars.streets.rules.0.program: no program 'nope'" in text
    assert "calendars.streets.default_program: no program 'gone'" in text
    assert "assign.0.groups: no group 'rue-z'" in text
    assert "assign.1.calendar: no calendar 'other'" in text


def test_a_device_has_one_calendar() -> None:
    text = refused(
        calendars={"streets": {"default_program": "normal"}, "park": {"default_program": "festive"}},
        assign=[{"calendar": "streets", "groups": ["rue-a"]}, {"calendar": "park", "devices": ["lum-01"]}],
    )
    assert "device 'lum-01' has two calendars (streets, park)" in text


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"program": "normal", "from": "12-24"}, "needs both from and to"),
        ({"program": "normal", "from": "13-01", "to": "12-31"}, 'neither "MM-DD"'),
        ({"program": "normal", "from": "02-30", "to": "03-01"}, 'neither "MM-DD"'),
        ({"program": "normal", "from": "2027-01-02", "to": "2027-01-01"}, "is before from"),
        ({"program": "normal", "from": "12-24", "to": "2027-01-01"}, "both MM-DD or both"),
        ({"program": "normal", "occurrence": "last"}, "occurrence needs weekdays"),
        ({"program": "normal", "weekdays": [0]}, "weekdays.0"),
    ],
)
def test_a_bad_rule_says_why(rule: dict[str, Any], says: str) -> None:
    text = refused(calendars={"streets": {"rules": [rule]}})
    assert "calendars.streets.rules.0" in text
    assert says in text


def test_the_version_and_a_program_are_required() -> None:
    assert "version" in refused(version=0)
    assert "programs" in refused(programs={})


def test_the_shipped_example_is_a_valid_set() -> None:
    path = Path(__file__).resolve().parents[2] / "configs" / "lighting" / "program.example.yaml"
    pset = ProgramSet.model_validate(parse(path.read_text(encoding="utf-8"), path))
    assert pset.calendar_of("lum-04") == "crossings"
    assert pset.calendar_of("lum-00") == "streets"


def test_the_readme_program_file_is_a_valid_set() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8").split("## Street lighting", 1)[1]
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    pset = ProgramSet.model_validate(parse(block, readme))
    assert pset.version == 7
    assert pset.calendar_of("lum-02") == "streets"


def test_the_agent_examples_commented_lighting_section_is_valid() -> None:
    path = Path(__file__).resolve().parents[2] / "configs" / "agent.example.yaml"
    lines = path.read_text(encoding="utf-8").split("# lighting:", 1)[1].split("# secrets:", 1)[0].splitlines()
    body = "\n".join(line.removeprefix("#").split("  #", 1)[0].rstrip() for line in lines[1:])
    cfg = LightingConfig.model_validate(parse(body, path))
    assert cfg.timezone == "Europe/Paris"
    assert cfg.faults.cycling_max_starts == 4
