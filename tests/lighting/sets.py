"""Program sets the lighting tests share, and the places they run at."""

from __future__ import annotations

from typing import Any

from lighting.model import ProgramSet
from lighting.sun import Place

DIJON = Place(47.32, 5.04, "Europe/Paris")
LONGYEARBYEN = Place(78.22, 15.65, "Arctic/Longyearbyen")


def program_set(**changes: Any) -> ProgramSet:
    """A city's usual set: full at sunset, 80 % at 22:00, 50 % from 00:30, off 15 min after sunrise;
    at Christmas and on the last Sunday of the month 100 % until 01:00."""
    raw: dict[str, Any] = {
        "version": 1,
        "default_level": 100,
        "programs": {
            "normal": {
                "steps": [
                    {"at": "sunset", "level": 100, "ramp_s": 2},
                    {"at": "22:00", "level": 80, "ramp_s": 60},
                    {"at": "00:30", "level": 50, "ramp_s": 60},
                    {"at": "sunrise", "offset_min": 15, "level": 0},
                ]
            },
            "festive": {
                "steps": [
                    {"at": "sunset", "offset_min": -10, "level": 100},
                    {"at": "01:00", "level": 60},
                    {"at": "sunrise", "level": 0},
                ]
            },
        },
        "calendars": {
            "streets": {
                "rules": [
                    {"program": "festive", "from": "12-24", "to": "12-26"},
                    {"program": "festive", "weekdays": [7], "occurrence": "last"},
                ],
                "default_program": "normal",
            }
        },
        "groups": {"rue-a": ["lum-00", "lum-01"]},
        "assign": [{"calendar": "streets", "groups": ["rue-a"], "devices": ["lum-09"]}],
    }
    raw.update(changes)
    return ProgramSet.model_validate(raw)
