"""Routes of notifications: the in-app inbox and its live stream, preferences, and webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update

from cloud.errors import Forbidden, NotFound, error_responses
from cloud.fleet.feed import sse_response
from cloud.fleet.routes import stream_principal
from cloud.notify.kinds import Kind, merge_preferences
from cloud.notify.lifecycle import NotifyRuntime
from cloud.notify.models import (
    Delivery,
    DeliveryAttempt,
    Notification,
    NotificationPreferences,
    WebhookEndpoint,
)
from cloud.notify.signing import new_secret
from cloud.services import DbSession, Services
from cloud.users.auth import CurrentUser, Principal, RequireAdmin

router = APIRouter(tags=["notifications"])
webhooks = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

ChannelPrefs = dict[str, bool]
PAGE_MAX: Final = 200


def _user_id(principal: Principal) -> str:
    if principal.kind != "user":
        raise Forbidden("notifications belong to users: log in rather than use an API key", code="user_only")
    return principal.id


def get_runtime(request: Request) -> NotifyRuntime:
    runtime = getattr(request.app.state, "notify", None)
    if not isinstance(runtime, NotifyRuntime):
        raise TypeError("app.state.notify is not set: the notify lifespan is not running")
    return runtime


Runtime = Annotated[NotifyRuntime, Depends(get_runtime)]


class NotificationOut(BaseModel):
    id: str
    kind: str
    title: str
    payload: dict[str, object]
    created_at: datetime
    read_at: datetime | None


class Preferences(BaseModel):
    """Per kind, per channel (``in_app``, ``email``): whether you receive it."""

    kinds: dict[str, ChannelPrefs] = Field(
        examples=[
            {"job.completed": {"in_app": True, "email": True}, "sale": {"in_app": True, "email": False}}
        ]
    )


class PreferencesChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: dict[Kind, dict[str, bool]] = Field(description="only the kinds and channels to change")


@router.get(
    "/api/notifications",
    summary="My notifications, newest first",
    responses=error_responses(401, 403, 422),
)
async def list_notifications(
    principal: CurrentUser,
    session: DbSession,
    unread: Annotated[bool, Query(description="only those not read yet")] = False,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> list[NotificationOut]:
    query = select(Notification).where(Notification.user_id == _user_id(principal))
    if unread:
        query = query.where(Notification.read_at.is_(None))
    rows = await session.execute(query.order_by(Notification.created_at.desc(), Notification.id).limit(limit))
    return [
        NotificationOut(
            id=n.id, kind=n.kind, title=n.title, payload=n.payload, created_at=n.created_at, read_at=n.read_at
        )
        for n in rows.scalars()
    ]


@router.get(
    "/api/notifications/preferences",
    summary="What reaches me, by kind and channel",
    responses=error_responses(401, 403),
)
async def get_preferences(principal: CurrentUser, session: DbSession) -> Preferences:
    row = await session.get(NotificationPreferences, _user_id(principal))
    return Preferences(kinds=merge_preferences(row.kinds if row else None))


@router.put(
    "/api/notifications/preferences",
    summary="Change what reaches me (kinds and channels not given stay as they are)",
    responses=error_responses(401, 403, 422),
)
async def put_preferences(
    body: PreferencesChange, principal: CurrentUser, session: DbSession, services: Services
) -> Preferences:
    user_id = _user_id(principal)
    row = await session.get(NotificationPreferences, user_id)
    merged = merge_preferences(row.kinds if row else None, {k.value: v for k, v in body.kinds.items()})
    if row is None:
        row = NotificationPreferences(user_id=user_id, org_id=principal.org_id)
        session.add(row)
    row.kinds = merged
    row.updated_at = services.now()
    await session.commit()
    return Preferences(kinds=merged)


@router.get(
    "/api/notifications/stream",
    summary="My new notifications, live (Server-Sent Events)",
    description=(
        "`text/event-stream`: an `event: notification` frame (the same JSON as the list) for each new"
        " notification, and a `: ping` comment every 15 s. Authenticate with the usual headers or"
        " `?access_token=`."
    ),
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the event stream",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **error_responses(401, 403, 422),
    },
)
async def notification_stream(
    principal: Annotated[Principal, Depends(stream_principal)], services: Services, runtime: Runtime
) -> StreamingResponse:
    user_id = _user_id(principal)
    heartbeat_s = services.settings.notify.stream_heartbeat_s

    return sse_response(runtime.stream.subscribe(user_id), heartbeat_s)


@router.post(
    "/api/notifications/{notification_id}/read",
    status_code=204,
    summary="Mark one of my notifications read",
    responses=error_responses(401, 403, 404, 422),
)
async def mark_read(
    notification_id: Annotated[str, Path(max_length=64)],
    principal: CurrentUser,
    session: DbSession,
    services: Services,
) -> Response:
    user_id = _user_id(principal)
    note = await session.get(Notification, notification_id)
    if note is None or note.user_id != user_id:
        raise NotFound(f"no such notification: {notification_id}")
    if note.read_at is None:
        note.read_at = services.now()
        await session.commit()
    return Response(status_code=204)


@router.post(
    "/api/notifications/read-all",
    status_code=204,
    summary="Mark all my notifications read",
    responses=error_responses(401, 403),
)
async def mark_all_read(principal: CurrentUser, session: DbSession, services: Services) -> Response:
    await session.execute(
        update(Notification)
        .where(Notification.user_id == _user_id(principal), Notification.read_at.is_(None))
        .values(read_at=services.now())
    )
    await session.commit()
    return Response(status_code=204)


# -- webhooks -------------------------------------------------------------------------------------


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=8, max_length=2000, examples=["https://example.com/3dpot-hook"])]
    kinds: list[Kind] = Field(default_factory=list, description="kinds to send; empty: every kind")
    description: Annotated[str, Field(max_length=200)] = ""
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("a webhook URL is an absolute http:// or https:// URL")
        return value


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=8, max_length=2000)] | None = None
    kinds: list[Kind] | None = None
    description: Annotated[str, Field(max_length=200)] | None = None
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return None if value is None else WebhookIn._http(value)


class WebhookOut(BaseModel):
    id: str
    url: str
    kinds: list[str]
    description: str
    enabled: bool
    secret_prefix: str = Field(description="the first characters of the signing secret")
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="the signing secret: shown once, keep it (see X-3DPot-Signature)")


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    id: str = Field(description="the X-3DPot-Delivery header")
    event_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    history: list[AttemptOut]


def _webhook_out(row: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        url=row.url,
        kinds=list(row.kinds),
        description=row.description,
        enabled=row.enabled,
        secret_prefix=row.secret[:10],
        created_at=row.created_at,
    )


async def _endpoint(session: DbSession, principal: Principal, webhook_id: str) -> WebhookEndpoint:
    row = await session.get(WebhookEndpoint, webhook_id)
    if row is None or row.org_id != principal.org_id:
        raise NotFound(f"no such webhook: {webhook_id}")
    return row


WebhookId = Annotated[str, Path(max_length=64)]


@webhooks.get("", summary="Webhook endpoints of my organisation", responses=error_responses(401, 403))
async def list_webhooks(principal: RequireAdmin, session: DbSession) -> list[WebhookOut]:
    rows = await session.execute(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.org_id == principal.org_id)
        .order_by(WebhookEndpoint.created_at)
    )
    return [_webhook_out(row) for row in rows.scalars()]


@webhooks.post(
    "", status_code=201, summary="Register a webhook endpoint", responses=error_responses(401, 403, 422)
)
async def create_webhook(
    body: WebhookIn, principal: RequireAdmin, session: DbSession, services: Services
) -> WebhookCreated:
    row = WebhookEndpoint(
        org_id=principal.org_id,
        url=body.url,
        secret=new_secret(),
        kinds=[kind.value for kind in body.kinds],
        description=body.description,
        enabled=body.enabled,
        created_by=principal.id if principal.kind == "user" else None,
        created_at=services.now(),
    )
    session.add(row)
    await session.commit()
    return WebhookCreated(**_webhook_out(row).model_dump(), secret=row.secret)


@webhooks.get("/{webhook_id}", summary="One webhook endpoint", responses=error_responses(401, 403, 404, 422))
async def get_webhook(webhook_id: WebhookId, principal: RequireAdmin, session: DbSession) -> WebhookOut:
    return _webhook_out(await _endpoint(session, principal, webhook_id))


@webhooks.patch(
    "/{webhook_id}", summary="Change a webhook endpoint", responses=error_responses(401, 403, 404, 422)
)
async def patch_webhook(
    webhook_id: WebhookId, body: WebhookPatch, principal: RequireAdmin, session: DbSession
) -> WebhookOut:
    row = await _endpoint(session, principal, webhook_id)
    if body.url is not None:
        row.url = body.url
    if body.kinds is not None:
        row.kinds = [kind.value for kind in body.kinds]
    if body.description is not None:
        row.description = body.description
    if body.enabled is not None:
        row.enabled = body.enabled
    await session.commit()
    return _webhook_out(row)


@webhooks.delete(
    "/{webhook_id}",
    status_code=204,
    summary="Remove a webhook endpoint",
    responses=error_responses(401, 403, 404, 422),
)
async def delete_webhook(webhook_id: WebhookId, principal: RequireAdmin, session: DbSession) -> Response:
    row = await _endpoint(session, principal, webhook_id)
    await session.delete(row)
    await session.commit()
    return Response(status_code=204)


@webhooks.get(
    "/{webhook_id}/deliveries",
    summary="Recent deliveries to a webhook endpoint and their attempts",
    responses=error_responses(401, 403, 404, 422),
)
async def list_deliveries(
    webhook_id: WebhookId,
    principal: RequireAdmin,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> list[DeliveryOut]:
    endpoint = await _endpoint(session, principal, webhook_id)
    rows = list(
        (
            await session.execute(
                select(Delivery)
                .where(Delivery.channel == "webhook", Delivery.target == endpoint.id)
                .order_by(Delivery.created_at.desc(), Delivery.id)
                .limit(limit)
            )
        ).scalars()
    )
    history: dict[str, list[AttemptOut]] = {row.id: [] for row in rows}
    if rows:
        attempts = await session.execute(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(list(history)))
            .order_by(DeliveryAttempt.attempt)
        )
        for a in attempts.scalars():
            history[a.delivery_id].append(
                AttemptOut(
                    attempt=a.attempt,
                    at=a.at,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
            )
    return [
        DeliveryOut(
            id=row.id,
            event_id=row.event_id,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            history=history[row.id],
        )
        for row in rows
    ]
