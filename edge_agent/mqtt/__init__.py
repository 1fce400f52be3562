"""The agent's MQTT link: one ``MqttLink`` per broker (the cloud, optionally a local Home Assistant).

Modules::

    MqttLink          link.py         lifecycle, announce on connect, per-connection tasks
    pump_outbox       outbox_pump.py  outbox rows → ``evt`` at QoS 1, marked in ``seq`` order
    MqttMetrics       metrics.py      Prometheus counters and gauges labelled by link name
    Backoff           backoff.py      jittered reconnect delays (pure)
    BrokerAddress     connection.py   URL parsing and the aiomqtt client (the seam to the library)
    RetainedPublisher retained.py     status, info, HA discovery, state: announce, coalesce, heartbeat
    Outgoing          queues.py       ack and tele queues, the command inbox (outlive a connection)
"""

from edge_agent.mqtt.backoff import Backoff
from edge_agent.mqtt.connection import BrokerAddress, parse_broker_url
from edge_agent.mqtt.link import MqttLink
from edge_agent.mqtt.metrics import MessageKind, MqttMetrics
from edge_agent.mqtt.queues import CommandHandler

__all__ = [
    "Backoff",
    "BrokerAddress",
    "CommandHandler",
    "MessageKind",
    "MqttLink",
    "MqttMetrics",
    "parse_broker_url",
]
