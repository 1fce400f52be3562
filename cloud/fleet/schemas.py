"""HTTP bodies of the fleet API (heater readings and job progress reuse the contract's models)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, JsonValue

from contract.state import HeaterReading, JobProgress, QueueSnapshot


class Resolution(StrEnum):
    RAW = "raw"
    MINUTE = "minute"


class FleetSummary(BaseModel):
    """Counts over the caller's organisation's printers."""

    printers: int = Field(description="enrolled printers")
    online: int = Field(description="connected to the broker (retained status / last will)")
    offline: int
    printing: int
    paused: int
    errors: int = Field(description="printer_state 'error' or serial link 'error'")
    by_state: dict[str, int] = Field(
        description="printer_state → count; 'unknown' for printers that never sent a state"
    )


class FleetPrinter(BaseModel):
    """A printer's record joined with its latest state and presence."""

    id: str
    name: str
    tags: list[str]
    nozzle_mm: float | None
    material: str | None
    online: bool
    online_since: datetime | None = Field(description="when it came online (null while offline)")
    printer_state: str | None = Field(
        description="standby | printing | paused | complete | cancelled | error"
    )
    link: str | None = Field(description="the agent's serial link: connected | disconnected | error")
    message: str | None
    queue: QueueSnapshot | None
    progress: float | None = Field(description="fraction 0..1 of the current job")
    job: JobProgress | None
    temps: dict[str, HeaterReading] = Field(description="heater → reading, °C")
    seq: int | None = Field(description="seq of the stored snapshot (higher is newer)")
    state_at: datetime | None = Field(description="when the agent took the stored snapshot")
    updated_at: datetime | None = Field(description="when the cloud last changed this row")


class PrinterPage(BaseModel):
    items: list[FleetPrinter]
    total: int = Field(description="printers matching the filters")
    limit: int
    offset: int


class FleetEventOut(BaseModel):
    event_id: str
    seq: int
    ts: datetime
    event_type: str
    job_id: str | None
    data: dict[str, JsonValue]
    received_at: datetime


class EventPage(BaseModel):
    items: list[FleetEventOut] = Field(description="in seq order")
    next_after_seq: int | None = Field(description="pass as after_seq for the next page; null at the end")


class HeaterMinute(BaseModel):
    mean: float | None
    max: float | None
    target: float | None = Field(description="the last target of the minute")


class RawSample(BaseModel):
    ts: datetime
    temps: dict[str, HeaterReading]
    progress: float | None
    layer: int | None


class MinuteSample(BaseModel):
    minute: datetime
    temps: dict[str, HeaterMinute]
    progress: float | None = Field(description="the last progress of the minute")
    samples: int


class TelemetrySeries(BaseModel):
    printer_id: str
    resolution: Resolution
    since: datetime
    until: datetime
    items: list[RawSample] | list[MinuteSample] = Field(description="oldest first")
    truncated: bool = Field(description="true when more samples exist than the limit returned")


def heater_readings(temps: Any) -> dict[str, HeaterReading]:
    """Stored ``temps`` JSON → readings (entries that do not fit are skipped)."""
    if not isinstance(temps, dict):
        return {}
    readings: dict[str, HeaterReading] = {}
    for name, value in temps.items():
        if isinstance(value, dict) and "actual" in value and "target" in value:
            readings[name] = HeaterReading.model_validate(value)
    return readings
