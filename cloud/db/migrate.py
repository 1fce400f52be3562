"""Alembic, driven from code: ``await migrate(url)`` brings a database to the newest revision.

The revisions live in ``cloud/migrations/versions``. ``migrate`` runs them on one connection in
one transaction; on PostgreSQL it first takes an advisory lock, so replicas starting together
migrate one after the other instead of racing (within one process an asyncio lock does the same:
Alembic keeps its state in module globals). Developers can also use the alembic command:
``alembic -c cloud/alembic.ini revision --autogenerate -m "..."``.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from cloud.db.engine import create_engine, database_url

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent.parent / "migrations"
ADVISORY_LOCK_KEY: Final = 0x3D_90_7C_10_0D
"""PostgreSQL advisory lock held while migrating (any constant shared by every replica)."""


_in_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _in_process_lock() -> asyncio.Lock:
    """Alembic keeps its context in module globals, so one process runs one migration at a time."""
    loop = asyncio.get_running_loop()
    lock = _in_process_locks.get(loop)
    if lock is None:
        lock = _in_process_locks[loop] = asyncio.Lock()
    return lock


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our revisions (and at ``url`` when given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", str(database_url(url)).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision id in the code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revision found in {MIGRATIONS_DIR}")
    return head


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (idempotent; safe with concurrent replicas)."""
    engine = create_engine(url)
    try:
        async with _in_process_lock(), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            await conn.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def rollback(url: str, revision: str = "-1") -> None:
    """Downgrade the database at ``url`` to ``revision`` (default: one revision back), for a release
    rollback. Data in the dropped tables is lost: back up first (``3dpot cloud backup``)."""
    engine = create_engine(url)
    try:
        async with _in_process_lock(), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            await conn.run_sync(_downgrade, revision)
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (``None`` for an empty database)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()
