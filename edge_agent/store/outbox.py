"""The durable event outbox and the persisted `seq` counter.

An event is written (with its `seq`) in the same transaction as the change it reports, then published
in `seq` order by the MQTT link, which marks it published once the broker has it. After a broker
outage or an agent restart the unpublished rows go out first, in order: nothing is lost or reordered.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import aiosqlite

from edge_agent.store.database import Database

SEQ_COUNTER = "seq"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    seq: int
    event_id: str
    ts_ms: int
    event_type: str
    job_id: str | None
    data: dict[str, Any]


async def next_seq(tx: aiosqlite.Connection) -> int:
    """The next value of the persisted per-printer counter, inside the caller's transaction."""
    await tx.execute(
        "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
        (SEQ_COUNTER,),
    )
    async with tx.execute("SELECT value FROM counters WHERE name = ?", (SEQ_COUNTER,)) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


class Outbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def append(
        self,
        tx: aiosqlite.Connection,
        event_type: str,
        ts_ms: int,
        data: dict[str, Any] | None = None,
        job_id: str | None = None,
    ) -> OutboxEvent:
        """Record an event inside the caller's transaction (the one that made the change)."""
        event = OutboxEvent(await next_seq(tx), str(uuid.uuid4()), ts_ms, event_type, job_id, data or {})
        await tx.execute(
            "INSERT INTO outbox (seq, event_id, ts_ms, event_type, job_id, data_json) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (event.seq, event.event_id, event.ts_ms, event.event_type, event.job_id, json.dumps(event.data)),
        )
        return event

    async def record(
        self, event_type: str, ts_ms: int, data: dict[str, Any] | None = None, job_id: str | None = None
    ) -> OutboxEvent:
        """Record an event in a transaction of its own."""
        async with self._db.transaction() as tx:
            return await self.append(tx, event_type, ts_ms, data, job_id)

    async def unpublished(self, limit: int = 100) -> list[OutboxEvent]:
        """The oldest events not yet acknowledged by the broker, in `seq` order."""
        async with (
            self._db.reading() as connection,
            connection.execute(
                "SELECT seq, event_id, ts_ms, event_type, job_id, data_json FROM outbox "
                "WHERE published = 0 ORDER BY seq LIMIT ?",
                (limit,),
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return [OutboxEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    async def mark_published(self, seq: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("UPDATE outbox SET published = 1 WHERE seq = ?", (seq,))

    async def depth(self) -> int:
        async with self._db.connection.execute("SELECT count(*) FROM outbox WHERE published = 0") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def next_seq(self) -> int:
        """A `seq` for a message that is not an event (state snapshots), in its own transaction."""
        async with self._db.transaction() as tx:
            return await next_seq(tx)
