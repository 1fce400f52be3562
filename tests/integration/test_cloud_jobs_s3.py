"""The S3-compatible file storage against a real local S3 server (moto's server mode on loopback)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from cloud.files.s3 import S3Storage
from cloud.files.storage import FileMissing, FileTooLarge, put_bytes, read_all
from cloud.settings import S3Storage as S3Settings
from tests.fixtures.broker import free_port, missing_infrastructure
from tests.fixtures.cloud import CloudFactory
from tests.integration.test_cloud_jobs import make_cloud, runtime, upload

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - optional test dependency
    except ImportError as exc:
        missing_infrastructure(f"moto[server] is not installed: {exc}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_settings(endpoint: str, bucket: str) -> S3Settings:
    return S3Settings(
        endpoint_url=endpoint,
        bucket=bucket,
        access_key_id=SecretStr("test-access-key"),
        secret_access_key=SecretStr("test-secret-key-123"),
        create_bucket=True,
        part_size_mb=5,
        key_prefix="farm/",
    )


@pytest.mark.parametrize("size", [0, 1000, 12 * 1024 * 1024 + 17])  # empty, one PutObject, 3-part upload
async def test_s3_storage_streams_hashes_and_reads_back(s3_endpoint: str, size: int) -> None:
    data = os.urandom(size)
    async with S3Storage.open(s3_settings(s3_endpoint, "files-a")) as storage:
        stored = await put_bytes(storage, "org-job-part.gcode", data, max_bytes=size + 1)
        assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
        assert await storage.size("org-job-part.gcode") == size
        assert await read_all(storage, "org-job-part.gcode") == data
        tail = await storage.read("org-job-part.gcode", start=max(0, size - 100))
        assert b"".join([c async for c in tail.chunks]) == data[max(0, size - 100) :]
        await storage.delete("org-job-part.gcode")
        assert await storage.size("org-job-part.gcode") is None
        with pytest.raises(FileMissing):
            await storage.read("org-job-part.gcode")


async def test_s3_upload_over_the_cap_leaves_nothing(s3_endpoint: str) -> None:
    async with S3Storage.open(s3_settings(s3_endpoint, "files-b")) as storage:
        writer = await storage.writer("too-big.gcode", max_bytes=6 * 1024 * 1024)
        await writer.write(b"x" * (5 * 1024 * 1024))  # a first part goes out
        with pytest.raises(FileTooLarge):
            await writer.write(b"x" * (2 * 1024 * 1024))
        await writer.abort()
        assert await storage.size("too-big.gcode") is None
        uploads = await storage.client.list_multipart_uploads(Bucket="files-b")
        assert not uploads.get("Uploads")


async def test_jobs_on_s3_storage_download_by_signed_url(
    cloud_factory: CloudFactory, s3_endpoint: str
) -> None:
    settings = s3_settings(s3_endpoint, "files-c").model_dump(mode="json")
    settings["secret_access_key"] = "test-secret-key-123"
    settings["access_key_id"] = "test-access-key"
    cloud = await make_cloud(cloud_factory, storage={"backend": "s3", "s3": settings})
    data = b"G28\nG1 X5\n" * 100
    created = await upload(cloud, data=data)
    assert created.status_code == 201, created.text
    job = created.json()
    files = runtime(cloud).files
    key = next(iter([k async for k in _keys(files.storage)]))
    url = files.signer.url(key, cloud.now()).removeprefix(cloud.settings.public_base_url)
    response = await cloud.client.get(url)
    assert response.status_code == 200 and response.content == data
    assert hashlib.sha256(response.content).hexdigest() == job["sha256"]
    ranged = await cloud.client.get(url, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == data[10:20]


async def _keys(storage: object):  # type: ignore[no-untyped-def]
    assert isinstance(storage, S3Storage)
    listed = await storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=storage.prefix)
    for item in listed.get("Contents", []):
        yield item["Key"].removeprefix(storage.prefix)
