"""Routing of received messages to handlers, one handler per topic filter (aiomqtt's shape).

Each route's subscription carries an MQTT 5 subscription identifier derived from its filter (stable
across runs), and the broker tags each message with the identifiers of the subscriptions it came by. A
message goes to the routes so tagged whose filter matches its topic: with overlapping filters Mosquitto
sends one copy per subscription, and each route still sees each message once. A message without tags
(a broker that does not send them) goes to every route whose filter matches.

A message no route takes is counted in ``unrouted`` and logged (WARNING the first time, DEBUG after):
it came by a subscription a persistent session kept from an earlier run. A handler that raises is
counted in ``handler_errors`` and logged (ERROR the first time per route, DEBUG after); the other routes
and the session carry on.

Handlers run on the event loop, inside paho's read callback: they must not block or await.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from mqtt_session.messages import Message, Subscription
from mqtt_session.topic_filter import TopicFilter

log = logging.getLogger(__name__)

Handler = Callable[[Message], None]
MAX_SUBSCRIPTION_ID = 268_435_455  # MQTT 5, 3.8.2.1.2: a variable byte integer of at most 4 bytes


@dataclass(frozen=True, slots=True)
class Route:
    subscription: Subscription
    topic_filter: TopicFilter
    handler: Handler
    identifier: int  # the subscription identifier


class Router:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._failing: set[str] = set()  # routes whose handler error was logged at ERROR
        self._subscribing: dict[int, str] = {}  # SUBSCRIBE message id -> filter, until its SUBACK
        self.unrouted = 0
        self.handler_errors = 0

    def add(self, filter: str, handler: Handler, qos: int = 1) -> Route:
        """Route messages matching ``filter`` to ``handler``; one handler per filter."""
        if filter in self._routes:
            raise ValueError(f"topic filter {filter!r} has a route already")
        if qos not in (0, 1, 2):
            raise ValueError(f"topic filter {filter!r}: QoS {qos} is not 0, 1 or 2")
        identifier = zlib.crc32(filter.encode()) % MAX_SUBSCRIPTION_ID + 1
        taken = {r.identifier for r in self._routes.values()}
        while identifier in taken:  # two filters with one checksum: rare, and only this run differs
            identifier = identifier % MAX_SUBSCRIPTION_ID + 1
        route = Route(Subscription(filter, qos), TopicFilter.parse(filter), handler, identifier)
        self._routes[filter] = route
        return route

    @property
    def routes(self) -> list[Route]:
        return list(self._routes.values())

    @property
    def pending(self) -> int:
        """SUBSCRIBEs of this connection still waiting for their SUBACK."""
        return len(self._subscribing)

    def subscribing(self, mid: int, filter: str) -> None:
        self._subscribing[mid] = filter

    def forget_pending(self) -> None:
        """A new connection: SUBACKs of the old one never come."""
        self._subscribing.clear()

    def subscribed(self, mid: int, failures: list[str]) -> None:
        """The SUBACK of ``mid`` came; ``failures`` are its failure reason codes."""
        filter = self._subscribing.pop(mid, "?")
        for reason in failures:  # nothing will arrive on it: a person must look at the broker's ACL
            log.error("the broker refused the subscription %s: %s", filter, reason)

    def dispatch(self, message: Message) -> int:
        """Hand ``message`` to each matching route; returns how many routes took it."""
        taken = 0
        tags = message.subscription_ids
        for filter, route in self._routes.items():
            if (tags and route.identifier not in tags) or not route.topic_filter.matches(message.topic):
                continue
            taken += 1
            try:
                route.handler(message)
            except Exception:
                self.handler_errors += 1
                first = filter not in self._failing
                self._failing.add(filter)
                log.log(
                    logging.ERROR if first else logging.DEBUG,
                    "handler of %s failed on a message on %s%s",
                    filter,
                    message.topic,
                    " (further failures of this route at DEBUG)" if first else "",
                    exc_info=True,
                )
        if not taken:
            self.unrouted += 1
            (log.warning if self.unrouted == 1 else log.debug)(
                "no route for a message on %s (%d so far); dropped", message.topic, self.unrouted
            )
        return taken
