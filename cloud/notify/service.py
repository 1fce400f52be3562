"""``notify(services, org_id, kind, payload)``: store an event and fan it out to its channels.

One transaction stores the event (``notify_events``), an in-app notification for every user of the
organisation whose preferences want it in the app, and a delivery row for every e-mail (users who
opted in, when SMTP is configured) and every enabled webhook endpoint whose kinds match. After the
commit the process's listeners hear of it (the live stream pushes the new notifications, the
delivery worker wakes up); the worker sends the deliveries, retrying until they succeed or run out.

``record(session, ...)`` does the same inside a caller's own transaction (e.g. a sale written
together with its notification); the caller then calls ``announce(services, stored)`` after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.notify.kinds import Channel, Kind, merge_preferences, title, wants
from cloud.notify.models import (
    TITLE_MAX_CHARS,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreferences,
    NotifyEvent,
    WebhookEndpoint,
)
from cloud.services import CloudServices
from cloud.users.models import User

log = logging.getLogger(__name__)

WEBHOOK = "webhook"
EMAIL = Channel.EMAIL.value


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: str
    user_id: str
    kind: str
    title: str
    payload: dict[str, Any]
    created_at: datetime
    read_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
            "read_at": self.read_at.isoformat() if self.read_at else None,
        }


@dataclass(frozen=True, slots=True)
class Stored:
    """What one ``notify`` stored."""

    event_id: str
    org_id: str
    kind: str
    notifications: list[NotificationView] = field(default_factory=list)
    deliveries: int = 0


async def record(
    session: AsyncSession,
    org_id: str,
    kind: Kind | str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
    email_enabled: bool,
    dedup_key: str | None = None,
    user_ids: Sequence[str] | None = None,
) -> Stored | None:
    """Add the event and its fan-out to ``session`` (not committed); ``None`` when ``dedup_key`` is known.

    ``user_ids`` limits the in-app and e-mail recipients (e.g. the seller of a sale); default: every
    user of the organisation. Raises ``ValueError`` for an unknown ``kind``.
    """
    kind = Kind(kind).value
    if dedup_key is not None:
        seen = await session.execute(
            select(NotifyEvent.id).where(NotifyEvent.org_id == org_id, NotifyEvent.dedup_key == dedup_key)
        )
        if seen.first() is not None:
            return None
    data = dict(payload)
    event = NotifyEvent(
        org_id=org_id,
        kind=kind,
        title=title(kind, data)[:TITLE_MAX_CHARS],
        payload=data,
        dedup_key=dedup_key,
        created_at=now,
    )
    session.add(event)
    await session.flush()
    users_query = select(User.id).where(User.org_id == org_id).order_by(User.id)
    if user_ids is not None:
        users_query = users_query.where(User.id.in_(list(user_ids)))
    users = list((await session.execute(users_query)).scalars())
    stored_prefs = {
        row.user_id: row.kinds
        for row in (
            await session.execute(
                select(NotificationPreferences).where(NotificationPreferences.user_id.in_(users))
            )
        ).scalars()
    }
    views: list[NotificationView] = []
    deliveries = 0
    for user_id in users:
        prefs = merge_preferences(stored_prefs.get(user_id))
        if wants(prefs, kind, Channel.IN_APP):
            note = Notification(
                org_id=org_id,
                user_id=user_id,
                event_id=event.id,
                kind=kind,
                title=event.title,
                payload=data,
                created_at=now,
            )
            session.add(note)
            await session.flush()
            views.append(NotificationView(note.id, user_id, kind, note.title, data, now))
        if email_enabled and wants(prefs, kind, Channel.EMAIL):
            session.add(_delivery(event, EMAIL, user_id, now))
            deliveries += 1
    endpoints = await session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id, WebhookEndpoint.enabled.is_(True))
    )
    for endpoint in endpoints.scalars():
        if not endpoint.kinds or kind in endpoint.kinds:
            session.add(_delivery(event, WEBHOOK, endpoint.id, now))
            deliveries += 1
    return Stored(event_id=event.id, org_id=org_id, kind=kind, notifications=views, deliveries=deliveries)


def _delivery(event: NotifyEvent, channel: str, target: str, now: datetime) -> Delivery:
    return Delivery(
        org_id=event.org_id,
        event_id=event.id,
        channel=channel,
        target=target,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def announce(services: CloudServices, stored: Stored | None) -> None:
    """Tell this process's listeners (stream, worker) of what was committed."""
    if stored is None:
        return
    for listener in list(services.notify_listeners):
        listener(stored)


async def notify(
    services: CloudServices,
    org_id: str,
    kind: Kind | str,
    payload: Mapping[str, Any],
    *,
    dedup_key: str | None = None,
    user_ids: Sequence[str] | None = None,
) -> Stored | None:
    """Store and fan out one event of ``org_id`` (one transaction); ``None`` when it was a duplicate.

    ``kind``: a ``Kind`` (``job.completed``, ``job.failed``, ``printer.error``, ``printer.offline``,
    ``sale``, ``review``); ``payload``: a JSON object (it is what webhooks receive as ``data``).
    """
    try:
        async with services.database.session() as session:
            stored = await record(
                session,
                org_id,
                kind,
                payload,
                now=services.now(),
                email_enabled=services.settings.notify.smtp_host is not None,
                dedup_key=dedup_key,
                user_ids=user_ids,
            )
            await session.commit()
    except IntegrityError:
        if dedup_key is None:
            raise
        return None  # another process stored the same event at the same moment
    announce(services, stored)
    return stored
