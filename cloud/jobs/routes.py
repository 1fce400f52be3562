"""HTTP routes of the farm queue: jobs (upload, list, read, change, cancel).

Viewers read, operators write; everything is scoped to the caller's organisation (another
organisation's job is a 404). Printer commands live in ``command_routes``, the agents' download
route in ``cloud.files.routes``; both are included here.
"""

from __future__ import annotations

import logging
from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, Request, status

from cloud.errors import ErrorBody, error_responses
from cloud.files import routes as file_routes
from cloud.jobs import command_routes, service
from cloud.jobs.intake import Intake
from cloud.jobs.lifecycle import Runtime
from cloud.jobs.models import JobState
from cloud.jobs.schemas import CancelResult, JobDetail, JobOut, JobUpdate, JobUploadFields
from cloud.services import DbSession, Services
from cloud.users.auth import CurrentUser, RequireOperator

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
# Flattened rather than nested (include_router), so every route is a direct child of this router.
router.routes.extend(command_routes.router.routes)
router.routes.extend(file_routes.router.routes)

JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="a job id")]
_OPERATOR: Final = (401, 403, 422)
_UPLOAD_SCHEMA: Final = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "G-code, or a mesh when slicing is available",
        },
        **JobUploadFields.model_json_schema()["properties"],
    },
}


@router.post(
    "/jobs",
    tags=["jobs"],
    summary="Queue a print job: upload G-code (multipart) with what the printer must have",
    description=(
        "A `multipart/form-data` body with one `file` part and optional text fields: `priority`,"
        " `material`, `nozzle_mm`, `min_x_mm`/`min_y_mm`/`min_z_mm`, `tags` (comma-separated or"
        " repeated), `est_print_s`, `filament_mm`. The file is streamed to storage, hashed and"
        " size-capped (413 past `storage.max_upload_mb`). A mesh (STL, 3MF, OBJ) is accepted only"
        " when a slicer is available (422 otherwise). The dispatcher then offers the job to a"
        " fitting idle printer."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=JobOut,
    responses={
        **error_responses(400, *_OPERATOR),
        413: {"model": ErrorBody, "description": "The file is larger than the upload limit"},
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _UPLOAD_SCHEMA}}}
    },
)
async def create_job(
    request: Request, principal: RequireOperator, services: Services, runtime: Runtime, session: DbSession
) -> JobOut:
    max_bytes = int(services.settings.storage.max_upload_mb * 1024 * 1024)
    intake = Intake(files=runtime.files, slicer=runtime.slicer, max_bytes=max_bytes)
    job = await intake.receive(
        principal.org_id,
        request.headers.get("content-type"),
        request.stream(),
        principal.id if principal.kind == "user" else None,
    )
    now = services.now()
    job.created_at = job.updated_at = now
    session.add(job)
    try:
        await session.commit()
    except BaseException:
        await runtime.files.storage.delete(job.file_key)
        raise
    log.info(
        "job %s (%s, %d bytes) queued in organisation %s", job.id, job.filename, job.size_bytes, job.org_id
    )
    runtime.wake()
    return service.job_out(job)


@router.get(
    "/jobs",
    tags=["jobs"],
    summary="List my organisation's jobs, newest first",
    response_model=list[JobOut],
    responses=error_responses(401, 422),
)
async def list_jobs(
    principal: CurrentUser,
    session: DbSession,
    state: Annotated[list[JobState] | None, Query(description="only jobs in these states")] = None,
    printer_id: Annotated[str | None, Query(max_length=64, description="only jobs of this printer")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="skip this many")] = 0,
) -> list[JobOut]:
    jobs = await service.list_jobs(
        session,
        principal.org_id,
        states=[s.value for s in state or []],
        printer_id=printer_id,
        limit=limit,
        offset=offset,
    )
    return [service.job_out(job) for job in jobs]


@router.get(
    "/jobs/{job_id}",
    tags=["jobs"],
    summary="Get one job with its history (the agents' events) and its offers and commands",
    response_model=JobDetail,
    responses=error_responses(401, 404, 422),
)
async def get_job(job_id: JobId, principal: CurrentUser, session: DbSession) -> JobDetail:
    job = await service.get_job(session, principal.org_id, job_id)
    return await service.job_detail(session, job)


@router.patch(
    "/jobs/{job_id}",
    tags=["jobs"],
    summary="Change a queued job's priority or requirements",
    description="Only while the job is queued (409 otherwise). New requirements bump its revision.",
    response_model=JobOut,
    responses=error_responses(*_OPERATOR, 404, 409),
)
async def update_job(
    job_id: JobId,
    body: JobUpdate,
    principal: RequireOperator,
    services: Services,
    runtime: Runtime,
    session: DbSession,
) -> JobOut:
    job = await service.get_job(session, principal.org_id, job_id, lock=True)
    service.apply_update(job, body, services.now())
    await session.commit()
    runtime.wake()
    return service.job_out(job)


@router.post(
    "/jobs/{job_id}/cancel",
    tags=["jobs"],
    summary="Cancel a job",
    description=(
        "A queued job is cancelled at once. An offered or accepted one is cancelled and its printer"
        " told to drop it (`job.revoke`). A printing, paused or interrupted one gets a `print.cancel`"
        " command: it becomes cancelled when the agent reports `job.cancelled`. Follow the command"
        " with GET /api/commands/{cmd_id}. A finished job is a 409."
    ),
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancelResult,
    responses=error_responses(*_OPERATOR, 404, 409),
)
async def cancel_job(
    job_id: JobId, principal: RequireOperator, services: Services, runtime: Runtime, session: DbSession
) -> CancelResult:
    job = await service.get_job(session, principal.org_id, job_id, lock=True)
    created_by = principal.id if principal.kind == "user" else None
    cmd_id = await service.cancel_job(session, job, services.settings.jobs, services.now(), created_by)
    await session.commit()
    runtime.wake()
    return CancelResult(job=service.job_out(job), cmd_id=cmd_id)
