"""Alembic environment of the cloud database (async engines; SQLite and PostgreSQL).

``cloud.db.migrate`` passes an open connection in ``config.attributes["connection"]``; the
``alembic`` command instead connects to ``sqlalchemy.url`` (or, when unset, the
``database_url`` from the cloud's settings and environment).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from cloud.db.engine import create_engine
from cloud.models import metadata
from cloud.settings import load_settings

config = context.config


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(_run_async())
    else:
        _run(connection)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
