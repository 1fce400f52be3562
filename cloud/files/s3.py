"""Files in an S3-compatible bucket (MinIO at scale), through aiobotocore.

A write is streamed: bytes are buffered up to ``part_size_mb`` and sent as parts of a multipart
upload, so memory stays bounded whatever the file size; a file smaller than one part is one
``PutObject``. ``abort`` aborts the multipart upload (nothing is left in the bucket). botocore's
errors are mapped to ``StorageError`` here, at the one seam where they can occur.

``S3Storage.open(settings)`` is an async context manager owning the client (one per app).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from cloud.files.storage import READ_CHUNK_BYTES, Digest, FileMissing, FileRead, StorageError, StoredFile
from cloud.files.storage import check_key as _check_key
from cloud.settings import S3Storage as S3Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in _MISSING_CODES


class S3Writer:
    def __init__(self, storage: S3Storage, key: str, max_bytes: int) -> None:
        self._storage = storage
        self._key = key
        self._object = storage.object_key(key)
        self._digest = Digest(max_bytes)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []

    async def write(self, data: bytes) -> None:
        self._digest.update(data)
        self._buffer += data
        if len(self._buffer) >= self._storage.part_bytes:
            await self._send_part()

    async def _send_part(self) -> None:
        client = self._storage.client
        try:
            if self._upload_id is None:
                created = await client.create_multipart_upload(Bucket=self._storage.bucket, Key=self._object)
                self._upload_id = created["UploadId"]
            number = len(self._parts) + 1
            sent = await client.upload_part(
                Bucket=self._storage.bucket,
                Key=self._object,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=bytes(self._buffer),
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 upload of {self._key!r} failed: {exc}") from exc
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})
        self._buffer.clear()

    async def commit(self) -> StoredFile:
        client = self._storage.client
        try:
            if self._upload_id is None:
                await client.put_object(
                    Bucket=self._storage.bucket, Key=self._object, Body=bytes(self._buffer)
                )
            else:
                if self._buffer:
                    await self._send_part()
                await client.complete_multipart_upload(
                    Bucket=self._storage.bucket,
                    Key=self._object,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 upload of {self._key!r} failed: {exc}") from exc
        self._buffer.clear()
        return StoredFile(key=self._key, size=self._digest.size, sha256=self._digest.hexdigest())

    async def abort(self) -> None:
        self._buffer.clear()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        try:
            await self._storage.client.abort_multipart_upload(
                Bucket=self._storage.bucket, Key=self._object, UploadId=upload_id
            )
        except (BotoCoreError, ClientError) as exc:
            log.warning("could not abort the S3 upload of %s: %s", self._key, exc)


class S3Storage:
    name = "s3"

    def __init__(self, client: S3Client, settings: S3Settings) -> None:
        self.client = client
        self.bucket = settings.bucket
        self.prefix = settings.key_prefix
        self.part_bytes = settings.part_size_mb * 1024 * 1024

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: S3Settings) -> AsyncIterator[S3Storage]:
        """A storage with its client, closed on exit; creates the bucket when told to."""
        session = get_session()
        config = AioConfig(s3={"addressing_style": settings.addressing_style}, retries={"max_attempts": 3})
        async with session.create_client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id.get_secret_value() if settings.access_key_id else None,
            aws_secret_access_key=(
                settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
            ),
            config=config,
        ) as client:
            storage = cls(client, settings)
            if settings.create_bucket:
                await storage.ensure_bucket()
            yield storage

    async def ensure_bucket(self) -> None:
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if not _is_missing(exc):
                raise StorageError(f"S3 bucket {self.bucket!r}: {exc}") from exc
            await self.client.create_bucket(Bucket=self.bucket)
            log.info("created S3 bucket %s", self.bucket)

    def object_key(self, key: str) -> str:
        return f"{self.prefix}{_check_key(key)}"

    async def writer(self, key: str, *, max_bytes: int) -> S3Writer:
        return S3Writer(self, key, max_bytes)

    async def size(self, key: str) -> int | None:
        try:
            head = await self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise StorageError(f"S3 head of {key!r} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 head of {key!r} failed: {exc}") from exc
        return int(head["ContentLength"])

    async def read(self, key: str, start: int = 0) -> FileRead:
        size = await self.size(key)
        if size is None:
            raise FileMissing(key)
        start = min(max(start, 0), size)
        if start >= size:
            return FileRead(size=size, start=start, chunks=_nothing())
        try:
            got = await self.client.get_object(
                Bucket=self.bucket, Key=self.object_key(key), Range=f"bytes={start}-"
            )
        except ClientError as exc:
            if _is_missing(exc):
                raise FileMissing(key) from exc
            raise StorageError(f"S3 read of {key!r} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 read of {key!r} failed: {exc}") from exc
        return FileRead(size=size, start=start, chunks=_body_chunks(got["Body"]))

    async def delete(self, key: str) -> None:
        try:
            await self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 delete of {key!r} failed: {exc}") from exc


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _body_chunks(body: object) -> AsyncIterator[bytes]:
    stream = body
    try:
        async for chunk in stream.iter_chunks(READ_CHUNK_BYTES):  # type: ignore[attr-defined]
            yield chunk
    except (BotoCoreError, ClientError, OSError) as exc:
        raise StorageError(f"S3 read failed part-way: {exc}") from exc
    finally:
        stream.close()  # type: ignore[attr-defined]
