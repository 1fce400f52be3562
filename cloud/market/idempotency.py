"""``Idempotency-Key`` on money-moving calls: the same key and body get the stored response.

``claim`` runs first in the request's transaction: a key seen before with the same request
returns its stored response (``Replay``); with a different request it is a 409. A new key inserts
its record at once, so a concurrent request with the same key waits on the unique index
(PostgreSQL) and, once the first commits, replays its response. ``finish`` stores the response in
the same transaction as the work, so either both are committed or neither: a call that failed
(a declined card, a 409) stores nothing and may be retried with the same key.

Keys are per organisation and kept for good (a table of small rows; prune by ``created_at`` if
it ever matters).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import BadRequest, Conflict
from cloud.market.models import IdempotencyRecord

MAX_KEY_CHARS = 255


@dataclass(frozen=True, slots=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def request_hash(scope: str, body: Any) -> str:
    """A fingerprint of what was asked: the operation (method, path) and its canonical JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{scope}\n{canonical}".encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise BadRequest(
            "send an Idempotency-Key header (a unique string per operation) with this request",
            code="idempotency_key_required",
        )
    if len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise BadRequest(f"the Idempotency-Key is at most {MAX_KEY_CHARS} printable characters")
    return key.strip()


async def _find(session: AsyncSession, org_id: str, key: str) -> IdempotencyRecord | None:
    return (
        await session.execute(
            select(IdempotencyRecord).where(IdempotencyRecord.org_id == org_id, IdempotencyRecord.key == key)
        )
    ).scalar_one_or_none()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Replay:
    if record.request_hash != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a different request; use a new key",
            code="idempotency_key_reused",
        )
    if record.status_code == 0:
        raise Conflict("a request with this Idempotency-Key is in progress", code="idempotency_in_progress")
    return Replay(record.status_code, record.response)


async def claim(
    session: AsyncSession, org_id: str, key: str, fingerprint: str, now: datetime
) -> Replay | IdempotencyRecord:
    """The stored response of ``key``, or a new (pending) record to ``finish``."""
    found = await _find(session, org_id, key)
    if found is not None:
        return _replay(found, fingerprint)
    record = IdempotencyRecord(
        org_id=org_id, key=key, request_hash=fingerprint, status_code=0, response={}, created_at=now
    )
    session.add(record)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()  # the first write of the transaction: nothing else is lost
        found = await _find(session, org_id, key)
        if found is None:
            raise
        return _replay(found, fingerprint)
    return record


def finish(record: IdempotencyRecord, status_code: int, body: dict[str, Any]) -> None:
    record.status_code = status_code
    record.response = body
