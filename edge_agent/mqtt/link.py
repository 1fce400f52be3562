"""``MqttLink``: the agent's connection to one broker, kept alive until cancelled.

Lifecycle of ``run()``::

    run ─┬─ command inbox worker (lives across connections: a disconnect never interrupts a handler)
         └─ loop: connect ─→ announce ─→ serve ─→ (connection lost) ─→ jittered backoff ─→ connect ...

    announce = subscribe cmd (+ homeassistant/status), retained online, info, HA discovery, state
    serve    = one TaskGroup per connection: receive, state (coalesced + heartbeat), info and
               discovery (retained.py), acks (in order), tele (QoS 0) (queues.py), outbox pump
               (QoS 1, marked in seq order; outbox_pump.py)

Errors: ``aiomqtt.MqttError`` / ``OSError`` end one connection and are retried (logged once per
outage); a command handler's exception is logged and counted; anything else is a bug and
propagates. On cancel the link publishes a retained ``offline`` and disconnects cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import aiomqtt
from prometheus_client import CollectorRegistry

from contract.acks import Ack
from contract.codec import encode
from contract.errors import ContractError
from contract.info import PrinterInfo
from contract.presence import Presence, parse_presence
from contract.state import StateSnapshot
from contract.telemetry import Telemetry
from contract.topics import DEFAULT_TOPICS, Topics, validate_pid
from edge_agent.mqtt.backoff import Backoff
from edge_agent.mqtt.connection import (
    BrokerAddress,
    ConnectOptions,
    new_client,
    parse_broker_url,
    raise_if_cancelled,
)
from edge_agent.mqtt.metrics import MessageKind, MqttMetrics
from edge_agent.mqtt.outbox_pump import pump_outbox
from edge_agent.mqtt.queues import CommandHandler, CommandInbox, Outgoing
from edge_agent.mqtt.retained import RetainedPublisher, publish
from edge_agent.store.outbox import Outbox

log = logging.getLogger(__name__)

LINK_ERRORS = (aiomqtt.MqttError, OSError)
"""What ends one connection (and is retried) rather than the link."""
GOODBYE_TIMEOUT_S = 2.0
"""How long a shutdown waits for the broker to take the retained ``offline``."""


@dataclass(slots=True)
class _Outage:
    since_s: float
    failed_attempts: int = 0


class MqttLink:
    """One broker connection; ``name`` labels its logs and metrics (``cloud``, ``homeassistant``).

    ``events=False`` leaves the outbox alone (only one link may pump it: a row is marked once);
    ``ha_commands_only=True`` subscribes to ``cmd/ha`` instead of ``cmd/#`` (a local Home
    Assistant broker should not be able to send cloud commands). ``backoff``,
    ``state_coalesce_s``, ``timeout_s`` (connect and PUBACK waits) and the buffer sizes are there
    for tests and tuning.
    """

    def __init__(
        self,
        *,
        url: str,
        pid: str,
        outbox: Outbox,
        on_command: CommandHandler,
        info: Callable[[], PrinterInfo],
        state: Callable[[], StateSnapshot],
        topics: Topics = DEFAULT_TOPICS,
        username: str | None = None,
        password: str | None = None,
        keepalive_s: int = 30,
        heartbeat_s: float = 60.0,
        homeassistant: bool = True,
        metrics: MqttMetrics | None = None,
        name: str = "cloud",
        events: bool = True,
        ha_commands_only: bool = False,
        backoff: Backoff | None = None,
        state_coalesce_s: float = 0.05,
        timeout_s: float = 10.0,
        outbox_window: int = 100,
        ack_buffer: int = 1000,
        tele_buffer: int = 32,
        command_buffer: int = 1000,
    ) -> None:
        if (
            heartbeat_s <= 0
            or state_coalesce_s < 0
            or timeout_s <= 0
            or keepalive_s <= 0
            or outbox_window < 1
        ):
            raise ValueError(
                "MqttLink needs heartbeat_s, timeout_s, keepalive_s > 0, state_coalesce_s >= 0 and "
                "outbox_window >= 1"
            )
        self.name = name
        self._pid = validate_pid(pid)
        self._topics = topics
        parsed = parse_broker_url(url)
        self.address = BrokerAddress(
            parsed.host,
            parsed.port,
            parsed.tls,
            username if username is not None else parsed.username,
            password if password is not None else parsed.password,
        )
        self._options = ConnectOptions.build(
            self.address,
            client_id=self._pid,
            will_topic=topics.status(self._pid),
            keepalive_s=keepalive_s,
            timeout_s=timeout_s,
            max_inflight=outbox_window,
        )
        self._outbox = outbox
        self._homeassistant = homeassistant
        self._events = events
        self._ha_commands_only = ha_commands_only
        self._outbox_window = outbox_window
        self._backoff = backoff or Backoff()
        self.metrics = metrics or MqttMetrics.create(CollectorRegistry(auto_describe=True), name)

        self._connected = False
        self._connects = 0
        self._outage: _Outage | None = None
        self._retained = RetainedPublisher(
            pid=self._pid,
            topics=topics,
            info=info,
            state=state,
            metrics=self.metrics,
            homeassistant=homeassistant,
            heartbeat_s=heartbeat_s,
            coalesce_s=state_coalesce_s,
        )
        self._outbox_wake = asyncio.Event()
        self._acks: Outgoing[Ack] = Outgoing(ack_buffer, self.metrics.dropped[MessageKind.ACK])
        self._tele: Outgoing[Telemetry] = Outgoing(tele_buffer, self.metrics.dropped[MessageKind.TELE])
        self._inbox = CommandInbox(on_command, self.metrics.command_errors, limit=command_buffer, name=name)

    # -- the public surface ------------------------------------------------------------------

    @property
    def pid(self) -> str:
        """The printer id: also the client id."""
        return self._pid

    @property
    def connected(self) -> bool:
        """True from the broker's CONNACK until the connection is seen to be gone."""
        return self._connected

    def state_changed(self) -> None:
        """Publish the retained state soon; a burst within ``state_coalesce_s`` is one publish."""
        self._retained.state_changed()

    def info_changed(self) -> None:
        """Publish the retained info (and HA discovery) again."""
        self._retained.info_changed()

    def outbox_changed(self) -> None:
        """New rows in the outbox: wake the pump."""
        self._outbox_wake.set()

    def publish_tele(self, sample: Telemetry) -> None:
        """Send a sample at QoS 0; dropped (and counted) while disconnected or when far behind."""
        if self._connected:
            self._tele.put(sample)
        else:
            self.metrics.dropped[MessageKind.TELE].inc()

    async def send_ack(self, ack: Ack) -> None:
        """Queue an ack. Acks go out at QoS 1 in call order and wait in a bounded buffer while
        disconnected; when it is full the oldest is dropped and counted (the cloud re-sends the
        command and gets the stored ack). Returns once queued, not once delivered; an ack in
        flight when the connection drops is sent again after the reconnect (a duplicate)."""
        dropped = self._acks.put(ack)
        if dropped is not None:
            log.warning("mqtt[%s]: ack buffer full, dropped the ack of %s", self.name, dropped.cmd_id)

    async def run(self) -> None:
        """Connect and stay connected until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._inbox.handle_forever(), name=f"mqtt-{self.name}-commands")
            await self._stay_connected()

    # -- connection lifecycle ----------------------------------------------------------------

    async def _stay_connected(self) -> NoReturn:
        while True:
            error: BaseException | None = None
            try:
                await self._session()
            except* LINK_ERRORS as group:
                error = _first_leaf(group)
            raise_if_cancelled()  # an MqttError from the clean disconnect must not turn a cancel into a retry
            self._log_failure(error)
            await asyncio.sleep(self._backoff.next_delay_s())

    async def _session(self) -> None:
        client = new_client(self._options)
        async with client:
            raise_if_cancelled()  # aiomqtt may have swallowed it while waiting for the CONNACK
            self._on_connected()
            try:
                await self._announce(client)
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._retained.state_when_due(client))
                    tg.create_task(self._retained.info_when_due(client))
                    tg.create_task(self._acks.send_forever(lambda ack: self._send_ack(client, ack)))
                    tg.create_task(self._tele.send_forever(lambda sample: self._send_tele(client, sample)))
                    if self._events:
                        evt = self._topics.evt(self._pid)
                        published = self.metrics.published[MessageKind.EVT]
                        tg.create_task(
                            pump_outbox(
                                client,
                                self._outbox,
                                evt,
                                self._outbox_wake,
                                published,
                                window=self._outbox_window,
                            )
                        )
                    # Receive in this task, not a child: a failing child then cancels us here, which
                    # TaskGroup undoes cleanly (Python 3.11 does not when it sits in its __aexit__).
                    await self._receive(client)
            except asyncio.CancelledError:
                await self._say_offline(client)
                raise
            finally:
                self._on_disconnected()

    def _on_connected(self) -> None:
        self._connected = True
        self._connects += 1
        self.metrics.connected.set(1)
        if self._connects > 1:
            self.metrics.reconnects.inc()
        if self._outage is not None:
            log.info(
                "mqtt[%s]: connected to %s again after %.1f s (%d failed attempts)",
                self.name,
                self.address,
                time.monotonic() - self._outage.since_s,
                self._outage.failed_attempts,
            )
            self._outage = None
        else:
            log.info("mqtt[%s]: connected to %s as %s", self.name, self.address, self._pid)
        self._backoff.reset()

    def _on_disconnected(self) -> None:
        self._connected = False
        self.metrics.connected.set(0)
        self._tele.drop_all()

    def _log_failure(self, error: BaseException | None) -> None:
        """One warning per outage; the failed attempts after it only at debug level."""
        if self._outage is None:
            self._outage = _Outage(since_s=time.monotonic())
            what = "lost the connection to" if self._connects else "cannot connect to"
            log.warning(
                "mqtt[%s]: %s %s: %s; retrying with backoff", self.name, what, self.address, _describe(error)
            )
        else:
            log.debug(
                "mqtt[%s]: connecting to %s failed again: %s", self.name, self.address, _describe(error)
            )
        self._outage.failed_attempts += 1

    async def _announce(self, client: aiomqtt.Client) -> None:
        if self._ha_commands_only:
            await client.subscribe(self._topics.ha_cmd(self._pid), qos=1)
        else:
            await client.subscribe(self._topics.cmd_filter(self._pid), qos=1)
        if self._homeassistant:
            await client.subscribe(self._topics.ha_status(), qos=1)
        await self._retained.announce(client)

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """A clean disconnect discards the will, but the printer is gone all the same."""
        try:
            await self._retained.publish_status(client, Presence.OFFLINE, timeout_s=GOODBYE_TIMEOUT_S)
        except LINK_ERRORS as exc:
            log.info("mqtt[%s]: could not publish offline before disconnecting: %s", self.name, exc)

    # -- per-connection tasks ----------------------------------------------------------------

    async def _receive(self, client: aiomqtt.Client) -> NoReturn:
        ha_status = self._topics.ha_status()
        cmd_head = self._topics.root(self._pid) + "/cmd/"
        async for message in client.messages:
            topic = message.topic.value
            if topic.startswith(cmd_head):
                self.metrics.commands.inc()
                if message.retain:
                    # a command left retained on the broker would run again at every reconnect
                    log.warning("mqtt[%s]: dropped a retained command on %s", self.name, topic)
                    self.metrics.command_errors.inc()
                    continue
                await self._inbox.put(topic, bytes(message.payload))
            elif topic == ha_status:
                self._on_ha_status(bytes(message.payload))
            else:
                log.debug("mqtt[%s]: ignoring a message on %s", self.name, topic)
        raise aiomqtt.MqttError("the message stream ended")

    def _on_ha_status(self, payload: bytes) -> None:
        try:
            presence = parse_presence(payload)
        except ContractError as exc:
            log.debug("mqtt[%s]: ignoring homeassistant/status: %s", self.name, exc)
            return
        if presence is Presence.ONLINE:
            self._retained.home_assistant_online()

    # -- publishing --------------------------------------------------------------------------

    async def _send_ack(self, client: aiomqtt.Client, ack: Ack) -> None:
        topic = self._topics.ack(self._pid)
        await publish(client, self.metrics, MessageKind.ACK, topic, encode(ack), retain=False)

    async def _send_tele(self, client: aiomqtt.Client, sample: Telemetry) -> None:
        topic = self._topics.tele(self._pid)
        await publish(client, self.metrics, MessageKind.TELE, topic, encode(sample), qos=0, retain=False)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "the session ended"
    cause = error.__cause__
    return f"{error} ({cause})" if cause is not None and str(cause) not in str(error) else str(error)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
