"""Files: where uploads are stored (a local folder, or S3-compatible storage) and signed download URLs.

``storage`` holds the interface and what backends share, ``local`` and ``s3`` the backends,
``urls`` the signed-URL scheme, ``routes`` the download route agents use, and ``open_storage``
builds the backend the settings ask for.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cloud.files.local import LocalStorage
from cloud.files.storage import FileStorage
from cloud.files.urls import UrlSigner
from cloud.settings import CloudSettings


@contextlib.asynccontextmanager
async def open_storage(settings: CloudSettings) -> AsyncIterator[FileStorage]:
    """The storage backend of ``settings.storage``, open for the lifetime of the context."""
    storage_settings = settings.storage
    if storage_settings.backend == "s3":
        from cloud.files.s3 import S3Storage  # noqa: PLC0415 - aiobotocore only when S3 is used

        assert storage_settings.s3 is not None  # checked by StorageSettings
        async with S3Storage.open(storage_settings.s3) as s3:
            yield s3
        return
    yield LocalStorage(storage_settings.local_dir or settings.data_dir / "files")


@dataclass(frozen=True, slots=True)
class Files:
    """What the file routes and the dispatcher share: the storage and the URL signer."""

    storage: FileStorage
    signer: UrlSigner
