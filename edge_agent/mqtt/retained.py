"""The retained topics of one printer (``status``, ``info``, HA discovery, ``state``) and when
they go out again: state on change (a burst coalesced into one publish) and on a heartbeat,
info and discovery on change, discovery alone when Home Assistant comes back ``online``.

The "due" flags outlive a connection: a change while disconnected is covered by the full
announce on the next connect, which clears them before it reads the providers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NoReturn

import aiomqtt

from contract.codec import encode
from contract.homeassistant import build_discovery
from contract.info import PrinterInfo
from contract.presence import Presence, format_presence
from contract.state import StateSnapshot
from contract.topics import Topics
from edge_agent.mqtt.connection import raise_if_cancelled
from edge_agent.mqtt.metrics import MessageKind, MqttMetrics


async def publish(
    client: aiomqtt.Client,
    metrics: MqttMetrics,
    kind: MessageKind,
    topic: str,
    payload: bytes,
    *,
    retain: bool,
    qos: int = 1,
    timeout_s: float | None = None,
) -> None:
    """Publish and count. At QoS 1 this returns once the broker's PUBACK arrived, or raises
    ``MqttError`` after ``timeout_s`` (default: the client's timeout) or on a lost connection,
    or ``CancelledError`` if aiomqtt swallowed one (see ``raise_if_cancelled``)."""
    await client.publish(topic, payload, qos=qos, retain=retain, timeout=timeout_s)
    metrics.published[kind].inc()
    raise_if_cancelled()


class RetainedPublisher:
    """Publishes the retained topics of ``pid``, reading ``info()`` / ``state()`` each time."""

    def __init__(
        self,
        *,
        pid: str,
        topics: Topics,
        info: Callable[[], PrinterInfo],
        state: Callable[[], StateSnapshot],
        metrics: MqttMetrics,
        homeassistant: bool,
        heartbeat_s: float,
        coalesce_s: float,
    ) -> None:
        self._pid = pid
        self._topics = topics
        self._info = info
        self._state = state
        self._metrics = metrics
        self._homeassistant = homeassistant
        self._heartbeat_s = heartbeat_s
        self._coalesce_s = coalesce_s
        self._state_due = asyncio.Event()
        self._info_wake = asyncio.Event()
        self._info_due = False
        self._discovery_due = False

    def state_changed(self) -> None:
        self._state_due.set()

    def info_changed(self) -> None:
        self._info_due = True
        self._info_wake.set()

    def home_assistant_online(self) -> None:
        """Home Assistant (re)started: it wants the discovery again."""
        if self._homeassistant:
            self._discovery_due = True
            self._info_wake.set()

    async def announce(self, client: aiomqtt.Client) -> None:
        """``online``, info, discovery, state: in this order, each acknowledged by the broker."""
        await self.publish_status(client, Presence.ONLINE)
        await self._publish_info(client, with_info=True)
        await self._publish_state(client)

    async def publish_status(
        self, client: aiomqtt.Client, presence: Presence, *, timeout_s: float | None = None
    ) -> None:
        topic = self._topics.status(self._pid)
        payload = format_presence(presence)
        await publish(
            client, self._metrics, MessageKind.STATUS, topic, payload, retain=True, timeout_s=timeout_s
        )

    async def state_when_due(self, client: aiomqtt.Client) -> NoReturn:
        """Publish state ``coalesce_s`` after a change, or after ``heartbeat_s`` without one."""
        while True:
            try:
                async with asyncio.timeout(self._heartbeat_s):
                    await self._state_due.wait()
            except TimeoutError:
                pass  # heartbeat
            else:
                await asyncio.sleep(self._coalesce_s)
            await self._publish_state(client)

    async def info_when_due(self, client: aiomqtt.Client) -> NoReturn:
        """Publish info and discovery after ``info_changed()``, discovery alone when HA asks."""
        while True:
            await self._info_wake.wait()
            self._info_wake.clear()
            if self._info_due or self._discovery_due:
                await self._publish_info(client, with_info=self._info_due)

    async def _publish_state(self, client: aiomqtt.Client) -> None:
        self._state_due.clear()  # before reading: a change from now on publishes again
        snapshot = encode(self._state())
        topic = self._topics.state(self._pid)
        await publish(client, self._metrics, MessageKind.STATE, topic, snapshot, retain=True)

    async def _publish_info(self, client: aiomqtt.Client, *, with_info: bool) -> None:
        self._info_due = self._discovery_due = False  # before reading, as above
        info = self._info()
        if with_info:
            topic = self._topics.info(self._pid)
            await publish(client, self._metrics, MessageKind.INFO, topic, encode(info), retain=True)
        if self._homeassistant:
            discovery = encode(build_discovery(self._pid, info, topics=self._topics))
            topic = self._topics.ha_discovery(self._pid)
            await publish(client, self._metrics, MessageKind.DISCOVERY, topic, discovery, retain=True)
