"""The agent's SQLite store on a real file: migrations, the outbox's order, idempotent commands,
and consistency when the process dies mid-transaction."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge_agent.store import Outbox, ProcessedCommands, open_database
from edge_agent.store.migrations import MIGRATIONS

pytestmark = pytest.mark.integration


async def test_a_new_database_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "agent.sqlite")
    try:
        assert await db.schema_version() == len(MIGRATIONS)
        async with db.connection.execute("PRAGMA journal_mode") as cursor:
            row = await cursor.fetchone()
        assert row is not None and row[0] == "wal"
    finally:
        await db.close()
    again = await open_database(tmp_path / "agent.sqlite")  # reopening migrates nothing twice
    assert await again.schema_version() == len(MIGRATIONS)
    await again.close()


async def test_a_database_from_a_newer_agent_is_refused(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "agent.sqlite")
    await db.connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    await db.close()
    with pytest.raises(RuntimeError, match="upgrade the agent"):
        await open_database(tmp_path / "agent.sqlite")


async def test_outbox_keeps_seq_order_across_restarts_until_published(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite"
    db = await open_database(path)
    outbox = Outbox(db)
    first = await outbox.record("job.queued", 1000, {"filename": "a.gcode"}, job_id="j1")
    second = await outbox.record("job.started", 2000, job_id="j1")
    await outbox.mark_published(first.seq)
    await db.close()

    db = await open_database(path)
    outbox = Outbox(db)
    pending = await outbox.unpublished()
    assert [e.seq for e in pending] == [second.seq]
    assert pending[0].event_type == "job.started" and pending[0].job_id == "j1"
    third = await outbox.record("job.completed", 3000, job_id="j1")
    assert third.seq > second.seq  # the counter survived the restart
    assert await outbox.next_seq() > third.seq
    assert await outbox.depth() == 2
    await db.close()


async def test_a_repeated_command_gets_its_stored_ack_and_old_ones_are_pruned(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "agent.sqlite")
    commands = ProcessedCommands(db)
    assert await commands.recall("c1") is None
    await commands.remember("c1", '{"status":"received"}', now_ms=1_000)
    await commands.remember("c1", '{"status":"ok"}', now_ms=2_000)
    assert await commands.recall("c1") == '{"status":"ok"}'
    assert await commands.prune(now_ms=1_000 + 8 * 24 * 3600 * 1000) == 1
    assert await commands.recall("c1") is None
    await db.close()


def test_a_process_killed_mid_transaction_leaves_no_half_written_change(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite"
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from pathlib import Path
        from edge_agent.store import Outbox, open_database

        async def main():
            db = await open_database(Path({str(path)!r}))
            outbox = Outbox(db)
            await outbox.record("job.queued", 1, job_id="kept")
            async with db.transaction() as tx:
                await outbox.append(tx, "job.started", 2, job_id="lost")
                os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert done.returncode == -9

    async def check() -> list[str | None]:
        db = await open_database(path)
        try:
            return [e.job_id for e in await Outbox(db).unpublished()]
        finally:
            await db.close()

    assert asyncio.run(check()) == ["kept"]
