"""HTTP bodies of the farm queue: jobs, their requirements and history, and printer commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cloud.fields import Material, NozzleMm, Tags
from cloud.printers.schemas import BuildVolume

Priority = Field(default=0, ge=-1000, le=1000, description="higher goes first; ties go oldest first")


class Requirements(BaseModel):
    """What a printer needs to take the job; an empty requirement matches any printer."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    material: Material | None = None
    nozzle_mm: NozzleMm | None = Field(default=None, description="matched within 0.01 mm")
    min_build_volume: BuildVolume | None = Field(
        default=None, description="the printer's must be at least this"
    )
    tags: Tags = Field(default_factory=list, description="the printer must carry every one of them")


class JobUploadFields(Requirements):
    """The text fields of ``POST /api/jobs`` (multipart/form-data, next to the ``file`` part)."""

    priority: int = Priority
    est_print_s: float = Field(default=0.0, ge=0, le=1e8, description="estimated print time, seconds")
    filament_mm: float = Field(default=0.0, ge=0, le=1e9, description="estimated filament, millimetres")
    min_x_mm: float | None = Field(default=None, gt=0, le=10_000)
    min_y_mm: float | None = Field(default=None, gt=0, le=10_000)
    min_z_mm: float | None = Field(default=None, gt=0, le=10_000)

    @field_validator("tags", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [tag.strip() for item in value for tag in str(item).split(",") if tag.strip()]
        return value

    @model_validator(mode="after")
    def _volume(self) -> JobUploadFields:
        given = [v for v in (self.min_x_mm, self.min_y_mm, self.min_z_mm) if v is not None]
        if given and self.min_build_volume is None:
            if len(given) != 3:
                raise ValueError("give all of min_x_mm, min_y_mm and min_z_mm, or none")
            assert self.min_x_mm and self.min_y_mm and self.min_z_mm
            self.min_build_volume = BuildVolume(x_mm=self.min_x_mm, y_mm=self.min_y_mm, z_mm=self.min_z_mm)
        return self


class JobUpdate(BaseModel):
    """``PATCH /api/jobs/{id}`` while the job is queued: only the fields given change."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    priority: int | None = Field(default=None, ge=-1000, le=1000)
    requirements: Requirements | None = Field(default=None, description="replaces the requirements whole")

    @model_validator(mode="after")
    def _not_null(self) -> JobUpdate:
        for name in ("priority", "requirements"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (leave it out to keep it)")
        return self


class JobOut(BaseModel):
    id: str
    filename: str
    state: str = Field(
        description=(
            "queued | offered | accepted | printing | paused | interrupted | completed | failed | cancelled"
        )
    )
    reason: str | None = Field(
        description="why a queued job waits, why an offer failed, or why the job failed"
    )
    priority: int
    requirements: Requirements
    printer_id: str | None
    revision: int
    size_bytes: int
    sha256: str
    est_print_s: float
    filament_mm: float
    offer_attempts: int
    created_at: datetime
    updated_at: datetime
    offered_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class AckOut(BaseModel):
    status: str
    code: str | None
    message: str | None
    ts: datetime


class CommandOut(BaseModel):
    cmd_id: str
    printer_id: str
    job_id: str | None
    verb: str
    status: str = Field(description="pending (no ack yet), an ack status, or gave_up")
    code: str | None
    message: str | None
    attempts: int = Field(description="how many times it was published")
    issued_at: datetime
    expires_at: datetime
    acked_at: datetime | None
    next_retry_at: datetime | None
    acks: list[AckOut] = Field(default_factory=list, description="every ack the agent sent, oldest first")


class JobEventOut(BaseModel):
    event_id: str
    printer_id: str
    event_type: str
    seq: int
    ts: datetime
    data: dict[str, Any]


class JobDetail(JobOut):
    history: list[JobEventOut] = Field(description="the agents' events about this job, oldest first")
    commands: list[CommandOut] = Field(description="offers and commands sent for this job")


class CancelResult(BaseModel):
    job: JobOut
    cmd_id: str | None = Field(description="the command sent to the printer, when one holds the job")


class CommandAccepted(BaseModel):
    cmd_id: str
    printer_id: str
    verb: str
    status: str
