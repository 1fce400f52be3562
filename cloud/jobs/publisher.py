"""The farm queue's one MQTT client: publishes commands on ``<prefix>/<pid>/cmd/<verb>`` (QoS 1).

``run()`` keeps one aiomqtt connection up (jittered exponential backoff between attempts) until
cancelled. ``publish()`` raises ``NotConnected`` while there is none, or when the broker does not
confirm in time — the caller leaves the command pending and the retry loop sends it later, so a
broker outage delays commands but never loses them. It logs in as the ingest user
(``mqtt_ingest_username``), which the generated ACL allows to write ``fleet/v1/+/cmd/#``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import uuid
from typing import Final
from urllib.parse import urlsplit

import aiomqtt

from contract.codec import encode
from contract.commands import CommandEnvelope
from contract.topics import Topics

log = logging.getLogger(__name__)

RECONNECT_MIN_S: Final = 0.5
RECONNECT_MAX_S: Final = 30.0
KEEPALIVE_S: Final = 30
PUBLISH_TIMEOUT_S: Final = 10.0


class NotConnected(Exception):
    """No broker connection now (or the publish was not confirmed); try again later."""


class CommandPublisher:
    def __init__(self, url: str, *, username: str, password: str, topics: Topics) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._tls = parts.scheme in ("mqtts", "wss")
        self._websockets = parts.scheme in ("ws", "wss")
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._username = username
        self._password = password
        self._topics = topics
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.identifier = f"{username}-jobs-{uuid.uuid4().hex[:8]}"

    async def run(self) -> None:
        """Stay connected until cancelled."""
        delay_s = RECONNECT_MIN_S
        while True:
            try:
                async with aiomqtt.Client(
                    self._host,
                    self._port,
                    identifier=self.identifier,
                    username=self._username,
                    password=self._password,
                    keepalive=KEEPALIVE_S,
                    timeout=PUBLISH_TIMEOUT_S,
                    transport="websockets" if self._websockets else "tcp",
                    tls_context=ssl.create_default_context() if self._tls else None,
                ) as client:
                    self._client = client
                    self.connected.set()
                    delay_s = RECONNECT_MIN_S
                    log.info("job publisher connected to %s:%d", self._host, self._port)
                    async for _ in client.messages:  # no subscriptions: returns only when the link drops
                        pass
            except aiomqtt.MqttError as exc:
                log.warning("job publisher: broker %s:%d: %s", self._host, self._port, exc)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay_s * random.uniform(0.5, 1.0))
            delay_s = min(RECONNECT_MAX_S, delay_s * 2)

    async def publish(self, pid: str, command: CommandEnvelope) -> None:
        """Send ``command`` to printer ``pid`` (QoS 1, not retained); ``NotConnected`` when it cannot."""
        client = self._client
        if client is None or command.verb is None:
            raise NotConnected("no broker connection")
        topic = self._topics.cmd(pid, command.verb)
        try:
            await client.publish(topic, encode(command), qos=1, retain=False, timeout=PUBLISH_TIMEOUT_S)
        except aiomqtt.MqttError as exc:
            raise NotConnected(str(exc)) from exc
