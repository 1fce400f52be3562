"""Bodies and answers of the agent's own API (`/api/agent/...`): snake_case JSON, units in names."""

from __future__ import annotations

import dataclasses
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.state import HeaterReading, LinkState, PrinterState, QueueState
from edge_agent.control import JobState, JobView, PrinterView
from edge_agent.http.names import is_plain_name

PRIORITY_LIMIT = 1000


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobOut(ApiModel):
    job_id: str
    filename: str
    state: JobState
    priority: int
    position: float
    size_bytes: int
    source: str
    progress: float = Field(description="fraction 0..1 of the file's bytes acknowledged by the firmware")
    file_pos_bytes: int
    print_duration_s: float
    est_print_s: float | None
    time_left_s: float | None
    layer: int | None
    total_layers: int | None
    message: str
    created_ms: int
    updated_ms: int

    @classmethod
    def of(cls, view: JobView) -> JobOut:
        return cls.model_validate(dataclasses.asdict(view))


class JobListOut(ApiModel):
    jobs: list[JobOut]


class EnqueueIn(ApiModel):
    filename: str = Field(min_length=1, max_length=255)
    priority: int = Field(default=0, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT, description="higher runs first")

    @field_validator("filename")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not is_plain_name(value):
            raise ValueError("must be the name of a stored file (no folders, not hidden)")
        return value


class MoveIn(ApiModel):
    priority: int | None = Field(default=None, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)
    before: str | None = Field(default=None, min_length=1, max_length=128, description="a queued job's id")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.priority is None and self.before is None:
            raise ValueError("give priority, before, or both")
        return self


class PrinterOut(ApiModel):
    link: LinkState
    printer_state: PrinterState
    operational: bool
    port: str
    baud: int
    firmware: str
    message: str
    temps: dict[str, HeaterReading]
    queue_state: QueueState
    bed_clear: bool

    @classmethod
    def of(cls, view: PrinterView) -> PrinterOut:
        return cls(
            link=view.link,
            printer_state=view.printer_state,
            operational=view.operational,
            port=view.port,
            baud=view.baud,
            firmware=view.firmware,
            message=view.message,
            temps=dict(view.temps),
            queue_state=view.queue_state,
            bed_clear=view.bed_clear,
        )
