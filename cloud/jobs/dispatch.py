"""The farm queue's decisions, pure: which queued job goes to which idle printer, and why not.

No I/O: the dispatcher (``cloud.jobs.dispatcher``) reads rows into these values, calls ``plan``
and writes the outcome back.

Rules:

- A printer **fits** a job when the material is the same (case-insensitive), the nozzle is within
  0.01 mm, its build volume is at least the job's on every axis, and it carries every required
  tag. A requirement left empty matches anything.
- A printer is **idle** when it is online, its ``printer_state`` is standby / complete / cancelled,
  its own queue is ``ready`` (the operator marked the bed clear with ``queue.start``, or the
  profile clears it), its queue is empty and no cloud job holds it.
- Jobs are taken highest priority first, then oldest (then by id, for a stable order). Each takes
  the best idle fitting printer: one that has not refused it before, then the smallest build
  volume that fits (large printers stay free for large parts), then by id.
- Staggered starts: at most ``budget`` offers in this round (the dispatcher derives it from the
  offers made farm-wide in the last window); the rest wait with a reason.
- A job that gets no printer keeps a human reason: ``no printer with material PETG and nozzle
  0.6 mm``, ``3 printers fit but all are busy (2 printing, 1 offline)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

NOZZLE_TOLERANCE_MM: Final = 0.01
IDLE_PRINTER_STATES: Final = frozenset({"standby", "complete", "cancelled"})


@dataclass(frozen=True, slots=True)
class Requirements:
    material: str | None = None
    nozzle_mm: float | None = None
    min_build_mm: tuple[float, float, float] | None = None
    tags: frozenset[str] = frozenset()

    def describe(self) -> str:
        """``material PETG, nozzle 0.6 mm and tags bay-3`` (empty when nothing is required)."""
        parts: list[str] = []
        if self.material is not None:
            parts.append(f"material {self.material}")
        if self.nozzle_mm is not None:
            parts.append(f"nozzle {self.nozzle_mm:g} mm")
        if self.min_build_mm is not None:
            x, y, z = self.min_build_mm
            parts.append(f"a build volume of at least {x:g} x {y:g} x {z:g} mm")
        if self.tags:
            parts.append(f"tag{'s' if len(self.tags) > 1 else ''} {', '.join(sorted(self.tags))}")
        if len(parts) <= 1:
            return "".join(parts)
        return f"{', '.join(parts[:-1])} and {parts[-1]}"


@dataclass(frozen=True, slots=True)
class QueuedJob:
    job_id: str
    priority: int
    created_at: datetime
    requirements: Requirements
    avoid_printers: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PrinterView:
    """One printer as the dispatcher sees it: its record, its latest state, and whether a job holds it."""

    pid: str
    material: str | None
    nozzle_mm: float | None
    build_mm: tuple[float, float, float] | None
    tags: frozenset[str]
    online: bool
    printer_state: str | None
    queue_state: str | None
    queue_length: int = 0
    held_by_job: bool = False


@dataclass(frozen=True, slots=True)
class Assignment:
    job_id: str
    pid: str


@dataclass(slots=True)
class Plan:
    assignments: list[Assignment] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)


def fits(req: Requirements, printer: PrinterView) -> bool:
    """The printer can print the job (whatever it is doing now)."""
    if req.material is not None and (
        printer.material is None or printer.material.casefold() != req.material.casefold()
    ):
        return False
    if req.nozzle_mm is not None and (
        printer.nozzle_mm is None or abs(printer.nozzle_mm - req.nozzle_mm) > NOZZLE_TOLERANCE_MM + 1e-9
    ):
        return False
    if req.min_build_mm is not None:
        if printer.build_mm is None:
            return False
        if any(have < need for have, need in zip(printer.build_mm, req.min_build_mm, strict=True)):
            return False
    return req.tags <= printer.tags


def busy_reason(printer: PrinterView) -> str | None:
    """Why the printer cannot take a job now (a short phrase), or None when it is idle."""
    if not printer.online:
        return "offline"
    if printer.printer_state is None:
        return "not reporting its state"
    if printer.held_by_job:
        return "holding a job"
    if printer.printer_state not in IDLE_PRINTER_STATES:
        return printer.printer_state  # printing, paused, error
    if printer.queue_length > 0:
        return "with jobs in its own queue"
    if printer.queue_state != "ready":
        return "waiting for the bed to be cleared"
    return None


def _volume(printer: PrinterView) -> float:
    if printer.build_mm is None:
        return float("inf")
    x, y, z = printer.build_mm
    return x * y * z


def job_order(jobs: Iterable[QueuedJob]) -> list[QueuedJob]:
    """Highest priority first, then oldest, then by id."""
    return sorted(jobs, key=lambda j: (-j.priority, j.created_at, j.job_id))


def _busy_summary(fitting: Sequence[PrinterView], taken: set[str]) -> str:
    causes = Counter(
        "given to a job ahead in the queue" if p.pid in taken else (busy_reason(p) or "idle") for p in fitting
    )
    detail = ", ".join(f"{count} {cause}" for cause, count in sorted(causes.items(), key=lambda c: -c[1]))
    if len(fitting) == 1:
        return f"1 printer fits but it is busy ({detail.removeprefix('1 ')})"
    return f"{len(fitting)} printers fit but all are busy ({detail})"


def plan(
    jobs: Iterable[QueuedJob],
    printers: Sequence[PrinterView],
    *,
    budget: int,
    stagger_note: str = "staggered starts: waiting for a free start slot",
) -> Plan:
    """Assign queued jobs to idle fitting printers; a reason for each job left waiting."""
    result = Plan()
    idle = {p.pid: p for p in printers if busy_reason(p) is None}
    taken: set[str] = set()
    for job in job_order(jobs):
        req = job.requirements
        fitting = [p for p in printers if fits(req, p)]
        if not fitting:
            wanted = req.describe()
            result.reasons[job.job_id] = f"no printer with {wanted}" if wanted else "no printer enrolled"
            continue
        free = [p for p in fitting if p.pid in idle and p.pid not in taken]
        if not free:
            result.reasons[job.job_id] = _busy_summary(fitting, taken)
            continue
        if budget <= len(result.assignments):
            result.reasons[job.job_id] = stagger_note
            continue
        best = min(free, key=lambda p: (p.pid in job.avoid_printers, _volume(p), p.pid))
        taken.add(best.pid)
        result.assignments.append(Assignment(job.job_id, best.pid))
    return result


def stagger_budget(recent_offers: Iterable[datetime], now: datetime, *, limit: int, window_s: float) -> int:
    """How many offers may go out now: ``limit`` minus those made in the last ``window_s`` seconds."""
    since = now - timedelta(seconds=window_s)
    used = sum(1 for at in recent_offers if at > since)
    return max(0, limit - used)


def retry_delay_s(attempts: int, *, initial_s: float, max_s: float) -> float:
    """Exponential backoff: ``initial_s`` after the first send, doubling, capped at ``max_s``."""
    return float(min(max_s, initial_s * 2 ** max(0, attempts - 1)))
