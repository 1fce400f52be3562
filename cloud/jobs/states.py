"""The job state machine: how a job row moves on an offer's outcome and on the agent's events.

::

    queued ──offer──▶ offered ──ack queued / job.queued──▶ accepted ──job.started──▶ printing
      ▲                  │                                                       │  ▲
      └──rejected, no answer (attempts left)                         job.paused  ▼  │ job.resumed
                         │                                                     paused
                         └──▶ failed (after max_offer_attempts)
    printing / paused / interrupted ──job.completed──▶ completed
                                    ──job.failed─────▶ failed
                                    ──job.cancelled──▶ cancelled
    printing ──job.interrupted──▶ interrupted ──job.started / job.resumed──▶ printing

Final states (completed, failed, cancelled) never change again. The functions mutate the row and
return what else must happen (a printer that should drop the job), they do no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from cloud.jobs.models import Job, JobState
from contract.events import EventType

_EVENT_STATES: Final = {
    EventType.JOB_QUEUED: JobState.ACCEPTED,
    EventType.JOB_STARTED: JobState.PRINTING,
    EventType.JOB_RESUMED: JobState.PRINTING,
    EventType.JOB_PAUSED: JobState.PAUSED,
    EventType.JOB_INTERRUPTED: JobState.INTERRUPTED,
    EventType.JOB_COMPLETED: JobState.COMPLETED,
    EventType.JOB_FAILED: JobState.FAILED,
    EventType.JOB_CANCELLED: JobState.CANCELLED,
}


def state_of(job: Job) -> JobState:
    return JobState(job.state)


def set_state(job: Job, state: JobState, now: datetime, *, reason: str | None = None) -> None:
    job.state = state.value
    job.updated_at = now
    job.reason = reason
    if state.is_final:
        job.finished_at = now
    if state is JobState.PRINTING and job.started_at is None:
        job.started_at = now


def requeue_or_fail(job: Job, printer_id: str, why: str, now: datetime, *, max_attempts: int) -> None:
    """An offer to ``printer_id`` came to nothing: back to the queue (that printer last), or failed."""
    job.offer_attempts += 1
    if printer_id not in job.avoid_printers:
        job.avoid_printers = [*job.avoid_printers, printer_id]
    job.printer_id = None
    job.offered_at = None
    if job.offer_attempts >= max_attempts:
        set_state(job, JobState.FAILED, now, reason=f"{why}; gave up after {job.offer_attempts} offers")
    else:
        set_state(job, JobState.QUEUED, now, reason=why)


def _event_reason(event_type: EventType, data: dict[str, Any]) -> str | None:
    if event_type not in (EventType.JOB_FAILED, EventType.JOB_INTERRUPTED):
        return None
    for key in ("message", "cause", "reason", "error"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value[:1000]
    return "the printer reported a failure" if event_type is EventType.JOB_FAILED else "interrupted"


def apply_event(
    job: Job, printer_id: str, event_type: EventType, data: dict[str, Any], now: datetime
) -> str | None:
    """Move ``job`` on an event from ``printer_id``. Returns a printer that should drop its copy, if any.

    An event from a printer other than the one the job was offered to means that printer has the
    job after all (an offer we gave up on was queued there): it becomes the job's printer, and the
    printer it was offered to since should drop it.
    """
    target = _EVENT_STATES.get(event_type)
    current = state_of(job)
    if target is None or current.is_final:
        return None
    if target is JobState.ACCEPTED and current not in (JobState.QUEUED, JobState.OFFERED):
        return None  # a late job.queued after the job started
    stale = None
    if job.printer_id != printer_id:
        if job.printer_id is not None and current in (JobState.OFFERED, JobState.ACCEPTED):
            stale = job.printer_id
        job.printer_id = printer_id
    set_state(job, target, now, reason=_event_reason(event_type, data))
    return stale
