"""OctoPrint's file routes: upload (streamed), list, show, select, delete, download.

An upload with `print=true` asks the core to print it now (`print_now`); when the core refuses (the
printer is busy or offline) the upload still succeeds and the answer says `effectivePrint: false`, as
OctoPrint does. `select=true` makes the file the next queued job (`enqueue`), which OctoPrint's `start`
(`POST /api/job`) then starts. There is no SD card: `/api/files/sdcard` answers 404.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse

from edge_agent.control import AgentControl, FileView
from edge_agent.errors import AgentRefusal, Invalid, NotFound
from edge_agent.http.metrics import HttpMetrics
from edge_agent.http.names import is_plain_name, sanitise_filename
from edge_agent.http.octoprint_models import (
    FileCommand,
    FileEntry,
    FileList,
    FileRefs,
    UploadedFile,
    UploadedFiles,
    UploadOut,
)
from edge_agent.http.uploads import UploadRejected, receive_upload

log = logging.getLogger(__name__)

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "print": {"type": "string", "enum": ["true", "false"]},
                        "select": {"type": "string", "enum": ["true", "false"]},
                        "path": {"type": "string"},
                    },
                }
            }
        },
    }
}
_SD_METHODS = ["GET", "POST", "DELETE"]
FileName = Annotated[str, Path(min_length=1, max_length=255)]


def octoprint_files_router(control: AgentControl, metrics: HttpMetrics) -> APIRouter:
    router = APIRouter(tags=["octoprint"])

    async def stored(name: str) -> FileView:
        if not is_plain_name(name):
            raise NotFound(f"no file named {name!r}")
        return await control.file(name)

    @router.post("/api/files/local", status_code=201, openapi_extra=_UPLOAD_BODY)
    async def upload(request: Request, response: Response) -> UploadOut:
        try:
            received = await receive_upload(
                request, into=control.files_dir, max_file_bytes=control.max_upload_bytes
            )
        except UploadRejected as exc:
            metrics.rejected(exc.reason)
            raise
        try:
            try:
                name = sanitise_filename(received.filename, received.fields.get("path", ""))
            except Invalid as exc:
                raise UploadRejected(str(exc), reason="bad_name") from None
            file = await control.add_file(
                name, received.temp_path, sha256=received.sha256, size_bytes=received.size_bytes
            )
        except UploadRejected as exc:
            metrics.rejected(exc.reason)
            raise
        except AgentRefusal:
            metrics.rejected("refused")
            raise
        finally:
            received.discard()  # nothing left to remove once the core has moved it
        log.info("upload stored: %s (%d bytes, sha256 %s)", file.name, file.size_bytes, file.sha256)
        effective_print = effective_select = False
        if received.flag("print"):
            try:
                await control.print_now(file.name, source="upload")
                effective_print = effective_select = True
            except AgentRefusal as exc:
                log.info("upload %s stored but not printed: %s", file.name, exc)
        if received.flag("select") and not effective_select:
            try:
                await control.enqueue(file.name, source="upload")
                effective_select = True
            except AgentRefusal as exc:
                log.info("upload %s stored but not queued: %s", file.name, exc)
        refs = _refs(request, file.name)
        response.headers["Location"] = refs.resource
        local = UploadedFile(name=file.name, display=file.name, path=file.name, refs=refs)
        return UploadOut(
            effective_print=effective_print,
            effective_select=effective_select,
            files=UploadedFiles(local=local),
        )

    @router.get("/api/files")
    @router.get("/api/files/local")
    async def list_files(request: Request) -> FileList:
        files = await control.files()
        usage = await asyncio.to_thread(shutil.disk_usage, control.files_dir)
        return FileList(files=[_entry(request, f) for f in files], free=usage.free, total=usage.total)

    @router.get("/api/files/local/{name}")
    async def get_file(request: Request, name: FileName) -> FileEntry:
        return _entry(request, await stored(name))

    @router.post("/api/files/local/{name}", status_code=204)
    async def file_command(name: FileName, body: FileCommand) -> Response:
        file = await stored(name)
        if body.print:
            await control.print_now(file.name, source="api")
        else:
            await control.enqueue(file.name, source="api")
        return Response(status_code=204)

    @router.delete("/api/files/local/{name}", status_code=204)
    async def delete_file(name: FileName) -> Response:
        if not is_plain_name(name):
            raise NotFound(f"no file named {name!r}")
        await control.delete_file(name)
        return Response(status_code=204)

    @router.get("/downloads/files/local/{name}", response_model=None)
    async def download(name: FileName) -> FileResponse:
        file = await stored(name)
        if not await asyncio.to_thread(file.path.is_file):
            raise NotFound(f"file {name!r} is listed but its bytes are gone")
        return FileResponse(file.path, media_type="text/x.gcode", filename=file.name)

    @router.api_route("/api/files/sdcard", methods=["GET", "POST"], include_in_schema=False)
    @router.api_route("/api/files/sdcard/{rest:path}", methods=_SD_METHODS, include_in_schema=False)
    async def sdcard() -> Response:
        raise NotFound("this printer host has no SD card: upload to 'local'")

    return router


def _refs(request: Request, name: str) -> FileRefs:
    base = str(request.base_url).rstrip("/")
    quoted = quote(name, safe="")
    return FileRefs(
        resource=f"{base}/api/files/local/{quoted}", download=f"{base}/downloads/files/local/{quoted}"
    )


def _entry(request: Request, file: FileView) -> FileEntry:
    return FileEntry(
        name=file.name,
        display=file.name,
        path=file.name,
        size=file.size_bytes,
        date=file.uploaded_ms // 1000,
        hash=file.sha256,
        refs=_refs(request, file.name),
    )
