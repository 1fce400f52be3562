"""Jobs and commands in the database, for the routes: always scoped to one organisation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import Conflict, NotFound
from cloud.fleet.models import CommandAck, FleetEvent
from cloud.jobs.commands import new_command, revoke_command
from cloud.jobs.models import CommandStatus, Job, JobCommand, JobState
from cloud.jobs.schemas import (
    AckOut,
    CommandOut,
    JobDetail,
    JobEventOut,
    JobOut,
    JobUpdate,
    Requirements,
)
from cloud.jobs.states import set_state
from cloud.printers.models import Printer
from cloud.printers.schemas import BuildVolume
from cloud.settings import JobsSettings
from contract.commands import CancelArgs, CommandVerb


def requirements_of(job: Job) -> Requirements:
    volume = None
    if job.min_x_mm and job.min_y_mm and job.min_z_mm:
        volume = BuildVolume(x_mm=job.min_x_mm, y_mm=job.min_y_mm, z_mm=job.min_z_mm)
    return Requirements(
        material=job.material, nozzle_mm=job.nozzle_mm, min_build_volume=volume, tags=job.tags
    )


def job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        filename=job.filename,
        state=job.state,
        reason=job.reason,
        priority=job.priority,
        requirements=requirements_of(job),
        printer_id=job.printer_id,
        revision=job.revision,
        size_bytes=job.size_bytes,
        sha256=job.sha256,
        est_print_s=job.est_print_s,
        filament_mm=job.filament_mm,
        offer_attempts=job.offer_attempts,
        created_at=job.created_at,
        updated_at=job.updated_at,
        offered_at=job.offered_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def command_out(command: JobCommand, acks: Sequence[CommandAck] = ()) -> CommandOut:
    return CommandOut(
        cmd_id=command.cmd_id,
        printer_id=command.printer_id,
        job_id=command.job_id,
        verb=command.verb,
        status=command.status,
        code=command.code,
        message=command.message,
        attempts=command.attempts,
        issued_at=command.issued_at,
        expires_at=command.expires_at,
        acked_at=command.acked_at,
        next_retry_at=command.next_retry_at,
        acks=[AckOut(status=a.status, code=a.code, message=a.message, ts=a.ts) for a in acks],
    )


async def get_job(session: AsyncSession, org_id: str, job_id: str, *, lock: bool = False) -> Job:
    query = select(Job).where(Job.id == job_id, Job.org_id == org_id)
    if lock:
        query = query.with_for_update()
    job = (await session.execute(query)).scalar_one_or_none()
    if job is None:
        raise NotFound(f"no job {job_id!r}", code="job_not_found")
    return job


async def list_jobs(
    session: AsyncSession,
    org_id: str,
    *,
    states: Sequence[str],
    printer_id: str | None,
    limit: int,
    offset: int,
) -> Sequence[Job]:
    query = select(Job).where(Job.org_id == org_id)
    if states:
        query = query.where(Job.state.in_(states))
    if printer_id is not None:
        query = query.where(Job.printer_id == printer_id)
    query = query.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
    return (await session.execute(query)).scalars().all()


async def acks_of(session: AsyncSession, commands: Sequence[JobCommand]) -> dict[str, list[CommandAck]]:
    by_cmd: dict[str, list[CommandAck]] = {c.cmd_id: [] for c in commands}
    if not by_cmd:
        return by_cmd
    printer_of = {c.cmd_id: c.printer_id for c in commands}
    rows = await session.execute(
        select(CommandAck).where(CommandAck.cmd_id.in_(list(by_cmd))).order_by(CommandAck.ts)
    )
    for ack in rows.scalars():
        if printer_of.get(ack.cmd_id) == ack.printer_id:
            by_cmd[ack.cmd_id].append(ack)
    return by_cmd


async def job_detail(session: AsyncSession, job: Job) -> JobDetail:
    own_printers = select(Printer.pid).where(Printer.org_id == job.org_id)
    events = (
        await session.execute(
            select(FleetEvent)
            .where(FleetEvent.job_id == job.id, FleetEvent.printer_id.in_(own_printers))
            .order_by(FleetEvent.ts, FleetEvent.seq)
        )
    ).scalars()
    commands = (
        (
            await session.execute(
                select(JobCommand).where(JobCommand.job_id == job.id).order_by(JobCommand.issued_at)
            )
        )
        .scalars()
        .all()
    )
    acks = await acks_of(session, commands)
    return JobDetail(
        **job_out(job).model_dump(),
        history=[
            JobEventOut(
                event_id=e.event_id,
                printer_id=e.printer_id,
                event_type=e.event_type,
                seq=e.seq,
                ts=e.ts,
                data=e.data,
            )
            for e in events
        ],
        commands=[command_out(c, acks[c.cmd_id]) for c in commands],
    )


def apply_update(job: Job, body: JobUpdate, now: datetime) -> None:
    if job.state != JobState.QUEUED.value:
        raise Conflict(f"only a queued job can be changed; this one is {job.state}", code="job_not_queued")
    if body.priority is not None:
        job.priority = body.priority
    if body.requirements is not None:
        req = body.requirements
        job.material = req.material
        job.nozzle_mm = req.nozzle_mm
        volume = req.min_build_volume
        job.min_x_mm = volume.x_mm if volume else None
        job.min_y_mm = volume.y_mm if volume else None
        job.min_z_mm = volume.z_mm if volume else None
        job.tags = sorted(set(req.tags))
        job.revision += 1
        job.avoid_printers = []
    job.reason = None
    job.updated_at = now


async def cancel_job(
    session: AsyncSession, job: Job, settings: JobsSettings, now: datetime, created_by: str | None
) -> str | None:
    """Cancel ``job``; the cmd_id sent to its printer when one holds it. ``Conflict`` when it is over."""
    state = JobState(job.state)
    if state.is_final:
        raise Conflict(f"the job is already {job.state}", code="job_finished")
    if state is JobState.QUEUED:
        set_state(job, JobState.CANCELLED, now, reason="cancelled by an operator")
        return None
    assert job.printer_id is not None
    if state in (JobState.OFFERED, JobState.ACCEPTED):
        pending = await session.execute(
            select(JobCommand).where(JobCommand.job_id == job.id, JobCommand.next_retry_at.is_not(None))
        )
        for command in pending.scalars():
            command.next_retry_at = None
            if not CommandStatus(command.status).is_terminal:
                command.status = CommandStatus.GAVE_UP.value
                command.message = "the job was cancelled"
        revoke = revoke_command(job, job.printer_id, now=now, ttl_s=settings.command_ttl_s)
        revoke.created_by = created_by
        session.add(revoke)
        set_state(job, JobState.CANCELLED, now, reason="cancelled by an operator")
        return revoke.cmd_id
    command = new_command(
        org_id=job.org_id,
        printer_id=job.printer_id,
        verb=CommandVerb.PRINT_CANCEL,
        now=now,
        ttl_s=settings.command_ttl_s,
        job=job,
        args=CancelArgs(job_id=job.id).model_dump(exclude_none=True),
        created_by=created_by,
    )
    session.add(command)
    return command.cmd_id


async def get_command(session: AsyncSession, org_id: str, cmd_id: str) -> JobCommand:
    command = (
        await session.execute(
            select(JobCommand).where(JobCommand.cmd_id == cmd_id, JobCommand.org_id == org_id)
        )
    ).scalar_one_or_none()
    if command is None:
        raise NotFound(f"no command {cmd_id!r}", code="command_not_found")
    return command
