"""Telemetry downsampling: raw samples older than ``raw_retention_s`` become per-minute rows.

Each round, one minute at a time (oldest first, up to the last whole minute before the raw
horizon), in one transaction per minute: ``DELETE ... RETURNING`` the raw samples of that minute,
fold them into ``fleet_telemetry_minute`` (mean and max of each heater's ``actual``, its last
``target``, the last ``progress``, the sample count) merging with a row already there (late
samples), and commit. Rows are only ever rolled up by the transaction that deleted them, so the
rollup is idempotent and several replicas may run it; on PostgreSQL a transaction-scoped advisory
lock also keeps them from doing the same work twice. Per-minute rows older than
``minute_retention_s`` are deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from cloud.db import Database
from cloud.fleet.metrics import FleetMetrics
from cloud.fleet.models import TelemetryMinute, TelemetrySample
from cloud.settings import FleetSettings

log = logging.getLogger(__name__)

ROLLUP_LOCK_KEY: Final = 0x3D_90_7C_10_0E
MAX_MINUTES_PER_ROUND: Final = 120
_RAW: Final[Table] = TelemetrySample.__table__  # type: ignore[assignment]
_MINUTE: Final[Table] = TelemetryMinute.__table__  # type: ignore[assignment]


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@dataclass(slots=True)
class HeaterFold:
    total: float = 0.0
    count: int = 0
    maximum: float | None = None
    target: float | None = None
    target_ts: datetime | None = None

    def add(self, actual: Any, target: Any, ts: datetime) -> None:
        if isinstance(actual, int | float):
            self.total += float(actual)
            self.count += 1
            self.maximum = float(actual) if self.maximum is None else max(self.maximum, float(actual))
        if isinstance(target, int | float) and (self.target_ts is None or ts >= self.target_ts):
            self.target, self.target_ts = float(target), ts

    def merge_stored(self, stored: Any, samples: int) -> None:
        """Fold in a per-minute row already stored (it counts as ``samples`` earlier samples)."""
        if not isinstance(stored, dict):
            return
        mean, maximum = stored.get("mean"), stored.get("max")
        if isinstance(mean, int | float) and samples > 0:
            self.total += float(mean) * samples
            self.count += samples
        if isinstance(maximum, int | float):
            self.maximum = float(maximum) if self.maximum is None else max(self.maximum, float(maximum))
        if self.target is None and isinstance(stored.get("target"), int | float):
            self.target = float(stored["target"])

    def stats(self) -> dict[str, float | None]:
        mean = self.total / self.count if self.count else None
        return {"mean": mean, "max": self.maximum, "target": self.target}


@dataclass(slots=True)
class MinuteFold:
    heaters: dict[str, HeaterFold] = field(default_factory=dict)
    samples: int = 0
    progress: float | None = None
    progress_ts: datetime | None = None


def fold(rows: Iterable[tuple[str, datetime, Any, float | None]]) -> dict[str, MinuteFold]:
    """Raw samples ``(printer_id, ts, temps, progress)`` of one minute → one fold per printer."""
    folds: dict[str, MinuteFold] = {}
    for pid, ts, temps, progress in rows:
        minute = folds.setdefault(pid, MinuteFold())
        minute.samples += 1
        if progress is not None and (minute.progress_ts is None or ts >= minute.progress_ts):
            minute.progress, minute.progress_ts = progress, ts
        if isinstance(temps, dict):
            for name, reading in temps.items():
                if isinstance(reading, dict):
                    heater = minute.heaters.setdefault(name, HeaterFold())
                    heater.add(reading.get("actual"), reading.get("target"), ts)
    return folds


class TelemetryRollup:
    """``await run()`` rolls up every ``rollup_interval_s``; ``await roll_up(now)`` does one round."""

    def __init__(
        self,
        database: Database,
        settings: FleetSettings,
        metrics: FleetMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self.database = database
        self.settings = settings
        self.metrics = metrics
        self.clock = clock

    async def run(self) -> None:
        while True:
            try:
                await self.roll_up(self.clock())
            except (SQLAlchemyError, OSError) as exc:
                log.warning("telemetry rollup failed, retrying next round: %s", str(exc).splitlines()[0])
            await asyncio.sleep(self.settings.rollup_interval_s)

    async def roll_up(self, now: datetime) -> int:
        """One round: the number of raw samples rolled up."""
        horizon = floor_minute(now - timedelta(seconds=self.settings.raw_retention_s))
        rolled = 0
        for _ in range(MAX_MINUTES_PER_ROUND):
            async with self.database.engine.begin() as conn:
                if not await self._lock(conn):
                    return rolled
                oldest = (await conn.execute(select(func.min(_RAW.c.ts)))).scalar_one_or_none()
                if oldest is None or oldest >= horizon:
                    break
                minute = floor_minute(oldest)
                rolled += await self._roll_minute(conn, minute)
        async with self.database.engine.begin() as conn:
            expiry = now - timedelta(seconds=self.settings.minute_retention_s)
            expired = await conn.execute(delete(_MINUTE).where(_MINUTE.c.minute < expiry))
            self.metrics.rollup_deleted_minutes.inc(max(expired.rowcount, 0))
        self.metrics.rollup_rows.inc(rolled)
        return rolled

    async def _lock(self, conn: AsyncConnection) -> bool:
        if conn.dialect.name != "postgresql":
            return True
        locked = await conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ROLLUP_LOCK_KEY})
        return bool(locked.scalar_one())

    async def _roll_minute(self, conn: AsyncConnection, minute: datetime) -> int:
        end = minute + timedelta(minutes=1)
        deleted = await conn.execute(
            delete(_RAW)
            .where(_RAW.c.ts >= minute, _RAW.c.ts < end)
            .returning(_RAW.c.printer_id, _RAW.c.ts, _RAW.c.temps, _RAW.c.progress)
        )
        raw = [(row[0], row[1], row[2], row[3]) for row in deleted]
        folds = fold(raw)
        if not folds:
            return 0
        stored = await conn.execute(
            select(_MINUTE.c.printer_id, _MINUTE.c.temps, _MINUTE.c.progress, _MINUTE.c.samples).where(
                _MINUTE.c.minute == minute, _MINUTE.c.printer_id.in_(list(folds))
            )
        )
        for pid, temps, progress, samples in stored:
            existing = folds[pid]
            for name, stats in (temps or {}).items():
                existing.heaters.setdefault(name, HeaterFold()).merge_stored(stats, samples)
            existing.samples += samples
            if existing.progress is None:
                existing.progress = progress
        rows = [
            {
                "printer_id": pid,
                "minute": minute,
                "temps": {name: heater.stats() for name, heater in folded.heaters.items()},
                "progress": folded.progress,
                "samples": folded.samples,
            }
            for pid, folded in folds.items()
        ]
        insert: Any = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(_MINUTE)
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=["printer_id", "minute"],
                set_={name: insert.excluded[name] for name in ("temps", "progress", "samples")},
            ),
            rows,
        )
        return len(raw)
