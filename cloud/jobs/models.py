"""Tables of the farm queue: ``jobs`` and ``job_commands`` (revision 0003_jobs).

- ``jobs``: one row per print job of an organisation: the stored G-code (key, sha256, size), what
  it needs (material, nozzle, minimum build volume, tags), its priority and where it stands
  (``JobState``). ``reason`` says in words why a queued job waits, or why it failed. ``revision``
  goes up when an operator changes the job, so an agent replaces an offered copy it holds.
  ``avoid_printers`` lists printers that refused it (they are tried last).
- ``job_commands``: every command the cloud sends a printer — job offers and operator commands
  (pause, resume, cancel, queue.start, job.revoke) — with its delivery state: ``status`` is the
  latest ack (``pending`` before any), ``attempts`` counts publishes, ``next_retry_at`` is when the
  retry loop sends it again (NULL once a terminal ack arrived or it was given up).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import ID_CHARS, Base, PortableJSON, new_id, utcnow
from cloud.printers.models import MATERIAL_MAX_CHARS, PID_MAX_CHARS

FILENAME_MAX_CHARS = 255
KEY_MAX_CHARS = 512
REASON_MAX_CHARS = 1000


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for a printer (``reason`` says why)
    OFFERED = "offered"  # a signed offer is on its way to ``printer_id``
    ACCEPTED = "accepted"  # the agent verified, stored and queued it
    PRINTING = "printing"
    PAUSED = "paused"
    INTERRUPTED = "interrupted"  # power loss / board reset mid-print; the agent can resume it
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)

    @property
    def holds_printer(self) -> bool:
        """The job occupies its printer (no other job is offered to it meanwhile)."""
        return self in ACTIVE_STATES


ACTIVE_STATES = frozenset(
    {JobState.OFFERED, JobState.ACCEPTED, JobState.PRINTING, JobState.PAUSED, JobState.INTERRUPTED}
)


class CommandStatus(StrEnum):
    """The latest word on a command: ``pending`` (no ack yet), an ``AckStatus`` value, or ``gave_up``."""

    PENDING = "pending"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    QUEUED = "queued"
    OK = "ok"
    REJECTED = "rejected"
    EXPIRED = "expired"
    ERROR = "error"
    GAVE_UP = "gave_up"  # no (terminal) answer after every attempt

    @property
    def is_terminal(self) -> bool:
        return self not in (CommandStatus.PENDING, CommandStatus.RECEIVED, CommandStatus.ACCEPTED)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX_CHARS))
    file_key: Mapped[str] = mapped_column(String(KEY_MAX_CHARS))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    est_print_s: Mapped[float] = mapped_column(Float, default=0.0)
    filament_mm: Mapped[float] = mapped_column(Float, default=0.0)
    material: Mapped[str | None] = mapped_column(String(MATERIAL_MAX_CHARS), default=None)
    nozzle_mm: Mapped[float | None] = mapped_column(Float, default=None)
    min_x_mm: Mapped[float | None] = mapped_column(Float, default=None)
    min_y_mm: Mapped[float | None] = mapped_column(Float, default=None)
    min_z_mm: Mapped[float | None] = mapped_column(Float, default=None)
    tags: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value)
    printer_id: Mapped[str | None] = mapped_column(
        String(PID_MAX_CHARS), ForeignKey("printers.pid", ondelete="SET NULL"), default=None, index=True
    )
    revision: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX_CHARS), default=None)
    offer_attempts: Mapped[int] = mapped_column(Integer, default=0)
    avoid_printers: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    created_by: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None)
    listing_id: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None, index=True)  # market
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_jobs_state_priority_created", "state", "priority", "created_at"),)


class JobCommand(Base):
    __tablename__ = "job_commands"

    cmd_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    printer_id: Mapped[str] = mapped_column(String(PID_MAX_CHARS))
    job_id: Mapped[str | None] = mapped_column(
        String(ID_CHARS), ForeignKey("jobs.id", ondelete="CASCADE"), default=None, index=True
    )
    verb: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    revision: Mapped[int | None] = mapped_column(Integer, default=None)  # job.offer: the revision offered
    status: Mapped[str] = mapped_column(String(16), default=CommandStatus.PENDING.value)
    code: Mapped[str | None] = mapped_column(String(64), default=None)
    message: Mapped[str | None] = mapped_column(String(REASON_MAX_CHARS), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    next_retry_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    acked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None)

    __table_args__ = (Index("ix_job_commands_verb_issued_at", "verb", "issued_at"),)
