"""Receiving the payment provider's signed webhooks: verify, record once, follow the payment's status.

A webhook whose signature or timestamp is wrong is refused (401) and changes nothing. An event id
seen before is acknowledged again without effect. ``payment.captured`` / ``payment.refunded``
set ``provider_status`` on the purchase with that payment id; the money itself moved when the
cloud called the provider (the ledger is written then), so a webhook never writes the ledger.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import BadRequest, Unauthenticated
from cloud.market.models import Purchase, WebhookEvent
from cloud.market.payments import WebhookRejected, verify
from cloud.market.runtime import MarketRuntime

_STATUSES = {"payment.captured": "captured", "payment.refunded": "refunded", "payment.failed": "failed"}


class _EventData(BaseModel):
    model_config = ConfigDict(extra="allow")

    payment_id: str | None = Field(default=None, max_length=64)


class ProviderEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=64)
    data: _EventData = Field(default_factory=_EventData)


class WebhookResult(BaseModel):
    received: bool = True
    duplicate: bool


async def receive(
    session: AsyncSession,
    market: MarketRuntime,
    provider: str,
    body: bytes,
    timestamp: str | None,
    sig: str | None,
    now: datetime,
) -> WebhookResult:
    try:
        verify(
            market.webhook_secret,
            body,
            timestamp,
            sig,
            now.timestamp(),
            tolerance_s=market.webhook_tolerance_s,
        )
    except WebhookRejected as exc:
        raise Unauthenticated(str(exc), code="webhook_signature_invalid") from None
    try:
        event = ProviderEvent.model_validate_json(body)
    except ValidationError:
        raise BadRequest("the webhook body is not a provider event", code="webhook_malformed") from None
    if await session.get(WebhookEvent, event.id) is not None:
        return WebhookResult(duplicate=True)
    payload: dict[str, Any] = json.loads(body)
    session.add(
        WebhookEvent(
            id=event.id,
            provider=provider,
            type=event.type,
            payment_id=event.data.payment_id,
            payload=payload,
            received_at=now,
        )
    )
    status = _STATUSES.get(event.type)
    if status is not None and event.data.payment_id is not None:
        query = update(Purchase).where(Purchase.payment_id == event.data.payment_id)
        if status != "refunded":  # a late "captured" never undoes a refund
            query = query.where(
                or_(Purchase.provider_status.is_(None), Purchase.provider_status != "refunded")
            )
        await session.execute(query.values(provider_status=status))
    await session.flush()
    return WebhookResult(duplicate=False)


async def events_of(session: AsyncSession, payment_id: str) -> list[WebhookEvent]:
    rows = await session.execute(select(WebhookEvent).where(WebhookEvent.payment_id == payment_id))
    return list(rows.scalars())
