"""The MQTT session both services share: paho-mqtt driven by the asyncio loop.

Connect, reconnect with capped jittered backoff, last will, persistent sessions, routing of topic
filters to handlers (aiomqtt's shape), QoS-1 publish tracking (one future per message id), manual
acknowledgement after a commit, TLS settings and credentials. It knows nothing of streetgate's topics
or payloads: those are the contract (:mod:`wire`).

One noun per module: :mod:`.link` (the session), :mod:`.router` and :mod:`.topic_filter` (routing),
:mod:`.tracking` (PUBACK futures), :mod:`.loop_bridge` (paho's sockets on the asyncio loop),
:mod:`.paho_tables` (paho's MQTT 5 tables built once, not per decoded packet),
:mod:`.backoff`, :mod:`.messages` (will, subscription, message, errors), :mod:`.security`.
"""

from mqtt_session.backoff import Backoff
from mqtt_session.link import MqttLink
from mqtt_session.messages import Connectivity, Message, NotConnected, PublishRefused, Subscription, Will
from mqtt_session.router import Handler, Router
from mqtt_session.security import Credentials, TlsSettings
from mqtt_session.topic_filter import TopicFilter

__all__ = [
    "Backoff",
    "Connectivity",
    "Credentials",
    "Handler",
    "Message",
    "MqttLink",
    "NotConnected",
    "PublishRefused",
    "Router",
    "Subscription",
    "TlsSettings",
    "TopicFilter",
    "Will",
]
