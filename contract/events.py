"""The ``evt`` topic: job and printer events from the agent's durable outbox.

Events are delivered at least once (replayed after a reconnect); ``event_id`` is unique, so the
cloud inserts with ``ON CONFLICT (event_id) DO NOTHING``. ``seq`` orders them per printer.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, JsonValue

from contract.envelope import Payload


class EventType(StrEnum):
    """What happened."""

    JOB_QUEUED = "job.queued"
    JOB_STARTED = "job.started"
    JOB_PAUSED = "job.paused"
    JOB_RESUMED = "job.resumed"
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    JOB_INTERRUPTED = "job.interrupted"  # the board reset or lost power mid-print; resumable
    PRINTER_ERROR = "printer.error"
    QUEUE_CHANGED = "queue.changed"


class Event(Payload):
    """One event; ``data`` holds event-specific details (free-form JSON object)."""

    event_id: str = Field(min_length=1, max_length=128, description="globally unique, e.g. a ULID")
    seq: int = Field(ge=0)
    event_type: EventType
    job_id: str | None = None
    data: dict[str, JsonValue] = Field(default_factory=dict)
