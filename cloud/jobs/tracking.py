"""Follows what agents answer: acks of our commands and events of our jobs (ingest hooks).

``JobTracker.on_acks`` / ``on_events`` are registered on ``services.hooks``; the ingest calls them
after each committed batch, in the replica that ingested it. Both are idempotent — the ingest
delivers at least once — and check that the printer speaking is the one the command went to, or
belongs to the job's organisation, so no device can move another organisation's jobs.

Acks: a command's ``status`` only moves forward (pending → received → accepted → terminal). For
a ``job.offer``: ``queued`` makes the job ``accepted``; ``rejected`` / ``expired`` / ``error``
puts it back in the queue with the reason (or fails it after ``max_offer_attempts``); a
``queued`` for a job that was cancelled or went elsewhere meanwhile is answered with ``job.revoke``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db import Database
from cloud.fleet.hooks import IngestedAck, IngestedEvent
from cloud.jobs.commands import revoke_command
from cloud.jobs.models import CommandStatus, Job, JobCommand, JobState
from cloud.jobs.states import apply_event, requeue_or_fail, set_state
from cloud.printers.models import Printer
from cloud.settings import JobsSettings
from contract.acks import AckStatus
from contract.commands import CommandVerb

log = logging.getLogger(__name__)

_RANK: Final = {CommandStatus.PENDING: 0, CommandStatus.RECEIVED: 1, CommandStatus.ACCEPTED: 2}


def _moves_forward(current: CommandStatus, new: CommandStatus) -> bool:
    if current.is_terminal:
        return False
    return new.is_terminal or _RANK[new] > _RANK[current]


class JobTracker:
    def __init__(
        self,
        database: Database,
        settings: JobsSettings,
        clock: Callable[[], datetime],
        wake: Callable[[], None],
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.wake = wake

    async def on_acks(self, batch: Sequence[IngestedAck]) -> None:
        now = self.clock()
        changed = False
        async with self.database.session() as session:
            for item in batch:
                command = await session.get(JobCommand, item.ack.cmd_id, with_for_update=True)
                if command is None or command.printer_id != item.printer_id:
                    continue  # not ours, or a printer answering for another
                new = CommandStatus(item.ack.status.value)
                if not _moves_forward(CommandStatus(command.status), new):
                    continue
                command.status = new.value
                command.code = item.ack.code
                command.message = (item.ack.message or "")[:1000] or None
                command.acked_at = now
                if new.is_terminal:
                    command.next_retry_at = None
                elif command.verb == CommandVerb.JOB_OFFER.value:
                    command.next_retry_at = now + timedelta(seconds=self.settings.offer_answer_timeout_s)
                if command.verb == CommandVerb.JOB_OFFER.value and new.is_terminal and command.job_id:
                    job = await session.get(Job, command.job_id, with_for_update=True)
                    if job is not None:
                        changed |= self._offer_outcome(session, job, command, item.ack.status, now)
            await session.commit()
        if changed:
            self.wake()

    def _offer_outcome(
        self, session: AsyncSession, job: Job, command: JobCommand, status: AckStatus, now: datetime
    ) -> bool:
        """Apply an offer's terminal ack to its job; True when the dispatcher has new work."""
        ours = (
            job.printer_id == command.printer_id
            and job.revision == command.revision
            and job.state in (JobState.OFFERED.value, JobState.ACCEPTED.value)
        )
        if status is AckStatus.QUEUED:
            if ours:
                if job.state == JobState.OFFERED.value:
                    set_state(job, JobState.ACCEPTED, now)
                return False
            if job.printer_id != command.printer_id or JobState(job.state).is_final:
                session.add(
                    revoke_command(job, command.printer_id, now=now, ttl_s=self.settings.command_ttl_s)
                )
                log.info(
                    "printer %s queued job %s, which is no longer its: revoking", command.printer_id, job.id
                )
                return True
            return False
        if not ours or job.state != JobState.OFFERED.value:
            return False
        code = f" ({command.code})" if command.code else ""
        detail = f": {command.message}" if command.message else ""
        why = f"printer {command.printer_id} {status.value} the offer{code}{detail}"
        requeue_or_fail(job, command.printer_id, why, now, max_attempts=self.settings.max_offer_attempts)
        log.info("job %s: %s", job.id, why)
        return True

    async def on_events(self, batch: Sequence[IngestedEvent]) -> None:
        items = [i for i in batch if i.event.job_id and i.event.event_type.value.startswith("job.")]
        if not items:
            return
        now = self.clock()
        changed = False
        job_ids = sorted({i.event.job_id for i in items if i.event.job_id})
        pids = sorted({i.printer_id for i in items})
        async with self.database.session() as session:
            jobs = {
                job.id: job
                for job in (
                    await session.execute(
                        select(Job).where(Job.id.in_(job_ids)).order_by(Job.id).with_for_update()
                    )
                ).scalars()
            }
            if not jobs:
                return
            owners = await session.execute(select(Printer.pid, Printer.org_id).where(Printer.pid.in_(pids)))
            orgs = {pid: org for pid, org in owners}
            for item in sorted(items, key=lambda i: (i.printer_id, i.event.seq)):
                job = jobs.get(item.event.job_id or "")
                if job is None or orgs.get(item.printer_id) != job.org_id:
                    continue
                before = job.state
                stale = apply_event(job, item.printer_id, item.event.event_type, dict(item.event.data), now)
                if stale is not None:
                    session.add(revoke_command(job, stale, now=now, ttl_s=self.settings.command_ttl_s))
                if job.state != before:
                    changed = True
                    log.info("job %s: %s → %s (%s)", job.id, before, job.state, item.event.event_type.value)
            await session.commit()
        if changed:
            self.wake()
