"""Files in a local folder (the embedded default): ``<root>/<key>``.

A write goes to ``<root>/.incoming/<random>`` and is fsynced and renamed into place on commit, so
a reader never sees half a file and a crash leaves only debris in ``.incoming`` (cleared at start).
Disk I/O runs in threads so the event loop never blocks on it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Final

from cloud.files.storage import READ_CHUNK_BYTES, Digest, FileMissing, FileRead, StoredFile, check_key

INCOMING_DIR: Final = ".incoming"


class LocalWriter:
    def __init__(self, storage: LocalStorage, key: str, max_bytes: int) -> None:
        self._storage = storage
        self._key = key
        self._digest = Digest(max_bytes)
        self._temp = storage.root / INCOMING_DIR / uuid.uuid4().hex
        self._handle: BinaryIO | None = None

    async def write(self, data: bytes) -> None:
        self._digest.update(data)
        if self._handle is None:
            self._handle = await asyncio.to_thread(self._temp.open, "wb")
        await asyncio.to_thread(self._handle.write, data)

    async def commit(self) -> StoredFile:
        if self._handle is None:
            self._handle = await asyncio.to_thread(self._temp.open, "wb")
        handle, self._handle = self._handle, None
        await asyncio.to_thread(_finish, handle, self._temp, self._storage.path(self._key))
        return StoredFile(key=self._key, size=self._digest.size, sha256=self._digest.hexdigest())

    async def abort(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            await asyncio.to_thread(handle.close)
        await asyncio.to_thread(self._temp.unlink, missing_ok=True)


def _finish(handle: BinaryIO, temp: Path, dest: Path) -> None:
    try:
        handle.flush()
        os.fsync(handle.fileno())
    finally:
        handle.close()
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, dest)


class LocalStorage:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        incoming = self.root / INCOMING_DIR
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path.is_relative_to(self.root / INCOMING_DIR):
            raise ValueError(f"invalid storage key {key!r}")
        return path

    async def writer(self, key: str, *, max_bytes: int) -> LocalWriter:
        self.path(key)
        return LocalWriter(self, key, max_bytes)

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def read(self, key: str, start: int = 0) -> FileRead:
        path = self.path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise FileMissing(key) from None
        size = os.fstat(handle.fileno()).st_size
        start = min(max(start, 0), size)
        return FileRead(size=size, start=start, chunks=_chunks(handle, start))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)


async def _chunks(handle: BinaryIO, start: int) -> AsyncIterator[bytes]:
    try:
        await asyncio.to_thread(handle.seek, start)
        while chunk := await asyncio.to_thread(handle.read, READ_CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()
