"""Taking a job in: the streamed upload → stored G-code (sliced first when it is a mesh) → a job row.

The G-code part of the request goes straight to storage under ``<org>-<job>-<name>``, hashed
and capped as it arrives. A mesh goes to a temporary file, is sliced by the configured ``Slicer``
and its G-code is stored the same way; without a slicer a mesh is refused before it is read.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from cloud.db import new_id
from cloud.errors import CloudError
from cloud.files import Files
from cloud.files.storage import Digest, FileTooLarge, StorageWriter, StoredFile, sanitise_filename
from cloud.jobs.models import Job, JobState
from cloud.jobs.schemas import JobUploadFields
from cloud.jobs.slicer import GCODE_SUFFIXES, NO_SLICER_MESSAGE, SliceOptions, Slicer, is_mesh
from cloud.jobs.upload import Sink, read_upload


def file_key(org_id: str, job_id: str, name: str) -> str:
    """``<org>-<job>-<name>``: one path segment, so it is one segment of the download URL too."""
    return f"{org_id}-{job_id}-{name}"


class PayloadTooLarge(CloudError):
    status = 413
    code = "file_too_large"


class Unprocessable(CloudError):
    status = 422
    code = "unprocessable"


class _TempSink:
    """A mesh on local disk, capped, while it waits to be sliced."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.digest = Digest(max_bytes)
        self._handle: BinaryIO = path.open("wb")

    async def write(self, data: bytes) -> None:
        self.digest.update(data)
        await asyncio.to_thread(self._handle.write, data)

    def close(self) -> None:
        self._handle.close()


@dataclass(slots=True)
class Intake:
    files: Files
    slicer: Slicer | None
    max_bytes: int

    async def receive(
        self, org_id: str, content_type: str | None, body: AsyncIterator[bytes], created_by: str | None
    ) -> Job:
        """A new queued job (not yet added to a session) from the request body."""
        job_id = new_id()
        writer: StorageWriter | None = None
        key = ""
        mesh: _TempSink | None = None
        workdir = Path(tempfile.mkdtemp(prefix="3dpot-upload-"))

        async def open_sink(filename: str) -> Sink:
            nonlocal writer, key, mesh
            name = sanitise_filename(filename)
            suffix = Path(name).suffix.lower()
            if is_mesh(name):
                if self.slicer is None:
                    raise Unprocessable(NO_SLICER_MESSAGE, code="slicing_unavailable")
                mesh = _TempSink(workdir / name, self.max_bytes)
                return mesh
            if suffix not in GCODE_SUFFIXES:
                raise Unprocessable(
                    f"{suffix or 'a file without extension'} is not a print file: upload G-code"
                    " (.gcode) or a mesh (.stl, .3mf, .obj)",
                    code="unsupported_file",
                )
            key = file_key(org_id, job_id, name)
            writer = await self.files.storage.writer(key, max_bytes=self.max_bytes)
            return writer

        stored: StoredFile | None = None
        try:
            form = await read_upload(content_type, body, open_sink)
            fields = _fields(form.fields)
            filename = sanitise_filename(form.filename or "upload.gcode")
            if mesh is not None:
                mesh.close()
                assert self.slicer is not None
                stored, filename, fields = await self._slice(org_id, job_id, mesh.path, workdir, fields)
            else:
                assert writer is not None
                stored = await writer.commit()
                writer = None
        except FileTooLarge as exc:
            raise PayloadTooLarge(f"the file is larger than the limit of {exc.max_bytes} bytes") from None
        finally:
            if mesh is not None:
                mesh.close()
            if writer is not None:
                await writer.abort()
            shutil.rmtree(workdir, ignore_errors=True)
        volume = fields.min_build_volume
        return Job(
            id=job_id,
            org_id=org_id,
            filename=filename,
            file_key=stored.key,
            sha256=stored.sha256,
            size_bytes=stored.size,
            est_print_s=fields.est_print_s,
            filament_mm=fields.filament_mm,
            material=fields.material,
            nozzle_mm=fields.nozzle_mm,
            min_x_mm=volume.x_mm if volume else None,
            min_y_mm=volume.y_mm if volume else None,
            min_z_mm=volume.z_mm if volume else None,
            tags=sorted(set(fields.tags)),
            priority=fields.priority,
            state=JobState.QUEUED.value,
            revision=1,
            offer_attempts=0,
            avoid_printers=[],
            created_by=created_by,
        )

    async def _slice(
        self, org_id: str, job_id: str, mesh_path: Path, workdir: Path, fields: JobUploadFields
    ) -> tuple[StoredFile, str, JobUploadFields]:
        assert self.slicer is not None
        try:
            sliced = await self.slicer.slice(
                mesh_path, workdir, SliceOptions(nozzle_mm=fields.nozzle_mm, material=fields.material)
            )
        except ValueError as exc:
            raise Unprocessable(f"the mesh could not be sliced: {exc}", code="slicing_failed") from None
        name = sanitise_filename(mesh_path.stem + ".gcode")
        key = file_key(org_id, job_id, name)
        writer = await self.files.storage.writer(key, max_bytes=self.max_bytes)
        try:
            with sliced.gcode_path.open("rb") as handle:
                while chunk := await asyncio.to_thread(handle.read, 1024 * 1024):
                    await writer.write(chunk)
            stored = await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        estimates = {"est_print_s": sliced.est_print_s, "filament_mm": sliced.filament_mm}
        return stored, name, fields.model_copy(update=estimates)


def _fields(raw: dict[str, list[str]]) -> JobUploadFields:
    values: dict[str, Any] = {}
    for name, items in raw.items():
        if name == "tags":
            values[name] = items
        elif items and items[-1] != "":
            values[name] = items[-1]
    try:
        return JobUploadFields.model_validate(values)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
