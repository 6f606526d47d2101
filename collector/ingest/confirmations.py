"""The confirmations one commit produces: one per (site, gateway, epoch): stored, rejected, conflicting."""

from __future__ import annotations

from wire.confirm import Confirmation, encode_confirmation
from wire.telemetry import BatchKey
from wire.topics import TopicAddress, TopicKind, topic


class ConfirmationSet:
    """Collects outcomes of a commit; :meth:`messages` gives what to publish, QoS 1, not retained.

    A confirmation goes to the confirm topic of the gateway that *published* the message (the topic's
    gateway), under the epoch the payload names.
    """

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str, str], tuple[set[int], set[int], set[int]]] = {}

    def stored(self, address: TopicAddress, key: BatchKey) -> None:
        """In the store, now or from an earlier delivery (a duplicate is confirmed again)."""
        self._group(address, key)[0].add(key.seq)

    def rejected(self, address: TopicAddress, key: BatchKey) -> None:
        """Quarantined: will never be stored, so the gateway must stop re-sending it."""
        self._group(address, key)[1].add(key.seq)

    def conflict(self, address: TopicAddress, key: BatchKey) -> None:
        """Its key is in the store with other content: rejected, and named as a conflict."""
        group = self._group(address, key)
        group[1].add(key.seq)
        group[2].add(key.seq)

    def _group(self, address: TopicAddress, key: BatchKey) -> tuple[set[int], set[int], set[int]]:
        return self._groups.setdefault((address.site, address.gateway, key.epoch), (set(), set(), set()))

    def messages(self) -> list[tuple[str, bytes]]:
        """``(topic, payload)`` per gateway and epoch."""
        return [
            (
                topic(site, gateway, TopicKind.CONFIRM),
                encode_confirmation(
                    Confirmation(epoch, tuple(sorted(ok)), tuple(sorted(rej - ok)), tuple(sorted(cf - ok)))
                ),
            )
            for (site, gateway, epoch), (ok, rej, cf) in self._groups.items()
        ]

    def __len__(self) -> int:
        return len(self._groups)
