"""Commands to printers: rows in ``job_commands`` and the contract envelopes published from them.

A command is first a row (``new_command``), committed with whatever caused it, and only then
published — by the dispatcher's send loop, which retries until an ack arrives. So a crash or a
broker outage between the two delays a command but never loses it.

A ``job.offer`` is rebuilt at every send: a fresh signed download URL, a fresh ``expires_at`` and
a new Ed25519 signature over the manifest. Its ``cmd_id``, ``issued_at``, job id and revision stay
the same, so the agent's de-duplication (by ``cmd_id``, and by ``(job_id, revision)``) holds.
Other verbs keep the ``expires_at`` they were issued with: a pause is not replayed minutes later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cloud.db import new_id
from cloud.files.urls import UrlSigner
from cloud.jobs.models import CommandStatus, Job, JobCommand
from contract.commands import (
    CommandEnvelope,
    CommandVerb,
    JobOffer,
    JobRevoke,
    JobRevokeArgs,
    PrintCancel,
    PrintPause,
    PrintResume,
    QueuePause,
    QueueStart,
)
from contract.jobs import JobManifest, StartPolicy
from contract.signing import sign_manifest

_SIMPLE: dict[CommandVerb, type[CommandEnvelope]] = {
    CommandVerb.PRINT_PAUSE: PrintPause,
    CommandVerb.PRINT_RESUME: PrintResume,
    CommandVerb.PRINT_CANCEL: PrintCancel,
    CommandVerb.QUEUE_START: QueueStart,
    CommandVerb.QUEUE_PAUSE: QueuePause,
    CommandVerb.JOB_REVOKE: JobRevoke,
}


def unix_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def new_command(
    *,
    org_id: str,
    printer_id: str,
    verb: CommandVerb,
    now: datetime,
    ttl_s: float,
    job: Job | None = None,
    args: dict[str, Any] | None = None,
    created_by: str | None = None,
) -> JobCommand:
    """A pending command, due to be sent now."""
    return JobCommand(
        cmd_id=new_id(),
        org_id=org_id,
        printer_id=printer_id,
        job_id=job.id if job is not None else None,
        verb=verb.value,
        args=args or {},
        revision=job.revision if job is not None and verb is CommandVerb.JOB_OFFER else None,
        status=CommandStatus.PENDING.value,
        attempts=0,
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
        next_retry_at=now,
        created_by=created_by,
    )


def revoke_command(job: Job, printer_id: str, *, now: datetime, ttl_s: float) -> JobCommand:
    """``job.revoke`` of ``job`` (any revision) on ``printer_id``."""
    return new_command(
        org_id=job.org_id,
        printer_id=printer_id,
        verb=CommandVerb.JOB_REVOKE,
        now=now,
        ttl_s=ttl_s,
        args=JobRevokeArgs(job_id=job.id).model_dump(exclude_none=True),
    )


def manifest(job: Job, *, signer: UrlSigner, signing_key_b64: str, now: datetime, ttl_s: int) -> JobManifest:
    """The signed manifest of ``job``: a download URL valid from ``now``, ``not_after`` from the offer."""
    offered_at = job.offered_at or now
    unsigned = JobManifest(
        job_id=job.id,
        revision=job.revision,
        filename=job.filename,
        url=signer.url(job.file_key, now),
        sha256=job.sha256,
        size=job.size_bytes,
        est_print_s=job.est_print_s,
        filament_mm=job.filament_mm,
        start_policy=StartPolicy.WHEN_READY,
        not_after=unix_ms(offered_at + timedelta(seconds=ttl_s)),
    )
    return sign_manifest(unsigned, signing_key_b64)


def envelope(
    command: JobCommand,
    *,
    now: datetime,
    job: Job | None = None,
    signer: UrlSigner | None = None,
    signing_key_b64: str | None = None,
    manifest_ttl_s: int = 0,
) -> CommandEnvelope:
    """The contract payload of ``command`` as sent now (an offer needs its job, signer and key)."""
    verb = CommandVerb(command.verb)
    if verb is CommandVerb.JOB_OFFER:
        if job is None or signer is None or signing_key_b64 is None:
            raise ValueError("a job.offer needs its job, the URL signer and the signing key")
        return JobOffer(
            ts=unix_ms(now),
            cmd_id=command.cmd_id,
            issued_at=unix_ms(command.issued_at),
            expires_at=unix_ms(command.expires_at),
            args=manifest(job, signer=signer, signing_key_b64=signing_key_b64, now=now, ttl_s=manifest_ttl_s),
        )
    model = _SIMPLE.get(verb)
    if model is None:
        raise ValueError(f"the farm queue does not send {verb.value!r}")
    return model.model_validate(
        {
            "ts": unix_ms(now),
            "cmd_id": command.cmd_id,
            "issued_at": unix_ms(command.issued_at),
            "expires_at": unix_ms(command.expires_at),
            "args": command.args,
        }
    )
