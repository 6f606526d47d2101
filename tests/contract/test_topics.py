"""Command topics (wire.topics): a gateway's command topic and its result topic never overlap."""

from __future__ import annotations

from mqtt_session.topic_filter import TopicFilter
from wire.topics import TopicAddress, TopicKind, parse_topic, subscription, topic

CMD = topic("dijon-centre", "cab-0042", TopicKind.COMMAND)
RESULT = topic("dijon-centre", "cab-0042", TopicKind.COMMAND_RESULT)


def test_command_topics() -> None:
    assert CMD == "streetgate/v1/dijon-centre/cab-0042/cmd"
    assert RESULT == "streetgate/v1/dijon-centre/cab-0042/cmd/result"
    assert parse_topic(CMD) == TopicAddress("dijon-centre", "cab-0042", TopicKind.COMMAND)
    assert parse_topic(RESULT) == TopicAddress("dijon-centre", "cab-0042", TopicKind.COMMAND_RESULT)


def test_a_gateway_hears_commands_only_and_the_centre_results_only() -> None:
    gateway, centre = TopicFilter.parse(CMD), TopicFilter.parse(subscription(TopicKind.COMMAND_RESULT))
    assert gateway.matches(CMD)
    assert not gateway.matches(RESULT)
    assert centre.matches(RESULT)
    assert not centre.matches(CMD)
    assert not gateway.matches(topic("dijon-centre", "cab-0043", TopicKind.COMMAND))
