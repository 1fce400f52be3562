"""The storage interface every backend implements, and what backends share: names, keys, hashing.

Writing is push-style, so an upload can be streamed straight from the request body::

    writer = await storage.writer(key, max_bytes=cap)
    try:
        await writer.write(chunk)  # ... for each chunk; raises FileTooLarge past the cap
        stored = await writer.commit()  # size + sha256, computed while storing
    except BaseException:
        await writer.abort()
        raise

Reading returns the size and an async iterator of chunks from an optional byte offset (for
``Range`` requests). Keys are relative, ``/``-separated, from ``[A-Za-z0-9._-]`` only, never
``..``: ``check_key`` refuses anything else, so a key can never escape a local root.

Exceptions::

    StorageError            the backend failed (disk, S3): a 5xx for the caller, never swallowed
     ├── FileTooLarge       the upload went past its cap (413 for an HTTP upload)
     └── FileMissing        no object under that key (404)
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final, Protocol

READ_CHUNK_BYTES: Final = 64 * 1024
MAX_FILENAME_CHARS: Final = 120
_KEY_PART: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_UNSAFE_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")


class StorageError(Exception):
    """A storage backend failed."""


class FileTooLarge(StorageError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the file is larger than the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


class FileMissing(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no stored file {key!r}")
        self.key = key


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class FileRead:
    """``size`` is the whole object's size; ``chunks`` yields bytes ``[start, size)``."""

    size: int
    start: int
    chunks: AsyncIterator[bytes]


class StorageWriter(Protocol):
    async def write(self, data: bytes) -> None: ...

    async def commit(self) -> StoredFile: ...

    async def abort(self) -> None: ...


class FileStorage(Protocol):
    """Where uploaded files live. Implementations: ``LocalStorage``, ``S3Storage``."""

    name: str

    async def writer(self, key: str, *, max_bytes: int) -> StorageWriter: ...

    async def read(self, key: str, start: int = 0) -> FileRead:
        """Raises ``FileMissing``; a ``start`` past the end yields nothing."""
        ...

    async def size(self, key: str) -> int | None: ...

    async def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error."""
        ...


class Digest:
    """Size, cap and sha256 of bytes as they pass (shared by every writer)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._sha = hashlib.sha256()

    def update(self, data: bytes) -> None:
        """Count and hash ``data``; ``FileTooLarge`` when it takes the total past the cap."""
        if self.size + len(data) > self.max_bytes:
            raise FileTooLarge(self.max_bytes)
        self.size += len(data)
        self._sha.update(data)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def check_key(key: str) -> str:
    """``key`` unchanged when it is a safe relative key, else ``ValueError``."""
    parts = key.split("/")
    if len(key) > 900 or not all(_KEY_PART.match(part) for part in parts):
        raise ValueError(f"invalid storage key {key!r}")
    if any(part in (".", "..") for part in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def sanitise_filename(name: str, *, default: str = "upload.gcode") -> str:
    """A plain, safe file name from what a client sent: no directories, no control or odd characters.

    ``"../../etc/pässwd .gcode"`` → ``"passwd_.gcode"``. Keeps the extension; at most 120 characters.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE_NAME_CHARS.sub("_", ascii_name).strip("._")
    if not cleaned:
        return default
    if len(cleaned) > MAX_FILENAME_CHARS:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            cleaned = f"{stem[: MAX_FILENAME_CHARS - len(ext) - 1]}.{ext}"
        else:
            cleaned = cleaned[:MAX_FILENAME_CHARS]
    return cleaned


async def put_bytes(
    storage: FileStorage, key: str, data: bytes, *, max_bytes: int | None = None
) -> StoredFile:
    """Store ``data`` under ``key`` in one go (tests, small files)."""
    writer = await storage.writer(key, max_bytes=max_bytes if max_bytes is not None else len(data))
    try:
        for offset in range(0, len(data), READ_CHUNK_BYTES):
            await writer.write(data[offset : offset + READ_CHUNK_BYTES])
        return await writer.commit()
    except BaseException:
        await writer.abort()
        raise


async def read_all(storage: FileStorage, key: str) -> bytes:
    """The whole object (tests, small files)."""
    read = await storage.read(key)
    return b"".join([chunk async for chunk in read.chunks])
