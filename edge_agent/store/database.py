"""One SQLite database in WAL mode, migrated on open. A power cut at any instant leaves it consistent:
every change is one transaction, and `synchronous=FULL` makes a committed one durable."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from edge_agent.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)


class Database:
    """The connection and its single writer lock (SQLite allows one writer; we never queue two)."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on any exception."""
        await self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            await self.connection.rollback()
            raise
        await self.connection.commit()

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
