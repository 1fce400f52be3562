"""Tables of notifications (revision 0006_notify).

- ``notify_events``: one row per thing that happened (``kind``, ``payload``, ``title``); ``dedup_key``
  (e.g. the agent's event id) makes a replayed source event a no-op.
- ``notifications``: the in-app inbox, one row per event and recipient user; ``read_at`` once read.
- ``notification_preferences``: per user, which kinds reach them through which channel.
- ``webhook_endpoints``: URLs an organisation registered, with their signing secret and kinds.
- ``notify_deliveries``: one row per event and outbound target (a webhook endpoint or a user's
  e-mail), unique on ``(event_id, channel, target)`` so each event goes to each target once; its
  ``id`` is the ``X-3DPot-Delivery`` header, the same on every retry. ``next_attempt_at`` is when the
  worker tries (again); NULL once delivered or given up.
- ``notify_attempts``: every attempt of a delivery and how it went.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import ID_CHARS, Base, PortableJSON, new_id, utcnow

KIND_MAX_CHARS = 32
TITLE_MAX_CHARS = 500
URL_MAX_CHARS = 2000
ERROR_MAX_CHARS = 1000


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class NotifyEvent(Base):
    __tablename__ = "notify_events"
    __table_args__ = (UniqueConstraint("org_id", "dedup_key", name="uq_notify_events_org_dedup"),)

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(KIND_MAX_CHARS))
    title: Mapped[str] = mapped_column(String(TITLE_MAX_CHARS))
    payload: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    dedup_key: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(ID_CHARS), ForeignKey("users.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("notify_events.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(KIND_MAX_CHARS))
    title: Mapped[str] = mapped_column(String(TITLE_MAX_CHARS))
    payload: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)


class NotificationPreferences(Base):
    __tablename__ = "notification_preferences"

    user_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    kinds: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(URL_MAX_CHARS))
    secret: Mapped[str] = mapped_column(String(128))
    kinds: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    """Kinds sent to this endpoint; empty: every kind."""
    description: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(
        String(ID_CHARS), ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    __tablename__ = "notify_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "channel", "target", name="uq_notify_deliveries_event_target"),
    )

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("notify_events.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(16))
    """``webhook`` (target: an endpoint id) or ``email`` (target: a user id)."""
    target: Mapped[str] = mapped_column(String(ID_CHARS))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_MAX_CHARS), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class DeliveryAttempt(Base):
    __tablename__ = "notify_attempts"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("notify_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX_CHARS), default=None)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
