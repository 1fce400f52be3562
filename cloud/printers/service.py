"""Printers in the database: claim codes, enrolment, and the printer records of an organisation.

A claim code is 16 Crockford base-32 characters (80 random bits) shown as ``XXXX-XXXX-XXXX-XXXX``;
only its SHA-256 is stored. It is case-insensitive and forgiving (``O``→``0``, ``I``/``L``→``1``,
dashes and spaces ignored). It can be used once: the claiming ``UPDATE ... WHERE used_at IS NULL``
is atomic on both databases, so two agents racing with one code get one printer between them.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import BadRequest, NotFound
from cloud.printers.models import ClaimCode, Printer
from cloud.printers.mosquitto_auth import hash_password
from cloud.printers.schemas import BuildVolume, EnrolRequest, PrinterOut, PrinterUpdate

CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CLAIM_CODE_CHARS: Final = 16
_FORGIVING: Final = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
PID_PREFIX: Final = "pr-"


def new_claim_code() -> str:
    chars = "".join(secrets.choice(CROCKFORD) for _ in range(CLAIM_CODE_CHARS))
    return "-".join(chars[i : i + 4] for i in range(0, CLAIM_CODE_CHARS, 4))


def claim_code_hash(code: str) -> str:
    """SHA-256 (hex) of the normalised code."""
    return hashlib.sha256(code.strip().upper().translate(_FORGIVING).encode("utf-8")).hexdigest()


def new_pid() -> str:
    """A printer id: ``pr-`` and 12 lowercase base-32 characters (60 random bits)."""
    return PID_PREFIX + "".join(secrets.choice(CROCKFORD.lower()) for _ in range(12))


def new_mqtt_password() -> str:
    return secrets.token_urlsafe(24)


def printer_out(printer: Printer) -> PrinterOut:
    volume = None
    if printer.build_x_mm and printer.build_y_mm and printer.build_z_mm:
        volume = BuildVolume(x_mm=printer.build_x_mm, y_mm=printer.build_y_mm, z_mm=printer.build_z_mm)
    return PrinterOut(
        id=printer.pid,
        name=printer.name,
        tags=list(printer.tags),
        nozzle_mm=printer.nozzle_mm,
        material=printer.material,
        build_volume=volume,
        enrolled_at=printer.enrolled_at,
    )


async def create_claim_code(
    session: AsyncSession,
    org_id: str,
    *,
    expires_at: datetime,
    name: str | None,
    tags: list[str],
    created_by: str | None,
) -> tuple[ClaimCode, str]:
    """A new claim code row and the code itself (shown once)."""
    code = new_claim_code()
    row = ClaimCode(
        org_id=org_id,
        code_hash=claim_code_hash(code),
        name=name,
        tags=_unique(tags),
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row, code


def _unique(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(tags))


async def enrol(session: AsyncSession, body: EnrolRequest, now: datetime) -> tuple[Printer, str]:
    """Exchange a claim code for a new printer and its MQTT password; commits.

    Raises ``BadRequest`` (codes ``claim_code_invalid`` / ``_used`` / ``_expired``).
    """
    claim = (
        await session.execute(
            select(ClaimCode).where(ClaimCode.code_hash == claim_code_hash(body.claim_code))
        )
    ).scalar_one_or_none()
    if claim is None:
        raise BadRequest("claim code is not valid", code="claim_code_invalid")
    if claim.used_at is not None:
        raise BadRequest("claim code has already been used", code="claim_code_used")
    if claim.expires_at <= now:
        raise BadRequest("claim code has expired: ask for a new one", code="claim_code_expired")
    password = new_mqtt_password()
    pid = new_pid()
    volume = body.build_volume
    printer = Printer(
        pid=pid,
        org_id=claim.org_id,
        name=claim.name or body.name or pid,
        tags=_unique([*claim.tags, *body.tags]),
        nozzle_mm=body.nozzle_mm,
        material=body.material,
        build_x_mm=volume.x_mm if volume else None,
        build_y_mm=volume.y_mm if volume else None,
        build_z_mm=volume.z_mm if volume else None,
        mqtt_password_hash=hash_password(password),
        enrolled_at=now,
        updated_at=now,
    )
    session.add(printer)
    await session.flush()
    claimed = cast(
        CursorResult[tuple[()]],
        await session.execute(
            update(ClaimCode)
            .where(ClaimCode.id == claim.id, ClaimCode.used_at.is_(None))
            .values(used_at=now, printer_pid=pid)
        ),
    )
    if claimed.rowcount != 1:
        await session.rollback()
        raise BadRequest("claim code has already been used", code="claim_code_used")
    await session.commit()
    return printer, password


async def list_printers(session: AsyncSession, org_id: str, *, limit: int, offset: int) -> Sequence[Printer]:
    query = (
        select(Printer)
        .where(Printer.org_id == org_id)
        .order_by(Printer.name, Printer.pid)
        .limit(limit)
        .offset(offset)
    )
    return (await session.execute(query)).scalars().all()


async def get_printer(session: AsyncSession, org_id: str, pid: str) -> Printer:
    printer = (
        await session.execute(select(Printer).where(Printer.pid == pid, Printer.org_id == org_id))
    ).scalar_one_or_none()
    if printer is None:
        raise NotFound(f"printer {pid!r} not found")
    return printer


def apply_update(printer: Printer, body: PrinterUpdate, now: datetime) -> None:
    """Copy the fields given in ``body`` onto ``printer``."""
    given = body.model_fields_set
    if "name" in given and body.name is not None:
        printer.name = body.name
    if "tags" in given and body.tags is not None:
        printer.tags = _unique(body.tags)
    if "nozzle_mm" in given:
        printer.nozzle_mm = body.nozzle_mm
    if "material" in given:
        printer.material = body.material
    if "build_volume" in given:
        volume = body.build_volume
        printer.build_x_mm = volume.x_mm if volume else None
        printer.build_y_mm = volume.y_mm if volume else None
        printer.build_z_mm = volume.z_mm if volume else None
    printer.updated_at = now


def expiry(now: datetime, ttl_s: int, max_ttl_s: int) -> datetime:
    return now + timedelta(seconds=min(ttl_s, max_ttl_s))
