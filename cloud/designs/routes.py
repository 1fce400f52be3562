"""HTTP routes of the design studio: sessions, turns, undo, the model files, the preview, print.

Any member of the organisation converses with the studio; queueing a print needs the operator role
(as any job). Another organisation's session is a 404. The preview is rendered in the background:
a 202 with ``Retry-After`` while it is being made, then the PNG (cached by spec hash).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from cloud.designs import service
from cloud.designs.geometry import GeometryError
from cloud.designs.lifecycle import Designs
from cloud.designs.models import DesignRender, DesignSession, RenderStatus
from cloud.designs.printing import print_design
from cloud.designs.schemas import (
    DesignCreate,
    DesignDetail,
    DesignSummary,
    PrintIn,
    PublishIn,
    RenderPending,
    TurnIn,
    TurnResult,
)
from cloud.errors import Conflict, ErrorBody, error_responses
from cloud.jobs import service as jobs_service
from cloud.jobs.intake import Unprocessable
from cloud.jobs.lifecycle import Runtime
from cloud.jobs.schemas import JobOut
from cloud.market import listings as market_listings
from cloud.market.schemas import ListingOut
from cloud.services import DbSession, Services
from cloud.users.auth import CurrentUser, Principal, RequireOperator

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/designs", tags=["designs"])

DesignId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="a design session id")
]
RETRY_AFTER_S: Final = 1
_READ: Final = error_responses(401, 404, 422)
_NO_DESIGN: Final[dict[int | str, dict[str, Any]]] = {
    409: {"model": ErrorBody, "description": "The session has no design yet"}
}


def _by(principal: Principal) -> str | None:
    return principal.id if principal.kind == "user" else None


@router.post(
    "",
    summary="Start a design session, optionally with its first turn",
    status_code=status.HTTP_201_CREATED,
    response_model=DesignDetail,
    responses=error_responses(401, 422),
)
async def create_design(
    body: DesignCreate, principal: CurrentUser, services: Services, designs: Designs, session: DbSession
) -> DesignDetail:
    now = services.now()
    design = service.new_design(principal.org_id, _by(principal), body.lang, body.title, now)
    session.add(design)
    await session.flush()
    last = None
    if body.text is not None:
        outcome = await service.take_turn(session, designs, design, body.text, now)
        last = await service.turn_result(designs, design, outcome)
    await session.commit()
    await _render_soon(designs, design)
    return await service.detail_of(session, designs, design, last)


@router.get(
    "",
    summary="List my organisation's design sessions, most recently changed first",
    response_model=list[DesignSummary],
    responses=error_responses(401, 422),
)
async def list_designs(
    principal: CurrentUser,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[DesignSummary]:
    designs = await service.list_designs(session, principal.org_id, limit, offset)
    return [service.summary_of(d) for d in designs]


@router.get(
    "/{design_id}",
    summary="Get a design session: its spec, version, turns and printability",
    response_model=DesignDetail,
    responses=_READ,
)
async def get_design(
    design_id: DesignId, principal: CurrentUser, designs: Designs, session: DbSession
) -> DesignDetail:
    design = await service.get_design(session, principal.org_id, design_id)
    return await service.detail_of(session, designs, design)


@router.post(
    "/{design_id}/turns",
    summary="Say something to the studio; it answers with the design, a question or a refusal",
    response_model=TurnResult,
    responses={**_READ, **error_responses(409)},
)
async def add_turn(
    design_id: DesignId,
    body: TurnIn,
    principal: CurrentUser,
    services: Services,
    designs: Designs,
    session: DbSession,
) -> TurnResult:
    design = await service.get_design(session, principal.org_id, design_id, lock=True)
    outcome = await service.take_turn(session, designs, design, body.text, services.now())
    result = await service.turn_result(designs, design, outcome)
    await _commit_turn(session)
    await _render_soon(designs, design)
    return result


@router.post(
    "/{design_id}/undo",
    summary="Go back to the previous design of this session",
    response_model=TurnResult,
    responses={**_READ, **error_responses(409)},
)
async def undo(
    design_id: DesignId, principal: CurrentUser, services: Services, designs: Designs, session: DbSession
) -> TurnResult:
    design = await service.get_design(session, principal.org_id, design_id, lock=True)
    outcome = await service.take_turn(session, designs, design, "undo", services.now(), undo=True)
    result = await service.turn_result(designs, design, outcome)
    await _commit_turn(session)
    return result


async def _commit_turn(session: DbSession) -> None:
    """Two turns at once on one session (SQLite has no row lock): the second is a 409 to retry."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            "another turn of this session was answered meanwhile: send it again", code="turn_conflict"
        ) from None


async def _render_soon(designs: Designs, design: DesignSession) -> None:
    if design.spec is not None:
        await designs.renderer.request(design.spec)


async def _model(designs: Designs, design: DesignSession, kind: str) -> tuple[bytes, str]:
    if design.spec is None:
        raise Conflict("this session has no design yet: describe one first", code="no_design")
    try:
        mesh = await designs.meshes.mesh(design.spec)
    except GeometryError as exc:
        raise Unprocessable(f"the design cannot be built: {exc}", code="not_buildable") from None
    family = str(design.spec["family"]).replace("_", "-")
    name = f"{family}-{design.id[:8]}-v{design.version}.{kind}"
    return (mesh.stl_bytes() if kind == "stl" else mesh.threemf_bytes()), name


@router.get(
    "/{design_id}/model.stl",
    summary="Download the current design as binary STL",
    response_class=Response,
    responses={**_READ, **_NO_DESIGN, 200: {"content": {"model/stl": {}}, "description": "binary STL"}},
)
async def model_stl(
    design_id: DesignId, principal: CurrentUser, designs: Designs, session: DbSession
) -> Response:
    design = await service.get_design(session, principal.org_id, design_id)
    data, name = await _model(designs, design, "stl")
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type="model/stl", headers=headers)


@router.get(
    "/{design_id}/model.3mf",
    summary="Download the current design as 3MF",
    response_class=Response,
    responses={**_READ, **_NO_DESIGN, 200: {"content": {"model/3mf": {}}, "description": "3MF package"}},
)
async def model_3mf(
    design_id: DesignId, principal: CurrentUser, designs: Designs, session: DbSession
) -> Response:
    design = await service.get_design(session, principal.org_id, design_id)
    data, name = await _model(designs, design, "3mf")
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type="model/3mf", headers=headers)


@router.get(
    "/{design_id}/preview.png",
    summary="A rendered preview of the current design (202 with Retry-After while it is being rendered)",
    response_class=Response,
    responses={
        **_READ,
        **_NO_DESIGN,
        200: {"content": {"image/png": {}}, "description": "the preview"},
        202: {"model": RenderPending, "description": "rendering: ask again after Retry-After seconds"},
    },
)
async def preview(
    design_id: DesignId, principal: CurrentUser, designs: Designs, session: DbSession
) -> Response:
    design = await service.get_design(session, principal.org_id, design_id)
    if design.spec is None:
        raise Conflict("this session has no design yet: describe one first", code="no_design")
    render: DesignRender = await designs.renderer.request(design.spec)
    if render.status == RenderStatus.DONE.value and render.png is not None:
        headers = {"Cache-Control": "private, max-age=3600", "ETag": f'"{render.spec_hash}"'}
        return Response(render.png, media_type="image/png", headers=headers)
    if render.status == RenderStatus.FAILED.value:
        raise Unprocessable(f"the preview could not be rendered: {render.error}", code="render_failed")
    pending = RenderPending(
        status="rendering" if render.status == "rendering" else "pending", retry_after_s=RETRY_AFTER_S
    )
    return JSONResponse(pending.model_dump(), status_code=202, headers={"Retry-After": str(RETRY_AFTER_S)})


@router.post(
    "/{design_id}/print",
    summary="Slice the current design and queue it as a farm job",
    description=(
        "Builds the model, checks that it prints (422 with the reasons otherwise: walls too thin, too big"
        " for the chosen printer), slices it with the cloud's slicer and queues the job like an uploaded"
        " mesh. `printer_id` takes that printer's material and nozzle as the job's requirements."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=JobOut,
    responses={**error_responses(401, 403, 404, 422), **_NO_DESIGN},
)
async def print_it(
    design_id: DesignId,
    body: PrintIn,
    principal: RequireOperator,
    services: Services,
    designs: Designs,
    jobs: Runtime,
    session: DbSession,
) -> JobOut:
    design = await service.get_design(session, principal.org_id, design_id)
    max_bytes = int(services.settings.storage.max_upload_mb * 1024 * 1024)
    job = await print_design(session, designs, jobs, design, body, _by(principal), max_bytes)
    job.created_at = job.updated_at = services.now()
    session.add(job)
    try:
        await session.commit()
    except BaseException:
        await jobs.files.storage.delete(job.file_key)
        raise
    log.info("design %s v%d queued as job %s", design.id, design.version, job.id)
    jobs.wake()
    return jobs_service.job_out(job)


@router.post(
    "/{design_id}/publish",
    summary="List the current design on the marketplace, with its generated STL as the listing's file",
    description=(
        "The listing carries the design's spec as its parametric source and the model as its file, so"
        " buyers can download it or print it straight away. Terms (price, licence, royalty, tags) are"
        " checked as `POST /api/market/listings` checks them."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=ListingOut,
    responses={**error_responses(400, 401, 403, 404, 422), **_NO_DESIGN},
)
async def publish(
    design_id: DesignId,
    body: PublishIn,
    principal: RequireOperator,
    services: Services,
    designs: Designs,
    jobs: Runtime,
    session: DbSession,
) -> ListingOut:
    design = await service.get_design(session, principal.org_id, design_id)
    stl, name = await _model(designs, design, "stl")
    assert design.spec is not None  # _model refuses a session without a design
    try:
        listing = await market_listings.publish_design(
            session,
            services,
            principal,
            title=body.title,
            description=body.description,
            spec=dict(design.spec),
            price_cents=body.price_cents,
            licence=body.licence,
            royalty_cents=body.royalty_cents,
            tags=body.tags,
        )
    except ValidationError as exc:
        raise Unprocessable(market_listings.validation_message(exc), code="invalid_listing") from None
    key = market_listings.listing_file_key(listing.id, name)
    writer = await jobs.files.storage.writer(key, max_bytes=len(stl))
    try:
        await writer.write(stl)
        stored = await writer.commit()
    except BaseException:
        await writer.abort()
        raise
    listing.file_key, listing.file_name = stored.key, name
    listing.file_sha256, listing.file_size_bytes = stored.sha256, stored.size
    try:
        await session.commit()
    except BaseException:
        await jobs.files.storage.delete(stored.key)
        raise
    log.info("design %s v%d published as listing %s", design.id, design.version, listing.id)
    return (await market_listings.outs(session, [listing], principal.org_id))[0]
