"""The job queue's rules, pure: which state changes are allowed, which job goes next, where a moved
job lands. The store (`edge_agent.store.jobs`) applies them in transactions; nothing here does I/O.

    queued ──start──▶ printing ⇄ paused
      │                  │  │  └──▶ cancelled
      │                  │  └─────▶ completed | failed
      │                  └────────▶ interrupted ──resume──▶ printing
      └──────────────▶ cancelled (removed before it started)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from contract.jobs import StartPolicy
from edge_agent.control import JobState, JobView
from edge_agent.errors import Conflict

ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.PRINTING, JobState.CANCELLED}),
    JobState.PRINTING: frozenset(
        {JobState.PAUSED, JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED}
    ),
    JobState.PAUSED: frozenset(
        {JobState.PRINTING, JobState.CANCELLED, JobState.FAILED, JobState.INTERRUPTED, JobState.COMPLETED}
    ),
    JobState.INTERRUPTED: frozenset({JobState.PRINTING, JobState.CANCELLED, JobState.FAILED}),
    JobState.COMPLETED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


def check_transition(job_id: str, current: JobState, new: JobState) -> None:
    """Raise Conflict unless `current → new` is a step of the lifecycle above."""
    if new not in ALLOWED[current]:
        raise Conflict(f"job {job_id} is {current.value}; it cannot become {new.value}")


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One row of the jobs table."""

    job_id: str
    revision: int
    filename: str
    file_path: Path
    sha256: str
    size_bytes: int
    state: JobState
    priority: int
    position: float
    source: str
    created_ms: int
    updated_ms: int
    message: str = ""
    est_print_s: float | None = None
    filament_mm: float | None = None
    start_policy: StartPolicy = StartPolicy.WHEN_READY
    not_after_ms: int | None = None
    print_duration_s: float = 0.0
    bytes_acked: int = 0
    layer: int | None = None
    total_layers: int | None = None
    stream_start_line: int = 0
    last_acked_line: int = -1  # 0-based file line of the last command the firmware acknowledged
    acked_line_no: int = -1  # the wire line number (N) that command had in its stream
    resume_json: str | None = None
    started_ms: int | None = None
    finished_ms: int | None = None

    def view(self) -> JobView:
        progress = min(1.0, self.bytes_acked / self.size_bytes) if self.size_bytes else 0.0
        if self.state is JobState.COMPLETED:
            progress = 1.0
        time_left_s: float | None = None
        if self.est_print_s:  # 0 is "no estimate" (a G-code upload without one), not "done"
            time_left_s = max(0.0, self.est_print_s * (1.0 - progress))
        elif progress > 0.02 and self.print_duration_s > 0:
            time_left_s = self.print_duration_s * (1.0 - progress) / progress
        return JobView(
            job_id=self.job_id,
            filename=self.filename,
            state=self.state,
            priority=self.priority,
            position=self.position,
            size_bytes=self.size_bytes,
            source=self.source,
            progress=progress,
            file_pos_bytes=self.bytes_acked,
            print_duration_s=self.print_duration_s,
            est_print_s=self.est_print_s,
            time_left_s=time_left_s,
            layer=self.layer,
            total_layers=self.total_layers,
            message=self.message,
            created_ms=self.created_ms,
            updated_ms=self.updated_ms,
        )


def queue_order(jobs: Iterable[JobRecord]) -> list[JobRecord]:
    """Waiting jobs in the order they would start: priority high first, then position."""
    return sorted(
        (j for j in jobs if j.state is JobState.QUEUED), key=lambda j: (-j.priority, j.position, j.created_ms)
    )


@dataclass(frozen=True, slots=True)
class NextJob:
    """What `pick_next` decided: a job to start, or why none starts."""

    job: JobRecord | None
    reason: str


def pick_next(
    jobs: Sequence[JobRecord], *, bed_clear: bool, queue_paused: bool, printer_ready: bool, now_ms: int
) -> NextJob:
    """The job to start now, if any. A job starts by itself only when the printer is connected and
    idle, the queue is not paused and the bed is known to be clear; `manual` jobs never start by
    themselves; a job past its `not_after` is skipped (the caller fails it)."""
    if any(j.state.is_active for j in jobs):
        return NextJob(None, "a job is on the printer")
    waiting = queue_order(jobs)
    if not waiting:
        return NextJob(None, "the queue is empty")
    if queue_paused:
        return NextJob(None, "the queue is paused")
    if not printer_ready:
        return NextJob(None, "the printer is not ready")
    if not bed_clear:
        return NextJob(None, "waiting for the bed to be cleared (queue.start)")
    for job in waiting:
        if job.start_policy is StartPolicy.MANUAL:
            continue
        return NextJob(job, "ready")
    return NextJob(None, "only jobs that wait for a manual start are queued")


def expired(jobs: Iterable[JobRecord], now_ms: int) -> list[JobRecord]:
    """Queued jobs whose `not_after` has passed: they must not start any more."""
    return [
        j
        for j in jobs
        if j.state is JobState.QUEUED and j.not_after_ms is not None and now_ms > j.not_after_ms
    ]


def position_before(jobs: Sequence[JobRecord], before_id: str | None, priority: int) -> float:
    """A queue position that puts a job of `priority` just before job `before_id` (or at the end of its
    priority band when None)."""
    band = [j for j in queue_order(jobs) if j.priority == priority]
    if before_id is None:
        return (band[-1].position + 1.0) if band else 0.0
    index = next((i for i, j in enumerate(band) if j.job_id == before_id), None)
    if index is None:
        raise Conflict(f"job {before_id} is not queued with priority {priority}")
    after = band[index].position
    previous = band[index - 1].position if index > 0 else after - 2.0
    return (previous + after) / 2.0


def front_position(jobs: Sequence[JobRecord]) -> float:
    """A position ahead of every queued job (for OctoPrint's `print=true`)."""
    waiting = [j.position for j in jobs if j.state is JobState.QUEUED]
    return min(waiting, default=1.0) - 1.0
