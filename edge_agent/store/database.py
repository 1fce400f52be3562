"""One SQLite database in WAL mode, migrated on open. A power cut at any instant leaves it consistent:
every change is one transaction, and `synchronous=FULL` makes a committed one durable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from edge_agent.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)


class Database:
    """The connection and its single writer lock: SQLite allows one writer, and one connection holds
    one transaction at a time, so the components' transactions take turns here."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self._writer = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on any exception.

        BEGIN, COMMIT and ROLLBACK are shielded: a cancel that lands while one of them runs in
        aiosqlite's thread must not leave the shared connection inside a transaction."""
        async with self._writer:
            begin = asyncio.ensure_future(self.connection.execute("BEGIN IMMEDIATE"))
            try:
                await asyncio.shield(begin)
            except BaseException:
                with contextlib.suppress(Exception):
                    await begin
                    await asyncio.shield(self.connection.rollback())
                raise
            try:
                yield self.connection
            except BaseException:
                await asyncio.shield(self.connection.rollback())
                raise
            await asyncio.shield(self.connection.commit())

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """Reads that must not see another component's uncommitted rows (one connection is shared)."""
        async with self._writer:
            yield self.connection

    async def schema_version(self) -> int:
        async with self.connection.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def close(self) -> None:
        await self.connection.close()


async def open_database(path: Path) -> Database:
    """Open (creating if needed) and migrate the database at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = await aiosqlite.connect(path, isolation_level=None)
    connection.row_factory = aiosqlite.Row
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=5000"):
        await connection.execute(f"PRAGMA {pragma}")
    database = Database(connection, path)
    version = await database.schema_version()
    if version > len(MIGRATIONS):
        await connection.close()
        raise RuntimeError(
            f"{path} has schema version {version}, newer than this agent knows ({len(MIGRATIONS)}): "
            "upgrade the agent"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        statements = [s.strip() for s in script.split(";") if s.strip()]
        async with database.transaction() as tx:
            for statement in statements:
                await tx.execute(statement)
            await tx.execute(f"PRAGMA user_version = {number}")
        log.info("migrated %s to schema version %d", path, number)
    return database
