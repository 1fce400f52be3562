"""A persisted counter handed out from memory: the `seq` of state snapshots and telemetry.

States are published often and must carry a `seq` that only grows, across restarts too, without a
disk write each. The counter reserves a block on disk (`reserved`) and counts in memory below it;
`maintain()` reserves the next block before the current one runs out. After a crash the next start
begins above the last reservation, so a value is never handed out twice.
"""

from __future__ import annotations

from edge_agent.store.database import Database

BLOCK = 10_000


class ReservedCounter:
    def __init__(self, database: Database, name: str, value: int, reserved: int, block: int) -> None:
        self._db = database
        self.name = name
        self._value = value
        self._reserved = reserved
        self._block = block

    @classmethod
    async def open(cls, database: Database, name: str, block: int = BLOCK) -> ReservedCounter:
        async with database.transaction() as tx:
            async with tx.execute("SELECT value FROM counters WHERE name = ?", (name,)) as cursor:
                row = await cursor.fetchone()
            start = int(row[0]) if row is not None else 0
            reserved = start + block
            await tx.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, reserved),
            )
        return cls(database, name, start, reserved, block)

    @property
    def value(self) -> int:
        """The last value handed out."""
        return self._value

    def next(self) -> int:
        self._value += 1
        return self._value

    @property
    def needs_reservation(self) -> bool:
        return self._reserved - self._value < self._block // 2

    async def maintain(self) -> None:
        """Reserve the next block once half of the current one is used."""
        if not self.needs_reservation:
            return
        reserved = self._value + self._block
        async with self._db.transaction() as tx:
            await tx.execute("UPDATE counters SET value = ? WHERE name = ?", (reserved, self.name))
        self._reserved = reserved
