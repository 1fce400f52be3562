"""Commands already handled, by `cmd_id`, with the ack they got: a repeat gets the same ack and does
nothing (at-least-once delivery, exactly-once effect). Kept for a week, then pruned."""

from __future__ import annotations

from edge_agent.store.database import Database

KEEP_MS = 7 * 24 * 3600 * 1000


class ProcessedCommands:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def recall(self, cmd_id: str) -> str | None:
        """The stored ack (JSON) of a command seen before, or None."""
        async with self._db.connection.execute(
            "SELECT ack_json FROM processed_commands WHERE cmd_id = ?", (cmd_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def remember(self, cmd_id: str, ack_json: str, now_ms: int) -> None:
        """Store (or update, as a command moves through its acks) the latest ack of `cmd_id`."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO processed_commands (cmd_id, ack_json, received_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (cmd_id) DO UPDATE SET ack_json = excluded.ack_json",
                (cmd_id, ack_json, now_ms),
            )

    async def prune(self, now_ms: int, keep_ms: int = KEEP_MS) -> int:
        """Forget commands older than `keep_ms`; returns how many."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "DELETE FROM processed_commands WHERE received_ms < ?", (now_ms - keep_ms,)
            )
            return cursor.rowcount
