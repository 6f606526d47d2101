"""The shared-table Properties and ReasonCode decode and answer exactly as paho's own classes."""

from __future__ import annotations

import pytest
from paho.mqtt import _packet
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from mqtt_session.paho_tables import SharedNamesReasonCode, SharedTableProperties, install

_TEMPLATE = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
_SAMPLES: dict[str, object] = {
    "Byte": 1,
    "Two Byte Integer": 300,
    "Four Byte Integer": 70_000,
    "Variable Byte Integer": 12_345,
    "Binary Data": b"\x00\x01data",
    "UTF-8 Encoded String": "text",
    "UTF-8 String Pair": ("key", "value"),
}
_CASES = [
    (name, packet_type)
    for name, ident in _TEMPLATE.names.items()
    for packet_type in _TEMPLATE.properties[ident][1]
    if packet_type != PacketTypes.WILLMESSAGE  # not a packet paho decodes
]


@pytest.mark.parametrize(("name", "packet_type"), _CASES)
def test_every_property_decodes_as_paho_decodes_it(name: str, packet_type: int) -> None:
    ident = _TEMPLATE.names[name]
    value = _SAMPLES[_TEMPLATE.types[_TEMPLATE.properties[ident][0]]]
    sent = Properties(packet_type)  # type: ignore[no-untyped-call]
    setattr(sent, name.replace(" ", ""), value)
    wire = sent.pack()  # type: ignore[no-untyped-call]
    theirs, ours = Properties(packet_type), SharedTableProperties(packet_type)  # type: ignore[no-untyped-call]
    assert ours.unpack(wire) == (ours, theirs.unpack(wire)[1])  # type: ignore[no-untyped-call]
    assert ours.json() == theirs.json()  # type: ignore[no-untyped-call]
    assert str(ours) == str(theirs)
    assert ours.pack() == wire  # type: ignore[no-untyped-call]
    assert not ours.isEmpty()
    ours.clear()
    theirs.clear()  # type: ignore[no-untyped-call]
    assert ours.isEmpty()
    assert theirs.isEmpty()  # type: ignore[no-untyped-call]


def test_name_lookups_answer_as_paho() -> None:
    ours = SharedTableProperties(PacketTypes.PUBLISH)
    for name, ident in _TEMPLATE.names.items():
        compressed = name.replace(" ", "")
        assert ours.getIdentFromName(compressed) == _TEMPLATE.getIdentFromName(compressed) == ident  # type: ignore[no-untyped-call]
        assert ours.getNameFromIdent(ident) == _TEMPLATE.getNameFromIdent(ident) == name  # type: ignore[no-untyped-call]
    assert ours.getIdentFromName("NoSuchProperty") == _TEMPLATE.getIdentFromName("NoSuchProperty") == -1  # type: ignore[no-untyped-call]
    assert ours.getNameFromIdent(99) is _TEMPLATE.getNameFromIdent(99) is None  # type: ignore[no-untyped-call]
    ours.SubscriptionIdentifier = 7  # paho's checks still apply
    with pytest.raises(Exception, match="does not apply"):
        ours.SessionExpiryInterval = 5


def test_the_shared_tables_are_not_written_by_use() -> None:
    before = (dict(_TEMPLATE.names), dict(_TEMPLATE.properties))
    props = SharedTableProperties(PacketTypes.PUBLISH)
    props.SubscriptionIdentifier = 3
    props.SubscriptionIdentifier = 4  # allowed more than once: a list
    assert getattr(props, "SubscriptionIdentifier") == [3, 4]  # noqa: B009 (set by paho's __setattr__)
    props.clear()
    assert (props.names, props.properties) == before


@pytest.mark.parametrize(
    ("packet_type", "identifier"),
    [
        (packet_type, identifier)
        for identifier, names in ReasonCode.names.items()
        for packet_types in names.values()
        for packet_type in packet_types
    ],
)
def test_every_reason_code_reads_as_paho_reads_it(packet_type: int, identifier: int) -> None:
    theirs, ours = (
        ReasonCode(packet_type, identifier=identifier),
        SharedNamesReasonCode(packet_type, identifier=identifier),
    )
    assert (ours.value, ours.getName(), str(ours), repr(ours)) == (
        theirs.value,
        theirs.getName(),
        str(theirs),
        repr(theirs),
    )
    assert ours == theirs
    assert ours.is_failure == theirs.is_failure
    unpacked = ReasonCode(packet_type, identifier=identifier)
    decoded = SharedNamesReasonCode(packet_type, identifier=identifier)
    unpacked.unpack(bytes([identifier]))
    decoded.unpack(bytes([identifier]))
    assert decoded == unpacked


def test_default_reason_codes_as_paho() -> None:
    for packet_type in (PacketTypes.PUBACK, PacketTypes.CONNACK, PacketTypes.DISCONNECT):
        assert SharedNamesReasonCode(packet_type).getName() == ReasonCode(packet_type).getName()


def test_installed_in_pahos_decoder() -> None:
    assert install()
    assert install()  # idempotent
    assert _packet.Properties is SharedTableProperties  # type: ignore[attr-defined]
    assert _packet.ReasonCode is SharedNamesReasonCode  # type: ignore[attr-defined]
