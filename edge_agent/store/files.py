"""Uploaded G-code files: the rows that describe them (the bytes live in the agent's files folder)."""

from __future__ import annotations

from pathlib import Path

from edge_agent.control import FileView
from edge_agent.errors import NotFound
from edge_agent.store.database import Database


class FileStore:
    def __init__(self, database: Database, files_dir: Path) -> None:
        self._db = database
        self.files_dir = files_dir

    def path_of(self, name: str) -> Path:
        return self.files_dir / name

    async def all(self) -> list[FileView]:
        async with self._db.connection.execute(
            "SELECT name, size_bytes, sha256, uploaded_ms FROM files ORDER BY uploaded_ms DESC, name"
        ) as cursor:
            rows = await cursor.fetchall()
        return [FileView(r[0], r[1], r[2], r[3], self.path_of(r[0])) for r in rows]

    async def get(self, name: str) -> FileView:
        async with self._db.connection.execute(
            "SELECT name, size_bytes, sha256, uploaded_ms FROM files WHERE name = ?", (name,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"no file named {name}")
        return FileView(row[0], row[1], row[2], row[3], self.path_of(row[0]))

    async def put(self, name: str, *, size_bytes: int, sha256: str, uploaded_ms: int) -> FileView:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO files (name, size_bytes, sha256, uploaded_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET size_bytes = excluded.size_bytes, "
                "sha256 = excluded.sha256, uploaded_ms = excluded.uploaded_ms",
                (name, size_bytes, sha256, uploaded_ms),
            )
        return FileView(name, size_bytes, sha256, uploaded_ms, self.path_of(name))

    async def delete(self, name: str) -> None:
        async with self._db.transaction() as tx:
            cursor = await tx.execute("DELETE FROM files WHERE name = ?", (name,))
            if cursor.rowcount == 0:
                raise NotFound(f"no file named {name}")
