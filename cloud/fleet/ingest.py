"""The MQTT ingest: subscribers → decoder → batcher → writer → hooks, in one ``TaskGroup``.

Two broker connections, both as the ``cloud-ingest`` user:

- **shared**: ``$share/<group>/<prefix>/+/{state,evt,ack,tele}`` — replicas of the cloud split this
  load between them. Mosquitto also hands *retained* ``state`` messages to every member of a share
  group when it subscribes; that is harmless here because a snapshot is stored only when its ``seq``
  is newer.
- **presence**: ``<prefix>/+/status``, not shared, so every replica reads every retained status
  (and last will) and no presence is lost to another replica's share.

Each message is decoded by the pure ``Decoder`` (a bad one is dropped and counted by reason, never
fatal), added to the current ``Batch``, and the writer commits closed batches one transaction each,
then calls the registered ``IngestHooks`` with what was stored for the first time.

Flow control: aiomqtt's inbox holds at most ``inbox_max_messages`` (beyond that a message is dropped
and counted as ``inbox_overflow`` — aiomqtt has already acknowledged it, so it cannot be refused);
a ``tele`` that waited there longer than ``shed_tele_after_s`` is skipped undecoded and counted
(``tele_shed``): the printer's next one has arrived, and a state, event or ack must not wait behind
seconds of stale telemetry (``make bench-load``, where the API shares the process and the machine);
between the reader and the writer at most ``max_pending_batches`` closed batches wait, and the reader
waits (counted) when they are all taken. A lost broker is retried with jittered exponential backoff,
one log line when the outage starts and one when it ends; a database error is retried the same way
while the reader waits behind it; a row the database refuses (e.g. too long for its column) is
isolated by writing that batch item by item, and dropped as ``write_error``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import aiomqtt
from sqlalchemy.exc import DBAPIError

from cloud.db import Database
from cloud.db.availability import database_unavailable
from cloud.fleet.batching import Batch, Batcher
from cloud.fleet.bursts import read_in_bursts
from cloud.fleet.decoding import INGEST_KINDS, Decoder, Dropped, DropReason
from cloud.fleet.enrolled import EnrolledPrinters
from cloud.fleet.hooks import IngestHooks
from cloud.fleet.metrics import MESSAGE_KINDS, FleetMetrics
from cloud.fleet.writer import BatchWriter, WriteResult
from cloud.settings import CloudSettings
from contract.topics import TopicKind, Topics

log = logging.getLogger(__name__)

DROP_LOG_INTERVAL_S: Final = 60.0
SHARED: Final = "shared"
TELE_SUFFIX: Final = "/" + TopicKind.TELE.value
SHED_DETAIL: Final = "%d telemetry messages skipped, stale after waiting in the inbox"
PRESENCE: Final = "presence"


class Backoff:
    """Exponential backoff with full jitter between ``min_s`` and ``max_s``."""

    def __init__(self, min_s: float, max_s: float) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def next_delay_s(self) -> float:
        ceiling = min(self.max_s, self.min_s * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 30)
        return random.uniform(self.min_s, max(self.min_s, ceiling))


def _inbox_type(
    on_overflow: Callable[[], None], created: list[Inbox]
) -> type[asyncio.Queue[aiomqtt.Message]]:
    """An aiomqtt ``queue_type`` that counts (not logs) each overflow; see ``Inbox``."""

    class CountingInbox(Inbox):
        def __init__(self, maxsize: int = 0) -> None:
            super().__init__(maxsize, on_overflow)
            created.append(self)

    return CountingInbox


class Inbox(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's queue of received messages, drained in bulk; remembers when each one arrived, so the
    reader knows how long the message it just took had waited (``waited_s``)."""

    def __init__(self, maxsize: int, on_overflow: Callable[[], None]) -> None:
        super().__init__(maxsize)
        self._on_overflow = on_overflow
        self._arrived: deque[float] = deque()
        self.taken_arrived_s = 0.0

    def put_nowait(self, item: aiomqtt.Message) -> None:
        if self.full():
            self._on_overflow()
            return
        super().put_nowait(item)
        self._arrived.append(time.monotonic())

    def get_nowait(self) -> aiomqtt.Message:
        item = super().get_nowait()
        self.taken_arrived_s = self._arrived.popleft()
        return item

    def waited_s(self, now_s: float) -> float:
        """How long the message taken last had waited here, at ``now_s``."""
        return now_s - self.taken_arrived_s


def transient(exc: BaseException) -> bool:
    """True for database errors worth retrying as they are (down, restarting, busy, connection lost).

    A server shutting down or starting up (SQLSTATE 57P01/57P03) is one: taken for a refusal, its
    batch was written row by row and the rows dropped (tests/system, PostgreSQL restart)."""
    return database_unavailable(exc)


class FleetIngest:
    """The ingest component: ``await run()`` lives until cancelled."""

    def __init__(
        self,
        settings: CloudSettings,
        password: str,
        database: Database,
        hooks: IngestHooks,
        metrics: FleetMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.options = settings.ingest
        self.password = password
        self.hooks = hooks
        self.metrics = metrics
        self.topics = Topics(prefix=settings.mqtt_topic_prefix)
        self.decoder = Decoder(self.topics)
        self.enrolled = EnrolledPrinters(database, refresh_s=self.options.known_printers_refresh_s)
        self.writer = BatchWriter(database, clock)
        self.batcher = Batcher(
            max_items=self.options.batch_max_items,
            max_delay_s=self.options.batch_max_delay_s,
            max_batches=self.options.max_pending_batches,
            on_wait=metrics.backpressure_waits.inc,
        )
        self._message_children = {kind: metrics.messages.labels(kind=kind) for kind in MESSAGE_KINDS}
        self._drop_logged_at: dict[DropReason, float] = {}
        self._replica = uuid.uuid4().hex[:8]

    async def run(self) -> None:
        group = self.options.share_group or None
        shared = [self.topics.fleet_filter(kind, share_group=group) for kind in INGEST_KINDS]
        presence = [self.topics.fleet_filter(TopicKind.STATUS)]
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.enrolled.run())
                tasks.create_task(self.batcher.run_timer())
                tasks.create_task(self._write_loop())
                tasks.create_task(self._connection(SHARED, shared))
                tasks.create_task(self._connection(PRESENCE, presence))
        finally:
            self.writer.close()

    # -- broker side -------------------------------------------------------------------------------

    def _client(self, name: str, inbox_type: type[asyncio.Queue[aiomqtt.Message]]) -> aiomqtt.Client:
        url = urlsplit(self.settings.mqtt_url)
        secure = url.scheme in ("mqtts", "wss")
        websockets = url.scheme in ("ws", "wss")
        persistent = self.options.persistent_session
        identifier = f"{self.options.client_id}-{name}" + ("" if persistent else f"-{self._replica}")
        kwargs: dict[str, Any] = {}
        if secure:
            kwargs["tls_context"] = ssl.create_default_context()
        if websockets:
            kwargs["transport"] = "websockets"
            kwargs["websocket_path"] = url.path or "/mqtt"
        return aiomqtt.Client(
            hostname=url.hostname or "127.0.0.1",
            port=url.port or (8883 if secure else 1883),
            username=self.settings.mqtt_ingest_username,
            password=self.password,
            identifier=identifier,
            clean_session=not persistent,
            keepalive=self.options.keepalive_s,
            timeout=10.0,
            max_queued_incoming_messages=self.options.inbox_max_messages,
            queue_type=inbox_type,
            **kwargs,
        )

    async def _connection(self, name: str, filters: list[str]) -> None:
        """Connect, subscribe, read; on any broker failure wait (jittered backoff) and do it again."""
        backoff = Backoff(self.options.reconnect_min_s, self.options.reconnect_max_s)
        outage_since: float | None = None
        connected = self.metrics.connected.labels(connection=name)
        reconnects = self.metrics.reconnects.labels(connection=name)
        while True:
            inboxes: list[Inbox] = []
            overflow = self.metrics.dropped.labels(reason=DropReason.INBOX_OVERFLOW.value).inc
            try:
                async with self._client(name, _inbox_type(overflow, inboxes)) as client:
                    read_in_bursts(client)
                    for topic_filter in filters:
                        await client.subscribe(topic_filter, qos=1)
                    connected.set(1)
                    if outage_since is not None:
                        log.info(
                            "ingest %s: connected again after %.1f s", name, time.monotonic() - outage_since
                        )
                    else:
                        log.info("ingest %s: subscribed to %s", name, ", ".join(filters))
                    outage_since = None
                    backoff.reset()
                    await self._read(client, inboxes[0])
            except aiomqtt.MqttError as exc:
                connected.set(0)
                reconnects.inc()
                if outage_since is None:
                    outage_since = time.monotonic()
                    log.warning(
                        "ingest %s: broker %s unavailable (%s); retrying with backoff",
                        name,
                        self.settings.mqtt_url,
                        exc,
                    )
                await asyncio.sleep(backoff.next_delay_s())

    async def _read(self, client: aiomqtt.Client, inbox: Inbox) -> None:
        """Every message until the connection drops (``MqttError``); drains bursts without a task each."""
        decode = self.decoder.decode
        enrolled = self.enrolled
        batcher = self.batcher
        shed_after_s = self.options.shed_tele_after_s or None
        clock = time.monotonic
        shed = 0
        async for first in client.messages:
            message = first
            while True:
                topic = message.topic.value
                if (
                    shed_after_s is not None
                    and topic.endswith(TELE_SUFFIX)
                    and inbox.waited_s(clock()) > shed_after_s
                ):
                    shed += 1
                else:
                    payload = message.payload
                    item = decode(topic, payload if isinstance(payload, bytes) else b"", enrolled)
                    if isinstance(item, Dropped):
                        if item.reason is DropReason.UNKNOWN_PRINTER and await self._enrolled_now(item.pid):
                            continue  # the same message again, now that its printer is known
                        self._drop(item)
                    elif batcher.add_nowait(item):
                        await batcher.hand_off()
                try:
                    message = inbox.get_nowait()
                except asyncio.QueueEmpty:
                    break
            if shed:
                self._drop(Dropped(DropReason.TELE_SHED, None, SHED_DETAIL % shed), shed)
                shed = 0

    async def _enrolled_now(self, pid: str | None) -> bool:
        if pid is None:
            return False
        try:
            return await self.enrolled.look_up(pid)
        except (DBAPIError, OSError, TimeoutError) as exc:
            log.warning("ingest: could not look up printer %s: %s", pid, str(exc).splitlines()[0])
            return False

    def _drop(self, dropped: Dropped, count: int = 1) -> None:
        self.metrics.drop(dropped.reason, count)
        now = time.monotonic()
        if now - self._drop_logged_at.get(dropped.reason, float("-inf")) >= DROP_LOG_INTERVAL_S:
            self._drop_logged_at[dropped.reason] = now
            log.warning(
                "ingest dropped a message (%s, printer %s): %s (further drops of this kind are"
                " only counted for %.0f s)",
                dropped.reason.value,
                dropped.pid,
                dropped.detail,
                DROP_LOG_INTERVAL_S,
            )

    # -- database side -----------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            batch = await self.batcher.get()
            self.metrics.pending_batches.set(self.batcher.pending_batches)
            result = await self._write(batch)
            for kind, count in batch.messages.items():
                self._message_children[kind].inc(count)
            await self._run_hooks(result)

    async def _write(self, batch: Batch, *, split_on_refusal: bool = True) -> WriteResult:
        """Write ``batch``, retrying while the database is unavailable; refused rows are dropped."""
        backoff = Backoff(0.01, self.options.write_retry_max_s)
        failing_since: float | None = None
        while True:
            started = time.perf_counter()
            try:
                result = await self.writer.write(batch)
            except (DBAPIError, OSError, TimeoutError) as exc:
                if transient(exc):
                    self.metrics.write_retries.inc()
                    if failing_since is None:
                        failing_since = time.monotonic()
                        log.warning("ingest: database unavailable (%s); retrying", str(exc).splitlines()[0])
                    await asyncio.sleep(backoff.next_delay_s())
                    continue
                if split_on_refusal and len(batch.items()) > 1:
                    return await self._write_item_by_item(batch)
                self._drop(Dropped(DropReason.WRITE_ERROR, None, str(exc).splitlines()[0][:300]), len(batch))
                return WriteResult()
            if failing_since is not None:
                log.info("ingest: database back after %.1f s", time.monotonic() - failing_since)
            self.metrics.batches.inc()
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
            return result

    async def _write_item_by_item(self, batch: Batch) -> WriteResult:
        total = WriteResult()
        for item in batch.items():
            single = Batch()
            single.add(item)
            result = await self._write(single, split_on_refusal=False)
            total.events.extend(result.events)
            total.acks.extend(result.acks)
            total.presence.extend(result.presence)
        return total

    async def _run_hooks(self, result: WriteResult) -> None:
        if result.events:
            for event_hook in self.hooks.on_events:
                try:
                    await event_hook(result.events)
                except Exception:  # a hook's bug must not stop the ingest: log it, count it, go on
                    log.exception("ingest hook %r failed on %d events", event_hook, len(result.events))
                    self.metrics.hook_failures.labels(kind="events").inc()
        if result.acks:
            for ack_hook in self.hooks.on_acks:
                try:
                    await ack_hook(result.acks)
                except Exception:  # as above
                    log.exception("ingest hook %r failed on %d acks", ack_hook, len(result.acks))
                    self.metrics.hook_failures.labels(kind="acks").inc()
        if result.presence:
            for presence_hook in self.hooks.on_presence:
                try:
                    await presence_hook(result.presence)
                except Exception:  # as above
                    log.exception(
                        "ingest hook %r failed on %d presence changes", presence_hook, len(result.presence)
                    )
                    self.metrics.hook_failures.labels(kind="presence").inc()
