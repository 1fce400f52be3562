"""The dispatcher: matches queued jobs to idle printers and sends (and re-sends) commands.

One round (``dispatch_once``), in one transaction:

1. claim up to ``claim_batch`` queued jobs, best first, ``FOR UPDATE SKIP LOCKED`` — jobs another
   worker claimed are skipped, never waited for;
2. lock the printers of those jobs' organisations the same way, then read their latest state and
   which of them a job holds (read after the lock, so another worker's committed offer is seen);
3. on PostgreSQL take a transaction-scoped advisory lock for the last step only, count the offers
   made farm-wide in the stagger window, and plan (``cloud.jobs.dispatch.plan``) within the budget;
4. write the offers (state ``offered`` + a pending ``job.offer`` row) and the reasons, commit.

So several workers share the work and never offer one job twice or one printer two jobs; only
the short count-and-write step is serialised, which keeps the stagger exact farm-wide. On SQLite
``FOR UPDATE`` is a no-op: run one worker there.

``send_due`` publishes every command whose ``next_retry_at`` has come (claimed with SKIP LOCKED
too), with exponential backoff, until an ack arrives (``cloud.jobs.tracking``). An offer nobody
answers after ``publish_attempts`` sends, or that is not answered within
``offer_answer_timeout_s`` of its ``received`` ack, is given up: the printer is told to drop it
(``job.revoke``) and the job goes back to the queue, that printer last, or fails after
``max_offer_attempts``. Operator commands are re-sent until they expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db import Database
from cloud.files import Files
from cloud.fleet.models import PrinterStateRow
from cloud.jobs import dispatch
from cloud.jobs.commands import envelope, new_command, revoke_command
from cloud.jobs.hooks import DispatchHooks
from cloud.jobs.models import ACTIVE_STATES, CommandStatus, Job, JobCommand, JobState
from cloud.jobs.publisher import CommandPublisher, NotConnected
from cloud.jobs.states import requeue_or_fail, set_state
from cloud.printers.models import Printer
from cloud.settings import JobsSettings
from contract.commands import CommandEnvelope, CommandVerb

log = logging.getLogger(__name__)

STAGGER_LOCK_KEY: Final = 0x3D_90_7C_10_0E
SEND_BATCH: Final = 500


def _requirements(job: Job) -> dispatch.Requirements:
    volume = None
    if job.min_x_mm is not None or job.min_y_mm is not None or job.min_z_mm is not None:
        volume = (job.min_x_mm or 0.0, job.min_y_mm or 0.0, job.min_z_mm or 0.0)
    return dispatch.Requirements(
        material=job.material, nozzle_mm=job.nozzle_mm, min_build_mm=volume, tags=frozenset(job.tags)
    )


def queued_view(job: Job) -> dispatch.QueuedJob:
    return dispatch.QueuedJob(
        job_id=job.id,
        priority=job.priority,
        created_at=job.created_at,
        requirements=_requirements(job),
        avoid_printers=frozenset(job.avoid_printers),
    )


def printer_view(printer: Printer, state: PrinterStateRow | None, held: bool) -> dispatch.PrinterView:
    build = None
    if printer.build_x_mm and printer.build_y_mm and printer.build_z_mm:
        build = (printer.build_x_mm, printer.build_y_mm, printer.build_z_mm)
    return dispatch.PrinterView(
        pid=printer.pid,
        material=printer.material,
        nozzle_mm=printer.nozzle_mm,
        build_mm=build,
        tags=frozenset(printer.tags),
        online=bool(state and state.online),
        printer_state=state.printer_state if state is not None and state.seq >= 0 else None,
        queue_state=state.queue_state if state is not None else None,
        queue_length=state.queue_length if state is not None else 0,
        held_by_job=held,
    )


class Dispatcher:
    def __init__(
        self,
        database: Database,
        settings: JobsSettings,
        files: Files,
        publisher: CommandPublisher,
        signing_key_b64: str,
        clock: Callable[[], datetime],
        *,
        manifest_ttl_s: int | None = None,
        hooks: DispatchHooks | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.files = files
        self.publisher = publisher
        self.signing_key_b64 = signing_key_b64
        self.clock = clock
        self.manifest_ttl_s = manifest_ttl_s or settings.manifest_ttl_s
        self.hooks = hooks if hooks is not None else DispatchHooks()
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Run a round now (new job, printer freed, new command) rather than at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current round and return from ``run`` (a clean shutdown, no half-done session)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Rounds until stopped or cancelled; a database that fails is logged and tried next tick."""
        while not self._stopping:
            self._wake.clear()
            try:
                await self.dispatch_once()
                await self.send_due()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("dispatch round failed, retrying: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval_s)

    # ---- matching -------------------------------------------------------------------------------

    async def dispatch_once(self) -> list[str]:
        """One matching round; the cmd_ids of the offers made (already sent when connected)."""
        async with self.database.session() as session:
            offers = await self._plan_and_offer(session)
            await session.commit()
        if offers:
            await self.send_due()
        return offers

    async def _plan_and_offer(self, session: AsyncSession) -> list[str]:
        now = self.clock()
        jobs = list(
            (
                await session.execute(
                    select(Job)
                    .where(Job.state == JobState.QUEUED.value)
                    .order_by(Job.priority.desc(), Job.created_at, Job.id)
                    .limit(self.settings.claim_batch)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        if not jobs:
            return []
        org_ids = list(dict.fromkeys(job.org_id for job in jobs))  # best job first
        printers = list(
            (
                await session.execute(
                    select(Printer)
                    .where(Printer.org_id.in_(org_ids))
                    .order_by(Printer.pid)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        locked = {p.pid for p in printers}
        everyone = await session.execute(
            select(Printer.org_id, Printer.pid).where(Printer.org_id.in_(org_ids))
        )
        locked_elsewhere = {org for org, pid in everyone if pid not in locked}
        pids = [p.pid for p in printers]
        states = {
            row.printer_id: row
            for row in (
                await session.execute(select(PrinterStateRow).where(PrinterStateRow.printer_id.in_(pids)))
            ).scalars()
        }
        held = set(
            (
                await session.execute(
                    select(Job.printer_id)
                    .where(Job.printer_id.in_(pids), Job.state.in_([s.value for s in ACTIVE_STATES]))
                    .distinct()
                )
            ).scalars()
        )
        budget = await self._stagger_budget(session, now)
        made: list[str] = []
        offered: list[Job] = []
        by_id = {job.id: job for job in jobs}
        for org_id in org_ids:
            views = [
                printer_view(p, states.get(p.pid), p.pid in held) for p in printers if p.org_id == org_id
            ]
            org_jobs = [queued_view(j) for j in jobs if j.org_id == org_id]
            note = (
                f"staggered starts: at most {self.settings.stagger_offers} offers per"
                f" {self.settings.stagger_window_s:g} s; waiting for a slot"
            )
            result = dispatch.plan(org_jobs, views, budget=budget - len(made), stagger_note=note)
            for assignment in result.assignments:
                job = by_id[assignment.job_id]
                job.printer_id = assignment.pid
                job.offered_at = now
                set_state(job, JobState.OFFERED, now)
                command = new_command(
                    org_id=org_id,
                    printer_id=assignment.pid,
                    verb=CommandVerb.JOB_OFFER,
                    now=now,
                    ttl_s=self.settings.command_ttl_s,
                    job=job,
                )
                session.add(command)
                made.append(command.cmd_id)
                offered.append(job)
                log.info("offering job %s to printer %s", job.id, assignment.pid)
            if org_id in locked_elsewhere:
                continue  # another worker holds some of these printers: its view is the fresher one
            for job_id, reason in result.reasons.items():
                job = by_id[job_id]
                if job.reason != reason:
                    job.reason = reason[:1000]
                    job.updated_at = now
        await session.flush()
        for hook in self.hooks.on_offered:  # in this transaction: see cloud.jobs.hooks
            await hook(session, offered, now)
        return made

    async def _stagger_budget(self, session: AsyncSession, now: datetime) -> int:
        if self.database.dialect == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STAGGER_LOCK_KEY})
        since = now - timedelta(seconds=self.settings.stagger_window_s)
        recent = (
            await session.execute(
                select(func.count())
                .select_from(JobCommand)
                .where(JobCommand.verb == CommandVerb.JOB_OFFER.value, JobCommand.issued_at > since)
            )
        ).scalar_one()
        return max(0, self.settings.stagger_offers - int(recent))

    # ---- sending --------------------------------------------------------------------------------

    async def send_due(self) -> int:
        """Publish every command that is due; returns how many were published."""
        now = self.clock()
        outgoing: list[tuple[str, str, CommandEnvelope]] = []
        async with self.database.session() as session:
            due = list(
                (
                    await session.execute(
                        select(JobCommand)
                        .where(JobCommand.next_retry_at.is_not(None), JobCommand.next_retry_at <= now)
                        .order_by(JobCommand.next_retry_at)
                        .limit(SEND_BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            for command in due:
                payload = await self._prepare(session, command, now)
                if payload is not None:
                    outgoing.append((command.cmd_id, command.printer_id, payload))
            await session.commit()
        sent: list[str] = []
        for cmd_id, pid, payload in outgoing:
            try:
                await self.publisher.publish(pid, payload)
            except NotConnected as exc:
                log.debug("command %s to %s not sent now: %s", cmd_id, pid, exc)
                continue
            sent.append(cmd_id)
        if sent:
            async with self.database.session() as session:
                for command in (
                    await session.execute(select(JobCommand).where(JobCommand.cmd_id.in_(sent)))
                ).scalars():
                    command.attempts += 1
                    command.last_sent_at = now
                await session.commit()
        return len(sent)

    async def _prepare(
        self, session: AsyncSession, command: JobCommand, now: datetime
    ) -> CommandEnvelope | None:
        """The payload to send now, or None when the command is done with (given up, or moot)."""
        status = CommandStatus(command.status)
        settings = self.settings
        if status.is_terminal:
            command.next_retry_at = None
            return None
        job = await session.get(Job, command.job_id, with_for_update=True) if command.job_id else None
        if command.verb != CommandVerb.JOB_OFFER.value:
            if now > command.expires_at or command.attempts >= settings.publish_attempts:
                self._give_up(command, "no answer before the command expired")
                return None
            command.next_retry_at = now + timedelta(seconds=self._delay(command.attempts + 1))
            return envelope(command, now=now)
        if job is None or job.state != JobState.OFFERED.value or job.printer_id != command.printer_id:
            self._give_up(command, "the job is no longer offered to this printer")
            return None
        unanswered = status is CommandStatus.PENDING and command.attempts >= settings.publish_attempts
        if unanswered or status is not CommandStatus.PENDING:
            why = (
                f"printer {command.printer_id} did not answer the offer"
                if unanswered
                else f"printer {command.printer_id} took the offer but did not finish it in time"
            )
            self._give_up(command, why)
            requeue_or_fail(job, command.printer_id, why, now, max_attempts=settings.max_offer_attempts)
            session.add(revoke_command(job, command.printer_id, now=now, ttl_s=settings.command_ttl_s))
            return None
        command.expires_at = now + timedelta(seconds=settings.command_ttl_s)
        command.next_retry_at = now + timedelta(seconds=self._delay(command.attempts + 1))
        return envelope(
            command,
            now=now,
            job=job,
            signer=self.files.signer,
            signing_key_b64=self.signing_key_b64,
            manifest_ttl_s=self.manifest_ttl_s,
        )

    def _delay(self, attempts: int) -> float:
        return dispatch.retry_delay_s(
            attempts, initial_s=self.settings.retry_initial_s, max_s=self.settings.retry_max_s
        )

    @staticmethod
    def _give_up(command: JobCommand, why: str) -> None:
        command.status = CommandStatus.GAVE_UP.value
        command.message = why[:1000]
        command.next_retry_at = None
