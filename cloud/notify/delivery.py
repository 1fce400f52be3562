"""The delivery worker: sends webhooks and e-mails from ``notify_deliveries``, retrying with backoff.

``DeliveryWorker.run()`` lives until cancelled. Each round (every ``poll_interval_s``, or at once
when woken by a new event) it claims up to ``CLAIM_BATCH`` due deliveries — pushing their
``next_attempt_at`` a lease ahead in the same transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
so two replicas never send one delivery at the same time — sends them concurrently, and records
each attempt (``notify_attempts``) and its outcome:

- delivered (webhook 2xx, e-mail accepted): ``status = delivered``;
- worth retrying (5xx, 408, 429, timeout, refused connection, SMTP trouble): tried again after
  ``retry_delay_s`` (exponential with jitter), until ``max_attempts``, then ``failed``;
- refused for good (any other 4xx, a recipient the SMTP server refuses, endpoint or user gone): ``failed``.

A webhook is a ``POST`` of JSON ``{"id", "kind", "org_id", "created_at", "title", "data"}`` signed as
``cloud.notify.signing`` describes, with ``X-3DPot-Delivery`` (the delivery id, the same on retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Final

import aiosmtplib
import httpx
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db import Database
from cloud.notify import signing
from cloud.notify.models import (
    ERROR_MAX_CHARS,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    NotifyEvent,
    WebhookEndpoint,
)
from cloud.notify.service import EMAIL, WEBHOOK
from cloud.settings import NotifySettings
from cloud.users.models import User

log = logging.getLogger(__name__)

CLAIM_BATCH: Final = 50
LEASE_EXTRA_S: Final = 30.0
USER_AGENT: Final = "3dpot-cloud-webhooks"
RETRY_STATUSES: Final = frozenset({408, 425, 429})


def retry_delay_s(attempt: int, settings: NotifySettings, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based), jittered ± ``retry_jitter``."""
    base = min(settings.retry_max_s, settings.retry_initial_s * settings.retry_factor ** max(0, attempt - 1))
    return base * (1.0 + settings.retry_jitter * (2.0 * rand() - 1.0))


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    retry: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery with what sending it needs."""

    delivery_id: str
    attempt: int
    channel: str
    event: dict[str, Any]
    kind: str
    title: str
    url: str | None = None
    secret: str | None = None
    email: str | None = None


class DeliveryWorker:
    def __init__(
        self,
        database: Database,
        settings: NotifySettings,
        clock: Callable[[], datetime],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self._wake = asyncio.Event()
        self.sent = 0
        self.failed_attempts = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with httpx.AsyncClient(
            transport=self.transport,
            timeout=self.settings.webhook_timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        ) as http:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.poll_interval_s):
                        await self._wake.wait()
                self._wake.clear()
                try:
                    while await self.round(http) >= CLAIM_BATCH:
                        pass
                except (SQLAlchemyError, OSError) as exc:
                    log.warning("notify: delivery round failed: %s", str(exc).splitlines()[0])

    async def round(self, http: httpx.AsyncClient) -> int:
        """Claim, send and record one batch of due deliveries; how many were claimed."""
        jobs = await self._claim()
        if not jobs:
            return 0
        outcomes: dict[str, Outcome] = {}
        async with asyncio.TaskGroup() as tasks:
            for job in jobs:
                tasks.create_task(self._send_into(http, job, outcomes))
        await self._record(jobs, outcomes)
        return len(jobs)

    async def _send_into(self, http: httpx.AsyncClient, job: Job, outcomes: dict[str, Outcome]) -> None:
        started = time.perf_counter()
        if job.channel == WEBHOOK:
            outcome = await self._webhook(http, job)
        else:
            outcome = await self._email(job)
        ms = (time.perf_counter() - started) * 1000.0
        outcomes[job.delivery_id] = Outcome(
            outcome.delivered, outcome.retry, outcome.status_code, outcome.error, ms
        )

    async def _claim(self) -> list[Job]:
        now = self.clock()
        lease = now + timedelta(seconds=max(self.settings.webhook_timeout_s, self.settings.smtp_timeout_s))
        lease += timedelta(seconds=LEASE_EXTRA_S)
        async with self.database.session() as session:
            query = (
                select(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at)
                .limit(CLAIM_BATCH)
            )
            if self.database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.execute(query)).scalars())
            if not rows:
                return []
            events = await _by_id(session, NotifyEvent, {r.event_id for r in rows})
            hooks = await _by_id(session, WebhookEndpoint, {r.target for r in rows if r.channel == WEBHOOK})
            users = await _by_id(session, User, {r.target for r in rows if r.channel == EMAIL})
            jobs = []
            for row in rows:
                row.next_attempt_at = lease
                event = events[row.event_id]
                body = {
                    "id": event.id,
                    "kind": event.kind,
                    "org_id": event.org_id,
                    "created_at": event.created_at.isoformat(),
                    "title": event.title,
                    "data": event.payload,
                }
                job = Job(row.id, row.attempts + 1, row.channel, body, event.kind, event.title)
                endpoint = hooks.get(row.target)
                user = users.get(row.target)
                if endpoint is not None and endpoint.enabled and endpoint.org_id == row.org_id:
                    job = replace(job, url=endpoint.url, secret=endpoint.secret)
                elif user is not None and row.channel == EMAIL and user.org_id == row.org_id:
                    job = replace(job, email=user.email)
                jobs.append(job)
            await session.commit()
        return jobs

    async def _webhook(self, http: httpx.AsyncClient, job: Job) -> Outcome:
        if job.url is None or job.secret is None:
            return Outcome(delivered=False, retry=False, error="the endpoint was removed or disabled")
        body = json.dumps(job.event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.SIGNATURE_HEADER: signing.signature(job.secret, timestamp, body),
            signing.DELIVERY_HEADER: job.delivery_id,
            signing.EVENT_HEADER: job.kind,
        }
        try:
            response = await http.post(job.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(delivered=False, retry=True, error="timed out")
        except httpx.HTTPError as exc:
            return Outcome(
                delivered=False, retry=True, error=f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
            )
        code = response.status_code
        if 200 <= code < 300:
            return Outcome(delivered=True, retry=False, status_code=code)
        retry = code >= 500 or code in RETRY_STATUSES
        return Outcome(delivered=False, retry=retry, status_code=code, error=f"HTTP {code}")

    async def _email(self, job: Job) -> Outcome:
        settings = self.settings
        if job.email is None:
            return Outcome(delivered=False, retry=False, error="the user no longer exists")
        if settings.smtp_host is None:
            return Outcome(delivered=False, retry=False, error="SMTP is not configured")
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = job.email
        message["Subject"] = job.title
        message["X-3DPot-Event"] = job.kind
        details = json.dumps(job.event["data"], indent=2, ensure_ascii=False, sort_keys=True)
        message.set_content(
            f"{job.title}\n\n{details}\n\n-- \n3D Pot (change what you receive in your settings)\n"
        )
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                start_tls=settings.smtp_starttls,
                username=settings.smtp_user,
                password=password,
                timeout=settings.smtp_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return Outcome(delivered=False, retry=False, error=f"recipient refused: {exc}"[:ERROR_MAX_CHARS])
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Outcome(
                delivered=False, retry=True, error=f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
            )
        return Outcome(delivered=True, retry=False)

    async def _record(self, jobs: list[Job], outcomes: dict[str, Outcome]) -> None:
        now = self.clock()
        async with self.database.session() as session:
            for job in jobs:
                outcome = outcomes[job.delivery_id]
                row = await session.get(Delivery, job.delivery_id)
                if row is None:
                    continue
                session.add(
                    DeliveryAttempt(
                        delivery_id=row.id,
                        attempt=job.attempt,
                        at=now,
                        status_code=outcome.status_code,
                        error=outcome.error,
                        duration_ms=outcome.duration_ms,
                    )
                )
                row.attempts = job.attempt
                row.last_error = outcome.error
                if outcome.delivered:
                    self.sent += 1
                    row.status = DeliveryStatus.DELIVERED
                    row.delivered_at = now
                    row.next_attempt_at = None
                    continue
                self.failed_attempts += 1
                if outcome.retry and job.attempt < self.settings.max_attempts:
                    row.next_attempt_at = now + timedelta(seconds=retry_delay_s(job.attempt, self.settings))
                else:
                    row.status = DeliveryStatus.FAILED
                    row.next_attempt_at = None
                    log.info(
                        "notify: delivery %s (%s) failed for good: %s", row.id, row.channel, outcome.error
                    )
            await session.commit()


async def _by_id(session: AsyncSession, model: Any, ids: set[str]) -> dict[str, Any]:
    if not ids:
        return {}
    rows = await session.execute(select(model).where(model.id.in_(sorted(ids))))
    return {row.id: row for row in rows.scalars()}
