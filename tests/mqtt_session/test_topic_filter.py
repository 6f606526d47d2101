"""Topic filters: MQTT wildcard matching, shared subscriptions matched by the filter after the prefix."""

from __future__ import annotations

import pytest

from mqtt_session import TopicFilter


@pytest.mark.parametrize(
    ("filter", "topic", "matches"),
    [
        ("a/b/c", "a/b/c", True),
        ("a/b/c", "a/b", False),
        ("a/b", "a/b/c", False),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/x/c", True),
        ("a/+/c", "a/x/y/c", False),
        ("a/+", "a/", True),  # an empty level is a level
        ("a/#", "a", True),  # '#' includes the parent level
        ("a/#", "a/b/c", True),
        ("a/#", "ab", False),
        ("#", "x/y", True),
        ("#", "$SYS/broker/uptime", False),  # wildcards at the start never match '$' topics
        ("+/uptime", "$SYS/uptime", False),
        ("$SYS/#", "$SYS/broker/uptime", True),
        ("streetgate/v1/+/+/telemetry", "streetgate/v1/north/cab-1/telemetry", True),
        ("streetgate/v1/+/+/telemetry", "streetgate/v1/north/cab-1/confirm", False),
        ("$share/collectors/streetgate/v1/+/+/telemetry", "streetgate/v1/n/g/telemetry", True),
        ("$share/c/streetgate/v1/+/+/telemetry", "$share/c/streetgate/v1/n/g/telemetry", False),
        ("$share/g/#", "a/b", True),
    ],
)
def test_matches(filter: str, topic: str, matches: bool) -> None:
    assert TopicFilter.parse(filter).matches(topic) is matches


def test_share_group_is_split_off() -> None:
    f = TopicFilter.parse("$share/collectors/streetgate/v1/+/+/telemetry")
    assert f.share_group == "collectors"
    assert f.levels == ("streetgate", "v1", "+", "+", "telemetry")


@pytest.mark.parametrize(
    ("filter", "reason"),
    [
        ("", "empty"),
        ("a/#/b", "'#' must be alone in the last level"),
        ("a/b#", "'#' must be alone in the last level"),
        ("a/b+/c", "'+' must be alone in its level"),
        ("$share/g", "$share/<group>/<filter>"),
        ("$share//a", "$share/<group>/<filter>"),
        ("$share/g+/a", "$share/<group>/<filter>"),
        ("$share/g/", "no filter after the share group"),
    ],
)
def test_bad_filters_are_refused(filter: str, reason: str) -> None:
    with pytest.raises(ValueError, match="topic filter") as info:
        TopicFilter.parse(filter)
    assert reason in str(info.value)
