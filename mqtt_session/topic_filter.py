"""MQTT topic filters: checked when made, matched against the topic of each received message.

``+`` matches one level, ``#`` (last, alone in its level) the rest including the parent level; a
filter starting with a wildcard does not match a topic starting with ``$`` (MQTT 5, 4.7.2). A shared
subscription ``$share/<group>/<filter>`` receives topics that match ``<filter>``: it is matched by that.
"""

from __future__ import annotations

from dataclasses import dataclass

SHARE_PREFIX = "$share"


@dataclass(frozen=True, slots=True)
class TopicFilter:
    text: str  # as subscribed, with the share prefix if any
    share_group: str | None
    levels: tuple[str, ...]  # the filter the topics are matched against

    @classmethod
    def parse(cls, text: str) -> TopicFilter:
        if not text or "\0" in text:
            raise ValueError(f"topic filter {text!r}: empty or holds a NUL character")
        levels = text.split("/")
        group: str | None = None
        if levels[0] == SHARE_PREFIX:
            if len(levels) < 3 or not levels[1] or any(c in levels[1] for c in "+#"):
                raise ValueError(f"topic filter {text!r}: a shared subscription is $share/<group>/<filter>")
            group, levels = levels[1], levels[2:]
            if levels == [""]:
                raise ValueError(f"topic filter {text!r}: no filter after the share group")
        for i, level in enumerate(levels):
            if "#" in level and (level != "#" or i != len(levels) - 1):
                raise ValueError(f"topic filter {text!r}: '#' must be alone in the last level")
            if "+" in level and level != "+":
                raise ValueError(f"topic filter {text!r}: '+' must be alone in its level")
        return cls(text, group, tuple(levels))

    def matches(self, topic: str) -> bool:
        parts = topic.split("/")
        if topic.startswith("$") and self.levels[0] in ("+", "#"):
            return False
        for i, level in enumerate(self.levels):
            if level == "#":
                return True
            if i >= len(parts) or (level != "+" and level != parts[i]):
                return False
        return len(parts) == len(self.levels)
