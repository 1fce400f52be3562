"""Reads of the fleet tables, always scoped to an organisation through the ``printers`` table.

A printer that never sent anything has no ``fleet_printer_state`` row: every read joins from
``printers`` with an outer join, so it shows up as offline with an unknown state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, Select, and_, exists, func, literal_column, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import NotFound
from cloud.fleet.models import FleetEvent, PrinterStateRow, TelemetryMinute, TelemetrySample
from cloud.fleet.schemas import (
    FleetEventOut,
    FleetPrinter,
    FleetSummary,
    HeaterMinute,
    MinuteSample,
    RawSample,
    heater_readings,
)
from cloud.printers.models import Printer
from contract.state import JobProgress, QueueSnapshot

UNKNOWN_STATE: Final = "unknown"
_HAS_STATE: Final = PrinterStateRow.seq >= literal_column("0")
"""Rendered inline, so PostgreSQL sees the same expression in SELECT and GROUP BY."""


@dataclass(frozen=True, slots=True)
class PrinterFilters:
    state: str | None = None
    tag: str | None = None
    material: str | None = None
    online: bool | None = None


def _printer_select() -> Select[Printer, PrinterStateRow | None]:
    return select(Printer, PrinterStateRow).outerjoin(
        PrinterStateRow, PrinterStateRow.printer_id == Printer.pid
    )


def fleet_printer(printer: Printer, state: PrinterStateRow | None) -> FleetPrinter:
    """The API view of a printer and its (possibly missing) state row."""
    snapshot: dict[str, Any] = state.snapshot if state is not None and state.seq >= 0 else {}
    job = snapshot.get("job")
    queue = snapshot.get("queue")
    has_state = bool(snapshot)
    return FleetPrinter(
        id=printer.pid,
        name=printer.name,
        tags=list(printer.tags),
        nozzle_mm=printer.nozzle_mm,
        material=printer.material,
        online=bool(state is not None and state.online),
        online_since=state.online_since if state is not None else None,
        printer_state=state.printer_state if state is not None and has_state else None,
        link=state.link if state is not None and has_state else None,
        message=snapshot.get("message", "") if has_state else None,
        queue=QueueSnapshot.model_validate(queue) if isinstance(queue, dict) else None,
        progress=state.progress if state is not None else None,
        job=JobProgress.model_validate(job) if isinstance(job, dict) else None,
        temps=heater_readings(snapshot.get("temps")),
        seq=state.seq if state is not None and has_state else None,
        state_at=state.state_at if state is not None else None,
        updated_at=state.updated_at if state is not None else None,
    )


async def summary(session: AsyncSession, org_id: str) -> FleetSummary:
    """One aggregate query: printers grouped by (printer_state, link, online)."""
    statement = (
        select(
            PrinterStateRow.printer_state,
            PrinterStateRow.link,
            PrinterStateRow.online,
            _HAS_STATE,
            func.count(),
        )
        .select_from(Printer)
        .outerjoin(PrinterStateRow, PrinterStateRow.printer_id == Printer.pid)
        .where(Printer.org_id == org_id)
        .group_by(
            PrinterStateRow.printer_state,
            PrinterStateRow.link,
            PrinterStateRow.online,
            _HAS_STATE,
        )
    )
    total = online = errors = 0
    by_state: dict[str, int] = {}
    for printer_state, link, is_online, has_state, count in (await session.execute(statement)).all():
        total += count
        online += count if is_online else 0
        state = printer_state if has_state else UNKNOWN_STATE
        by_state[state] = by_state.get(state, 0) + count
        if has_state and (printer_state == "error" or link == "error"):
            errors += count
    return FleetSummary(
        printers=total,
        online=online,
        offline=total - online,
        printing=by_state.get("printing", 0),
        paused=by_state.get("paused", 0),
        errors=errors,
        by_state=by_state,
    )


def _tag_clause(dialect: str, tag: str) -> Any:
    if dialect == "postgresql":
        return type_coerce(Printer.tags, JSONB).contains([tag])
    values = func.json_each(Printer.tags).table_valued("value")
    return exists().select_from(values).where(values.c.value == tag)


async def list_printers(
    session: AsyncSession, org_id: str, filters: PrinterFilters, *, limit: int, offset: int
) -> tuple[list[FleetPrinter], int]:
    """A page of the organisation's printers (by name) and how many match ``filters``."""
    dialect = session.get_bind().dialect.name
    conditions: list[Any] = [Printer.org_id == org_id]
    if filters.state is not None:
        if filters.state == UNKNOWN_STATE:
            conditions.append(or_(PrinterStateRow.printer_id.is_(None), PrinterStateRow.seq < 0))
        else:
            conditions.append(and_(PrinterStateRow.printer_state == filters.state, PrinterStateRow.seq >= 0))
    if filters.tag is not None:
        conditions.append(_tag_clause(dialect, filters.tag))
    if filters.material is not None:
        conditions.append(func.lower(Printer.material) == filters.material.lower())
    if filters.online is not None:
        conditions.append(func.coalesce(PrinterStateRow.online, False) == filters.online)
    page = (
        _printer_select().where(*conditions).order_by(Printer.name, Printer.pid).limit(limit).offset(offset)
    )
    count = (
        select(func.count())
        .select_from(Printer)
        .outerjoin(PrinterStateRow, PrinterStateRow.printer_id == Printer.pid)
        .where(*conditions)
    )
    rows = (await session.execute(page)).all()
    total = (await session.execute(count)).scalar_one()
    return [fleet_printer(printer, state) for printer, state in rows], total


async def get_printer(session: AsyncSession, org_id: str, pid: str) -> FleetPrinter:
    row = (
        await session.execute(_printer_select().where(Printer.org_id == org_id, Printer.pid == pid))
    ).first()
    if row is None:
        raise NotFound(f"no printer {pid!r} in your organisation", code="printer_not_found")
    return fleet_printer(row[0], row[1])


async def require_printer(session: AsyncSession, org_id: str, pid: str) -> None:
    """``NotFound`` unless ``pid`` is a printer of ``org_id``."""
    found = (
        await session.execute(select(Printer.pid).where(Printer.org_id == org_id, Printer.pid == pid))
    ).first()
    if found is None:
        raise NotFound(f"no printer {pid!r} in your organisation", code="printer_not_found")


async def events(session: AsyncSession, pid: str, *, after_seq: int, limit: int) -> list[FleetEventOut]:
    rows = (
        await session.execute(
            select(FleetEvent)
            .where(FleetEvent.printer_id == pid, FleetEvent.seq > after_seq)
            .order_by(FleetEvent.seq, FleetEvent.event_id)
            .limit(limit)
        )
    ).scalars()
    return [
        FleetEventOut(
            event_id=row.event_id,
            seq=row.seq,
            ts=row.ts,
            event_type=row.event_type,
            job_id=row.job_id,
            data=row.data,
            received_at=row.received_at,
        )
        for row in rows
    ]


async def raw_telemetry(
    session: AsyncSession, pid: str, since: datetime, until: datetime, limit: int
) -> list[RawSample]:
    rows = (
        await session.execute(
            select(TelemetrySample)
            .where(TelemetrySample.printer_id == pid, TelemetrySample.ts >= since, TelemetrySample.ts < until)
            .order_by(TelemetrySample.ts)
            .limit(limit)
        )
    ).scalars()
    return [
        RawSample(ts=row.ts, temps=heater_readings(row.temps), progress=row.progress, layer=row.layer)
        for row in rows
    ]


async def minute_telemetry(
    session: AsyncSession, pid: str, since: datetime, until: datetime, limit: int
) -> list[MinuteSample]:
    rows = (
        await session.execute(
            select(TelemetryMinute)
            .where(
                TelemetryMinute.printer_id == pid,
                TelemetryMinute.minute >= since,
                TelemetryMinute.minute < until,
            )
            .order_by(TelemetryMinute.minute)
            .limit(limit)
        )
    ).scalars()
    return [
        MinuteSample(
            minute=row.minute,
            temps={
                name: HeaterMinute.model_validate(stats)
                for name, stats in row.temps.items()
                if isinstance(stats, dict)
            },
            progress=row.progress,
            samples=row.samples,
        )
        for row in rows
    ]


async def changed_since(
    session: AsyncSession, since: datetime, limit: int
) -> Sequence[Row[Printer, PrinterStateRow]]:
    """Printers whose state row changed after ``since`` (any organisation), oldest change first."""
    statement = (
        select(Printer, PrinterStateRow)
        .join(PrinterStateRow, PrinterStateRow.printer_id == Printer.pid)
        .where(PrinterStateRow.updated_at > since)
        .order_by(PrinterStateRow.updated_at)
        .limit(limit)
    )
    return (await session.execute(statement)).all()
