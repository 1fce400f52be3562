"""Prometheus metrics of one MQTT link, labelled ``broker=<link name>``.

The metric families are registered once per ``CollectorRegistry``; each link holds the children
for its own broker name, so a cloud link and a Home Assistant link can share one registry::

    edge_mqtt_connected{broker}                      1 while connected
    edge_mqtt_reconnects_total{broker}               successful connects after the first one
    edge_mqtt_published_total{broker,kind}           messages the broker took (QoS 1: PUBACKed)
    edge_mqtt_dropped_total{broker,kind}             tele dropped while disconnected, acks
                                                     dropped from a full buffer
    edge_mqtt_commands_received_total{broker}        messages handed to the command handler
    edge_mqtt_command_handler_errors_total{broker}   handler calls that raised
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge


class MessageKind(StrEnum):
    """What a published message was (the ``kind`` label)."""

    STATUS = "status"
    INFO = "info"
    DISCOVERY = "discovery"
    STATE = "state"
    TELE = "tele"
    EVT = "evt"
    ACK = "ack"


DROPPABLE_KINDS = (MessageKind.TELE, MessageKind.ACK)


@dataclass(frozen=True, slots=True)
class _Families:
    connected: Gauge
    reconnects: Counter
    published: Counter
    dropped: Counter
    commands: Counter
    command_errors: Counter


_families: weakref.WeakKeyDictionary[CollectorRegistry, _Families] = weakref.WeakKeyDictionary()
_families_lock = threading.Lock()


def _families_for(registry: CollectorRegistry) -> _Families:
    with _families_lock:
        families = _families.get(registry)
        if families is None:
            families = _Families(
                connected=Gauge(
                    "edge_mqtt_connected", "1 while connected to the broker", ["broker"], registry=registry
                ),
                reconnects=Counter(
                    "edge_mqtt_reconnects",
                    "Successful connects after the first one",
                    ["broker"],
                    registry=registry,
                ),
                published=Counter(
                    "edge_mqtt_published",
                    "Messages the broker accepted, by kind",
                    ["broker", "kind"],
                    registry=registry,
                ),
                dropped=Counter(
                    "edge_mqtt_dropped",
                    "Messages dropped without sending, by kind",
                    ["broker", "kind"],
                    registry=registry,
                ),
                commands=Counter(
                    "edge_mqtt_commands_received", "Inbound command messages", ["broker"], registry=registry
                ),
                command_errors=Counter(
                    "edge_mqtt_command_handler_errors",
                    "Command handler calls that raised",
                    ["broker"],
                    registry=registry,
                ),
            )
            _families[registry] = families
        return families


@dataclass(frozen=True, slots=True)
class MqttMetrics:
    """The metrics of one link (one broker name)."""

    connected: Gauge
    reconnects: Counter
    published: Mapping[MessageKind, Counter]
    dropped: Mapping[MessageKind, Counter]
    commands: Counter
    command_errors: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry, broker_name: str) -> MqttMetrics:
        """The metrics of the link called ``broker_name``, registered in ``registry``."""
        families = _families_for(registry)
        return cls(
            connected=families.connected.labels(broker=broker_name),
            reconnects=families.reconnects.labels(broker=broker_name),
            published={
                kind: families.published.labels(broker=broker_name, kind=kind) for kind in MessageKind
            },
            dropped={
                kind: families.dropped.labels(broker=broker_name, kind=kind) for kind in DROPPABLE_KINDS
            },
            commands=families.commands.labels(broker=broker_name),
            command_errors=families.command_errors.labels(broker=broker_name),
        )
