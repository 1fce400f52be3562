"""The async engine and session factory: one ``Database`` per app, built in the app factory.

The same code runs on SQLite (aiosqlite; WAL, foreign keys on, a busy timeout so concurrent
writers wait instead of failing) and on PostgreSQL (asyncpg; a pool with pre-ping).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from cloud.settings import async_database_url

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS: Final = 5_000
PING_TIMEOUT_S: Final = 2.0


def database_url(url: str) -> URL:
    """``url`` parsed, with the async driver of its database."""
    return make_url(async_database_url(url))


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def ensure_sqlite_directory(url: URL) -> None:
    """Create the folder of a SQLite database file (nothing for ``:memory:`` or PostgreSQL)."""
    if is_sqlite(url) and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url`` (SQLite or PostgreSQL) with the pragmas / pool options we rely on."""
    parsed = database_url(url)
    if is_sqlite(parsed):
        ensure_sqlite_directory(parsed)
        engine = create_async_engine(
            parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """An engine and its session factory. ``dispose()`` closes every pooled connection."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = database_url(url)
        self.engine = create_engine(url, echo=echo)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    def session(self) -> AsyncSession:
        """A new session; use it as ``async with db.session() as s:``."""
        return self.sessionmaker()

    async def ping(self, timeout_s: float = PING_TIMEOUT_S) -> str | None:
        """``None`` when the database answers ``SELECT 1`` within ``timeout_s``, else why not."""
        try:
            async with asyncio.timeout(timeout_s):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except TimeoutError:
            return f"no answer within {timeout_s} s"
        except (SQLAlchemyError, OSError) as exc:
            log.warning("database ping failed: %s", exc)
            return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return None

    async def dispose(self) -> None:
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)})"
