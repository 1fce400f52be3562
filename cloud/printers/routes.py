"""Routes of printers: claim codes (operators), enrolment (agents, by claim code), printer records."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from cloud.errors import BadRequest, RateLimited, error_responses
from cloud.fields import Identifier
from cloud.printers import service
from cloud.printers.schemas import (
    ClaimCodeCreate,
    ClaimCodeCreated,
    EnrolRequest,
    EnrolResponse,
    PrinterOut,
    PrinterUpdate,
)
from cloud.services import CloudServices, DbSession, Services, client_ip
from cloud.users.auth import CurrentUser, RequireOperator

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")

Pid = Annotated[Identifier, Path(description="a printer id")]
_OPERATOR = (401, 403, 422)


async def _sync_broker(services: CloudServices, session: DbSession) -> None:
    if services.mosquitto is not None:
        await services.mosquitto.sync(session)


@router.post(
    "/printers/claim-codes",
    tags=["printers"],
    summary="Create a one-time claim code for enrolling a printer",
    description="The code is in this response only. An agent exchanges it at POST /api/enrol before expiry.",
    status_code=status.HTTP_201_CREATED,
    response_model=ClaimCodeCreated,
    responses=error_responses(*_OPERATOR),
)
async def create_claim_code(
    body: ClaimCodeCreate, principal: RequireOperator, services: Services, session: DbSession
) -> ClaimCodeCreated:
    expires_at = service.expiry(services.now(), body.ttl_s, services.settings.claim_code_max_ttl_s)
    row, code = await service.create_claim_code(
        session,
        principal.org_id,
        expires_at=expires_at,
        name=body.name,
        tags=body.tags,
        created_by=principal.id if principal.kind == "user" else None,
    )
    await session.commit()
    return ClaimCodeCreated(id=row.id, code=code, expires_at=row.expires_at)


@router.post(
    "/enrol",
    tags=["enrolment"],
    summary="Enrol a printer: exchange a claim code for its id, MQTT credentials and the job-signing key",
    description=(
        "Called by an agent, without user credentials: the claim code is the credential. Each code works"
        " once and until it expires. Failed attempts are rate-limited per client address (429)."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=EnrolResponse,
    responses=error_responses(400, 422, 429),
)
async def enrol(
    body: EnrolRequest, request: Request, services: Services, session: DbSession
) -> EnrolResponse:
    limiter_key = client_ip(request)
    wait_s = services.enrol_limiter.peek(limiter_key)
    if wait_s is not None:
        services.metrics.rate_limited.labels(limiter="enrol").inc()
        raise RateLimited("too many failed enrolment attempts: try again later", retry_after_s=wait_s)
    try:
        printer, password = await service.enrol(session, body, services.now())
    except BadRequest:
        services.enrol_limiter.take(limiter_key)
        raise
    log.info("enrolled printer %s in organisation %s", printer.pid, printer.org_id)
    await _sync_broker(services, session)
    settings = services.settings
    return EnrolResponse(
        printer_id=printer.pid,
        mqtt_username=printer.pid,
        mqtt_password=password,
        mqtt_url=settings.agent_mqtt_url,
        topic_prefix=settings.mqtt_topic_prefix,
        job_signing_public_key=services.secrets.public_key_b64,
    )


@router.get(
    "/printers",
    tags=["printers"],
    summary="List my organisation's printers",
    response_model=list[PrinterOut],
    responses=error_responses(401, 422),
)
async def list_printers(
    principal: CurrentUser,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="skip this many (ordered by name)")] = 0,
) -> list[PrinterOut]:
    printers = await service.list_printers(session, principal.org_id, limit=limit, offset=offset)
    return [service.printer_out(p) for p in printers]


@router.get(
    "/printers/{pid}",
    tags=["printers"],
    summary="Get one printer",
    response_model=PrinterOut,
    responses=error_responses(401, 404, 422),
)
async def get_printer(pid: Pid, principal: CurrentUser, session: DbSession) -> PrinterOut:
    return service.printer_out(await service.get_printer(session, principal.org_id, pid))


@router.patch(
    "/printers/{pid}",
    tags=["printers"],
    summary="Change a printer's name, tags, nozzle, material or build volume",
    response_model=PrinterOut,
    responses=error_responses(*_OPERATOR, 404),
)
async def update_printer(
    pid: Pid, body: PrinterUpdate, principal: RequireOperator, services: Services, session: DbSession
) -> PrinterOut:
    printer = await service.get_printer(session, principal.org_id, pid)
    service.apply_update(printer, body, services.now())
    await session.commit()
    return service.printer_out(printer)


@router.delete(
    "/printers/{pid}",
    tags=["printers"],
    summary="Remove a printer (its MQTT credentials stop working)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(*_OPERATOR, 404),
)
async def delete_printer(
    pid: Pid, principal: RequireOperator, services: Services, session: DbSession
) -> Response:
    printer = await service.get_printer(session, principal.org_id, pid)
    await session.delete(printer)
    await session.commit()
    log.info("removed printer %s from organisation %s", pid, principal.org_id)
    await _sync_broker(services, session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
