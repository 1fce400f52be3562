"""Fetching a job's G-code over HTTP(S): streamed to disk, resumable, size-capped, verified.

``download()`` streams the body into ``<dest>.part`` (never the whole file in memory), hashing as
it writes. An existing ``.part`` — left by a dropped connection, a retry or a restart of the agent —
is hashed once and resumed with ``Range: bytes=<size>-``:

- ``206`` whose ``Content-Range`` starts at that size: appended;
- ``200`` (the server ignored the range): the ``.part`` is emptied and the body taken from byte 0;
- ``416`` (range not satisfiable): the ``.part`` is emptied and the request sent again without a range.

The download stops at the first chunk that would take the file past ``expected_size`` (which is
never more than ``max_bytes``). Once ``expected_size`` bytes are in, their sha256 is compared with
``expected_sha256``; the file is fsynced, renamed atomically to ``dest`` and the directory fsynced.
If a ``.part`` already holds ``expected_size`` bytes, no request is made (nor for an empty file).
URLs appear in logs and messages without their query string, which holds a signed URL's secret.

Exception tree (``code`` is the ``AckCode`` to reject the offer with; each message is for a person)::

    DownloadError                 .code: AckCode
     ├── DownloadFailedError      download_failed  an HTTP status we do not retry (4xx other than
     │                                             416, 3xx left over), a malformed URL, or every
     │                                             attempt failed; the .part is kept for a later resume
     ├── SizeMismatchError        size_mismatch    the server has more (or, by Content-Length or
     │                                             Content-Range, other) bytes than the manifest says
     ├── HashMismatchError        hash_mismatch    the bytes do not hash to ``expected_sha256``
     └── StorageFullError         storage_full     over ``max_bytes``, or the disk is (or would be) full

The ``.part`` is removed on ``SizeMismatchError``, ``HashMismatchError`` and ``StorageFullError``
(except over ``max_bytes``, which is refused before the ``.part`` is touched); it is kept on
``DownloadFailedError`` and on cancellation, so a later call resumes it. Other ``OSError``\\ s on
the file (permissions, I/O errors) are not ours to hide and propagate.

Retried, with jittered exponential backoff, up to ``attempts`` requests in all: connection errors,
timeouts, ``5xx``, a body that ends (or a connection that drops) before ``expected_size`` bytes,
and a 206 for a range we did not ask for. A hash mismatch on a file assembled from more than one
response (or from a ``.part`` we found on disk) is retried once from byte 0, since a stale or
changed prefix is the likely cause. Timeouts are the client's: pass an ``httpx.AsyncClient`` with
the timeouts you want.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import io
import logging
import os
import random
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import httpx

from contract.acks import AckCode

log = logging.getLogger(__name__)

PREFIX_READ_BYTES = 1024 * 1024
"""How much of an existing ``.part`` is read at a time while hashing it."""

PART_SUFFIX = ".part"
"""Appended to ``dest`` for the file being written."""

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
_DISK_FULL_ERRNOS = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if code is not None
)


class DownloadError(Exception):
    """A job file that could not be fetched; ``code`` is the ack code that says why."""

    code: ClassVar[AckCode] = AckCode.DOWNLOAD_FAILED


class DownloadFailedError(DownloadError):
    """The server refused, or every attempt failed."""

    code = AckCode.DOWNLOAD_FAILED


class SizeMismatchError(DownloadError):
    """The server's file is not the size the manifest declares."""

    code = AckCode.SIZE_MISMATCH


class HashMismatchError(DownloadError):
    """The downloaded bytes do not hash to the manifest's sha256."""

    code = AckCode.HASH_MISMATCH


class StorageFullError(DownloadError):
    """The file is over the agent's cap, or the disk has no room for it."""

    code = AckCode.STORAGE_FULL


class _Retry(Exception):
    """This attempt failed in a way the next one may not (internal; never leaves ``download``)."""


_RETRYABLE: tuple[type[Exception], ...] = (_Retry, *_TRANSIENT_ERRORS)


class _PartFile:
    """The ``.part`` file and the running sha256 of what it holds.

    Blocking: the async code calls the file-touching methods through ``asyncio.to_thread``.
    ``from_scratch`` is True while every byte came from one response of this download.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size_bytes = 0
        self.from_scratch = True
        self._sha256 = hashlib.sha256()
        self._file: io.BufferedRandom | None = None

    def open(self) -> None:
        """Open (or create) the file and hash what it already holds."""
        self._file = self.path.open("a+b")  # appends always land at the end, even after truncate()
        self._file.seek(0)
        while block := self._file.read(PREFIX_READ_BYTES):
            self._sha256.update(block)
            self.size_bytes += len(block)
        self.from_scratch = self.size_bytes == 0

    def free_bytes(self) -> int:
        """Free space on the file system holding the file."""
        return shutil.disk_usage(self.path.parent).free

    def reset(self) -> None:
        """Empty the file, to be written again from byte 0."""
        assert self._file is not None, "reset() before open()"
        self._file.truncate(0)
        self._sha256 = hashlib.sha256()
        self.size_bytes = 0
        self.from_scratch = True

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` and hash it; a full disk raises here, not later."""
        assert self._file is not None, "write() before open()"
        self._file.write(chunk)
        self._file.flush()
        self._sha256.update(chunk)
        self.size_bytes += len(chunk)

    def sha256_hex(self) -> str:
        return self._sha256.hexdigest()

    def commit(self, dest: Path) -> None:
        """fsync, close, rename to ``dest`` atomically, and fsync the directory so the rename lasts."""
        assert self._file is not None, "commit() before open()"
        self._file.flush()
        os.fsync(self._file.fileno())
        self.close()
        os.replace(self.path, dest)
        if os.name == "posix":
            directory = os.open(dest.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def _disk_full_as_storage_full(part: _PartFile) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno not in _DISK_FULL_ERRNOS:
            raise
        raise StorageFullError(f"the disk holding {part.path.parent} is full ({exc.strerror})") from exc


def _retry_delay_s(failures: int, first_s: float, max_s: float) -> float:
    """Exponential backoff with jitter: uniform in [ceiling/2, ceiling], ceiling doubling per failure."""
    ceiling_s = min(max_s, first_s * 2 ** (failures - 1))
    return random.uniform(ceiling_s / 2, ceiling_s)


def _redacted(url: str) -> str:
    """``url`` for logs and messages: no query, fragment or credentials (signed URLs keep secrets there)."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="").geturl()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return str(exc)


class _Fetch:
    """One request's worth of work: ask for what the ``.part`` lacks and append what arrives."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        part: _PartFile,
        expected_size: int,
        on_progress: Callable[[int, int], None] | None,
    ) -> None:
        self.client = client
        self.url = url
        self.name = _redacted(url)
        self.part = part
        self.expected_size = expected_size
        self.on_progress = on_progress

    async def run(self) -> None:
        """Returns once the ``.part`` holds ``expected_size`` bytes; raises ``_Retry`` or a DownloadError."""
        while True:
            offset = self.part.size_bytes
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            request = self.client.stream("GET", self.url, headers=headers, follow_redirects=True)
            async with request as response:
                if response.status_code != 416 or not offset:
                    await self._receive(response, offset)
                    return
            # Without a range the next request cannot get 416 again, so this loops at most once.
            log.info("%s: range from byte %d not satisfiable; downloading from byte 0", self.name, offset)
            await asyncio.to_thread(self.part.reset)

    async def _receive(self, response: httpx.Response, offset: int) -> None:
        status = response.status_code
        if status == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if match is None or int(match[1]) != offset:
                await asyncio.to_thread(self.part.reset)
                raise _Retry(
                    f"asked for bytes from {offset} but the server sent "
                    f"Content-Range {response.headers.get('Content-Range')!r}"
                )
            if match[3] != "*" and int(match[3]) != self.expected_size:
                raise SizeMismatchError(
                    f"the server's file is {match[3]} bytes but the manifest says {self.expected_size}"
                )
        elif status == 200:
            if offset:
                log.info("%s: server ignored the range; downloading from byte 0", self.name)
                await asyncio.to_thread(self.part.reset)
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) != self.expected_size:
                raise SizeMismatchError(
                    f"the server announces {int(length)} bytes but the manifest says {self.expected_size}"
                )
        elif status >= 500:
            raise _Retry(f"the server answered HTTP {status} {response.reason_phrase}")
        else:
            raise DownloadFailedError(
                f"the server answered HTTP {status} {response.reason_phrase} for {self.name}; not retrying"
            )
        if self.part.size_bytes:
            self.part.from_scratch = False
        # Chunks as they come off the socket (at most 64 KiB): re-chunking would buffer bytes that a
        # dropped connection then loses, and the resume would fetch them again.
        async for chunk in response.aiter_raw():
            if self.part.size_bytes + len(chunk) > self.expected_size:
                raise SizeMismatchError(
                    f"the server sent more than the {self.expected_size} bytes the manifest declares; "
                    f"stopped at {self.part.size_bytes + len(chunk)}"
                )
            await asyncio.to_thread(self.part.write, chunk)
            if self.on_progress is not None:
                self.on_progress(self.part.size_bytes, self.expected_size)
        if self.part.size_bytes < self.expected_size:
            raise _Retry(f"the response ended after {self.part.size_bytes} of {self.expected_size} bytes")


async def download(
    client: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    expected_size: int,
    expected_sha256: str,
    max_bytes: int,
    attempts: int = 5,
    on_progress: Callable[[int, int], None] | None = None,
    first_retry_delay_s: float = 0.5,
    max_retry_delay_s: float = 30.0,
) -> Path:
    """Fetch ``url`` into ``dest`` and return ``dest`` once its size and sha256 are verified.

    ``on_progress(received_bytes, expected_size)`` is called after each chunk is written. Raises a
    ``DownloadError`` subclass (see the module docstring); the parent of ``dest`` must exist.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    if expected_size < 0:
        raise ValueError(f"expected_size must not be negative, got {expected_size}")
    if not _SHA256_HEX.fullmatch(expected_sha256):
        raise ValueError(f"expected_sha256 must be 64 hex digits, got {expected_sha256!r:.80}")
    if expected_size > max_bytes:
        raise StorageFullError(
            f"the file is {expected_size} bytes; this printer stores at most {max_bytes} bytes per job"
        )
    part = _PartFile(dest.with_name(dest.name + PART_SUFFIX))
    fetch = _Fetch(client, url, part, expected_size, on_progress)
    name = fetch.name
    try:
        with _disk_full_as_storage_full(part):
            await asyncio.to_thread(part.open)
            if part.size_bytes > expected_size:
                await asyncio.to_thread(part.reset)
            elif part.size_bytes:
                log.info("%s: resuming from byte %d of %d", name, part.size_bytes, expected_size)
            free_bytes = await asyncio.to_thread(part.free_bytes)
            if free_bytes < expected_size - part.size_bytes:
                raise StorageFullError(
                    f"{expected_size - part.size_bytes} more bytes are needed but only {free_bytes} "
                    f"are free on {part.path.parent}"
                )
            last_failure = ""
            for attempt in range(1, attempts + 1):
                try:
                    if part.size_bytes < expected_size:
                        await fetch.run()
                except _RETRYABLE as exc:
                    last_failure = _describe(exc)
                    if attempt == attempts:
                        break
                    delay_s = _retry_delay_s(attempt, first_retry_delay_s, max_retry_delay_s)
                    log.warning(
                        "%s: attempt %d of %d failed (%s); retrying in %.2f s",
                        name,
                        attempt,
                        attempts,
                        last_failure,
                        delay_s,
                    )
                    await asyncio.sleep(delay_s)
                    continue
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    raise DownloadFailedError(f"cannot download {name}: {_describe(exc)}") from exc
                digest = await asyncio.to_thread(part.sha256_hex)
                if digest == expected_sha256.lower():
                    await asyncio.to_thread(part.commit, dest)
                    log.info("%s: %d bytes verified and stored as %s", name, expected_size, dest)
                    return dest
                if part.from_scratch or attempt == attempts:
                    raise HashMismatchError(
                        f"the downloaded file hashes to sha256 {digest}, "
                        f"but the manifest says {expected_sha256.lower()}"
                    )
                last_failure = "the file assembled from more than one piece does not verify"
                log.warning("%s: %s; downloading again from byte 0", name, last_failure)
                await asyncio.to_thread(part.reset)
            raise DownloadFailedError(f"gave up on {name} after {attempts} attempts; last: {last_failure}")
    except (SizeMismatchError, HashMismatchError, StorageFullError):
        part.remove()
        raise
    finally:
        part.close()
