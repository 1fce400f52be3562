"""What the agent's front doors (local HTTP API, MQTT commands, Home Assistant) may see and do.

`AgentControl` is the one interface they call; `edge_agent.agent.Agent` implements it. Views are
immutable snapshots, so a front door never holds a reference into the core's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry

from contract.state import HeaterReading, LinkState, PrinterState, QueueState


class JobState(StrEnum):
    """A job's life: queued → printing ⇄ paused → completed | failed | cancelled | interrupted.

    `interrupted` (the board reset or lost power mid-print) is resumable: `resume` puts it back to
    printing from the start of the layer it was on."""

    QUEUED = "queued"
    PRINTING = "printing"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_finished(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)

    @property
    def is_active(self) -> bool:
        """On the printer now (printing or paused)."""
        return self in (JobState.PRINTING, JobState.PAUSED)


@dataclass(frozen=True, slots=True)
class FileView:
    name: str  # sanitised, unique within the agent's files folder
    size_bytes: int
    sha256: str
    uploaded_ms: int
    path: Path


@dataclass(frozen=True, slots=True)
class JobView:
    job_id: str
    filename: str
    state: JobState
    priority: int
    position: float  # queue order within a priority (lower first)
    size_bytes: int
    source: str  # "upload", "cloud", "api"
    progress: float = 0.0  # fraction 0..1 of the file's bytes acknowledged by the firmware
    file_pos_bytes: int = 0
    print_duration_s: float = 0.0
    est_print_s: float | None = None
    time_left_s: float | None = None
    layer: int | None = None
    total_layers: int | None = None
    message: str = ""
    created_ms: int = 0
    updated_ms: int = 0


@dataclass(frozen=True, slots=True)
class PrinterView:
    link: LinkState
    printer_state: PrinterState
    port: str
    baud: int
    firmware: str = ""
    message: str = ""
    temps: dict[str, HeaterReading] = field(default_factory=dict)
    queue_state: QueueState = QueueState.PAUSED
    bed_clear: bool = False

    @property
    def operational(self) -> bool:
        return self.link is LinkState.CONNECTED


class AgentControl(Protocol):
    """Everything a front door may ask of the agent. Refusals raise `edge_agent.errors.AgentRefusal`."""

    @property
    def files_dir(self) -> Path:
        """Where uploads land: a front door streams into a temporary file inside it, then `add_file`."""
        ...

    @property
    def max_upload_bytes(self) -> int: ...

    @property
    def registry(self) -> CollectorRegistry:
        """Prometheus metrics of this agent (`/metrics`)."""
        ...

    def printer(self) -> PrinterView: ...

    def current_job(self) -> JobView | None:
        """The job printing or paused, else the last one that finished (None after a restart with none)."""
        ...

    async def jobs(self, *, include_finished: bool = False) -> list[JobView]:
        """Queue order: active first, then queued by priority (high first) and position."""
        ...

    async def job(self, job_id: str) -> JobView: ...

    async def add_file(self, name: str, temp_path: Path, *, sha256: str, size_bytes: int) -> FileView:
        """Take over `temp_path` (moved, not copied) as file `name` (already sanitised). Replaces a file of
        that name unless a queued or active job uses it (Conflict)."""
        ...

    async def files(self) -> list[FileView]: ...

    async def file(self, name: str) -> FileView: ...

    async def delete_file(self, name: str) -> None:
        """NotFound, or Conflict when a queued or active job uses it."""
        ...

    async def enqueue(self, filename: str, *, priority: int = 0, source: str = "api") -> JobView:
        """Queue a stored file as a new job (starts by itself only when the bed is marked clear)."""
        ...

    async def print_now(self, filename: str, *, source: str = "upload") -> JobView:
        """OctoPrint's `print=true`: queue the file at the front and start it if the printer is idle and
        connected (the person at the printer asked for it: the bed counts as clear). NotReady otherwise."""
        ...

    async def pause(self) -> None: ...

    async def resume(self) -> None:
        """Resume the paused job, or the interrupted one (reheat, home X/Y, restore Z, reprint its layer)."""
        ...

    async def cancel(self, job_id: str | None = None) -> None:
        """Cancel the active job (if `job_id` is given, only when it is that one), or a queued job by id."""
        ...

    async def start_queue(self) -> None:
        """The bed is clear: the next queued job may start."""
        ...

    async def pause_queue(self) -> None:
        """Start no further job (the current one continues)."""
        ...

    async def move_job(
        self, job_id: str, *, priority: int | None = None, before: str | None = None
    ) -> JobView:
        """Change a queued job's priority and/or place it just before another queued job."""
        ...

    async def remove_job(self, job_id: str) -> None:
        """Drop a queued, interrupted or finished job from the list (Conflict for an active one)."""
        ...
