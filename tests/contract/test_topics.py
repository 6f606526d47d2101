"""Topics (wire.topics): a gateway's command topic and its result topic never overlap, nor its telemetry
and backlog topics."""

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


def test_backlog_topic_round_trip_and_no_overlap_with_telemetry() -> None:
    backlog = topic("dijon-centre", "cab-0042", TopicKind.BACKLOG)
    telemetry = topic("dijon-centre", "cab-0042", TopicKind.TELEMETRY)
    assert backlog == "streetgate/v1/dijon-centre/cab-0042/telemetry/backlog"
    assert parse_topic(backlog) == TopicAddress("dijon-centre", "cab-0042", TopicKind.BACKLOG)
    assert parse_topic(telemetry).kind is TopicKind.TELEMETRY
    live = TopicFilter.parse(subscription(TopicKind.TELEMETRY))
    late = TopicFilter.parse(subscription(TopicKind.BACKLOG))
    assert live.matches(telemetry)
    assert not live.matches(backlog)  # a collector's two sessions never take each other's messages
    assert late.matches(backlog)
    assert not late.matches(telemetry)
    assert subscription(TopicKind.BACKLOG, "north", "collectors") == (
        "$share/collectors/streetgate/v1/north/+/telemetry/backlog"
    )
