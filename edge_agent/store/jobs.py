"""Jobs and queue flags in SQLite. Every state change is one transaction with the event that reports it
(the outbox row), so a power cut leaves either both or neither."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import aiosqlite

from contract.events import EventType
from contract.jobs import StartPolicy
from edge_agent.control import JobState
from edge_agent.errors import NotFound
from edge_agent.queue import JobRecord, check_transition
from edge_agent.store.database import Database
from edge_agent.store.outbox import Outbox, OutboxEvent

_COLUMNS = tuple(f.name for f in dataclasses.fields(JobRecord))
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM jobs"
_MUTABLE = frozenset(_COLUMNS) - {"job_id", "created_ms"}

BED_CLEAR = "bed_clear"
QUEUE_PAUSED = "queue_paused"


def _record(row: aiosqlite.Row) -> JobRecord:
    values: dict[str, Any] = dict(zip(_COLUMNS, tuple(row), strict=True))
    values["file_path"] = Path(values["file_path"])
    values["state"] = JobState(values["state"])
    values["start_policy"] = StartPolicy(values["start_policy"])
    return JobRecord(**values)


def _column_value(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, JobState | StartPolicy):
        return value.value
    return value


class JobStore:
    def __init__(self, database: Database, outbox: Outbox) -> None:
        self._db = database
        self._outbox = outbox

    # ---- reading ----------------------------------------------------------------------------

    async def all(self, *, include_finished: bool = True) -> list[JobRecord]:
        where = "" if include_finished else " WHERE state NOT IN ('completed', 'failed', 'cancelled')"
        async with self._db.connection.execute(f"{_SELECT}{where} ORDER BY created_ms, job_id") as cursor:
            return [_record(row) for row in await cursor.fetchall()]

    async def find(self, job_id: str) -> JobRecord | None:
        async with self._db.connection.execute(f"{_SELECT} WHERE job_id = ?", (job_id,)) as cursor:
            row = await cursor.fetchone()
        return _record(row) if row is not None else None

    async def get(self, job_id: str) -> JobRecord:
        job = await self.find(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    async def latest(self) -> JobRecord | None:
        """The job that was on the printer last (active, interrupted or finished)."""
        async with self._db.connection.execute(
            f"{_SELECT} WHERE started_ms IS NOT NULL ORDER BY started_ms DESC LIMIT 1"
        ) as cursor:
            row = await cursor.fetchone()
        return _record(row) if row is not None else None

    async def using_file(self, file_path: Path) -> list[JobRecord]:
        """Jobs that still need `file_path` (queued, on the printer, or interrupted)."""
        async with self._db.connection.execute(
            f"{_SELECT} WHERE file_path = ? AND state IN ('queued', 'printing', 'paused', 'interrupted')",
            (str(file_path),),
        ) as cursor:
            return [_record(row) for row in await cursor.fetchall()]

    # ---- writing ----------------------------------------------------------------------------

    async def insert(
        self,
        job: JobRecord,
        *,
        event_data: dict[str, Any] | None = None,
        tx: aiosqlite.Connection | None = None,
    ) -> OutboxEvent:
        """Store a new queued job and its `job.queued` event, in the caller's transaction or a new one."""
        if tx is None:
            async with self._db.transaction() as own:
                return await self.insert(job, event_data=event_data, tx=own)
        values = [_column_value(getattr(job, c)) for c in _COLUMNS]
        placeholders = ", ".join("?" for _ in _COLUMNS)
        await tx.execute(f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({placeholders})", values)
        data = {"filename": job.filename, "source": job.source, "size": job.size_bytes, **(event_data or {})}
        return await self._outbox.append(tx, EventType.JOB_QUEUED, job.created_ms, data, job.job_id)

    async def transition(
        self,
        job_id: str,
        new: JobState,
        *,
        ts_ms: int,
        event: EventType | None,
        event_data: dict[str, Any] | None = None,
        **fields: Any,
    ) -> JobRecord:
        """Move a job to `new` (checked against the lifecycle), update `fields`, record `event`."""
        async with self._db.transaction() as tx:
            async with tx.execute(f"{_SELECT} WHERE job_id = ?", (job_id,)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise NotFound(f"no job {job_id}")
            job = _record(row)
            check_transition(job_id, job.state, new)
            job = dataclasses.replace(job, state=new, updated_ms=ts_ms, **fields)
            await self._write(tx, job, ("state", "updated_ms", *fields))
            if event is not None:
                data = {"filename": job.filename, **(event_data or {})}
                await self._outbox.append(tx, event, ts_ms, data, job_id)
        return job

    async def update(self, job_id: str, **fields: Any) -> JobRecord:
        """Change fields that are not the state (progress checkpoints, priority, position)."""
        async with self._db.transaction() as tx:
            async with tx.execute(f"{_SELECT} WHERE job_id = ?", (job_id,)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise NotFound(f"no job {job_id}")
            job = dataclasses.replace(_record(row), **fields)
            await self._write(tx, job, tuple(fields))
        return job

    async def record_event(
        self, event: EventType, job: JobRecord | None, data: dict[str, Any], *, ts_ms: int
    ) -> OutboxEvent:
        """An event about `job` (or the printer) that goes with no state change."""
        if job is not None:
            data = {"filename": job.filename, **data}
        return await self._outbox.record(event, ts_ms, data, job.job_id if job else None)

    async def delete(self, job_id: str) -> None:
        async with self._db.transaction() as tx:
            cursor = await tx.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
            if cursor.rowcount == 0:
                raise NotFound(f"no job {job_id}")

    async def _write(self, tx: aiosqlite.Connection, job: JobRecord, names: tuple[str, ...]) -> None:
        unknown = set(names) - _MUTABLE
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        if not names:
            return
        assignments = ", ".join(f"{n} = ?" for n in names)
        values = [_column_value(getattr(job, n)) for n in names]
        await tx.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*values, job.job_id))

    # ---- queue flags ------------------------------------------------------------------------

    async def flag(self, name: str) -> bool:
        async with self._db.connection.execute(
            "SELECT value FROM counters WHERE name = ?", (name,)
        ) as cursor:
            row = await cursor.fetchone()
        return bool(row[0]) if row is not None else False

    async def set_flag(
        self, name: str, value: bool, *, ts_ms: int, event_data: dict[str, Any] | None = None
    ) -> None:
        """Set a queue flag; with `event_data`, record a `queue.changed` event in the same transaction."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, int(value)),
            )
            if event_data is not None:
                await self._outbox.append(tx, EventType.QUEUE_CHANGED, ts_ms, event_data)
