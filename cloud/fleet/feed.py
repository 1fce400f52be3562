"""The live feed: changes of ``fleet_printer_state`` fanned out to this replica's browsers.

Works across replicas because it reads the database, not the ingest: whichever replica ingested a
state or presence change, every replica's ``FeedHub`` sees the row's ``updated_at`` move. One poll
task per replica (every ``poll_interval_s``, and only while someone listens) reads the rows changed
since its cursor and pushes each, as the same ``FleetPrinter`` the REST API returns, to the
subscribers of the printer's organisation. On PostgreSQL it also ``LISTEN``s on the channel the
ingest ``NOTIFY``s after each batch, and polls at once when woken.

Transactions commit out of ``updated_at`` order (and replicas' clocks differ a little), so the poll
re-reads a window of ``OVERLAP`` behind its newest row and skips rows it already sent (by printer and
``updated_at``). Each subscriber has a bounded queue: one that falls ``client_queue`` frames behind is
dropped (its stream ends; an ``EventSource`` reconnects by itself) rather than allowed to grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import SQLAlchemyError

from cloud.db import Database
from cloud.errors import CloudError
from cloud.fleet import queries
from cloud.fleet.metrics import FleetMetrics
from cloud.fleet.writer import FEED_CHANNEL

log = logging.getLogger(__name__)

OVERLAP: Final = timedelta(seconds=3)
POLL_LIMIT: Final = 5_000
MIN_POLL_GAP_S: Final = 0.1
"""At most one poll per this (NOTIFY arrives after every ingest batch)."""


class FeedFull(CloudError):
    status = 503
    code = "feed_full"


class Subscriber:
    """One browser: a bounded queue of SSE frames; ``None`` ends the stream."""

    def __init__(self, org_id: str, max_frames: int) -> None:
        self.org_id = org_id
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=max_frames)
        self.dropped = False

    def offer(self, frame: bytes) -> bool:
        """Queue ``frame``; False (and the stream ended) when the browser is too far behind."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return False
        return True


def sse_frame(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


def sse_response(
    subscription: contextlib.AbstractAsyncContextManager[Subscriber], heartbeat_s: float
) -> StreamingResponse:
    """An ``EventSource`` stream of one subscriber's frames: a comment ping every ``heartbeat_s`` of
    silence (proxies keep the connection), and a ``dropped`` event when it fell too far behind."""

    async def frames() -> AsyncIterator[bytes]:
        async with subscription as subscriber:
            yield b": connected\n\n"
            while True:
                try:
                    async with asyncio.timeout(heartbeat_s):
                        frame = await subscriber.queue.get()
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if frame is None:
                    yield sse_frame("dropped", '{"reason":"too slow"}')
                    return
                yield frame

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class FeedHub:
    """Subscribers of this replica, and the one task that feeds them (``await run()``)."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime],
        metrics: FleetMetrics,
        *,
        poll_interval_s: float,
        client_queue: int,
        max_clients: int,
    ) -> None:
        self.database = database
        self.clock = clock
        self.metrics = metrics
        self.poll_interval_s = poll_interval_s
        self.client_queue = client_queue
        self.max_clients = max_clients
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._count = 0
        self._wake = asyncio.Event()
        self._cursor: datetime | None = None
        self._sent: dict[str, datetime] = {}

    def check_capacity(self) -> None:
        """``FeedFull`` (503) when this replica already serves ``max_clients``."""
        if self._count >= self.max_clients:
            raise FeedFull(f"this replica already serves {self.max_clients} live feed clients")

    @contextlib.asynccontextmanager
    async def subscribe(self, org_id: str) -> AsyncIterator[Subscriber]:
        subscriber = Subscriber(org_id, self.client_queue)
        self._subscribers.setdefault(org_id, set()).add(subscriber)
        self._count += 1
        self.metrics.feed_clients.set(self._count)
        self._wake.set()
        try:
            yield subscriber
        finally:
            group = self._subscribers.get(org_id)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[org_id]
            self._count -= 1
            self.metrics.feed_clients.set(self._count)

    def publish(self, org_id: str, frame: bytes) -> None:
        for subscriber in list(self._subscribers.get(org_id, ())):
            if not subscriber.offer(frame) and subscriber.dropped:
                self.metrics.feed_dropped_clients.inc()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Poll (and on PostgreSQL listen) until cancelled; a database error is retried next round."""
        async with asyncio.TaskGroup() as tasks:
            if self.database.dialect == "postgresql":
                tasks.create_task(self._listen())
            tasks.create_task(self._poll_loop())

    async def _poll_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                if await self.poll() >= POLL_LIMIT:
                    self._wake.set()  # more rows wait behind the limit
            except (SQLAlchemyError, OSError) as exc:
                log.warning("live feed: could not read changes: %s", str(exc).splitlines()[0])
            await asyncio.sleep(MIN_POLL_GAP_S)

    async def poll(self) -> int:
        """Push what changed since the last poll; the number of rows read."""
        if not self._subscribers:
            self._cursor = None
            self._sent.clear()
            return 0
        if self._cursor is None:
            self._cursor = self.clock() - OVERLAP
        since = self._cursor - OVERLAP
        async with self.database.session() as session:
            rows = await queries.changed_since(session, since, POLL_LIMIT)
        for printer, state in rows:
            self._cursor = max(self._cursor, state.updated_at)
            sent = self._sent.get(printer.pid)
            if sent is not None and state.updated_at <= sent:
                continue
            self._sent[printer.pid] = state.updated_at
            if printer.org_id in self._subscribers:
                view = queries.fleet_printer(printer, state)
                self.publish(printer.org_id, sse_frame("printer", view.model_dump_json()))
        horizon = self._cursor - OVERLAP
        self._sent = {pid: at for pid, at in self._sent.items() if at > horizon}
        return len(rows)

    async def _listen(self) -> None:
        """PostgreSQL only: wake the poll on ``NOTIFY fleet_feed``; reconnects after a lost connection."""
        while True:
            try:
                async with self.database.engine.connect() as conn:
                    raw = await conn.get_raw_connection()
                    driver: Any = raw.driver_connection

                    closed = asyncio.Event()

                    def on_notify(*_args: object) -> None:
                        self._wake.set()

                    driver.add_termination_listener(lambda _conn, ended=closed: ended.set())
                    await driver.add_listener(FEED_CHANNEL, on_notify)
                    try:
                        await closed.wait()
                    finally:
                        if not driver.is_closed():
                            with contextlib.suppress(asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
                                await driver.remove_listener(FEED_CHANNEL, on_notify)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("live feed: LISTEN %s failed (%s); polling only for now", FEED_CHANNEL, exc)
            await asyncio.sleep(5.0)
