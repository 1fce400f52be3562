"""Commands on ``cmd/<verb>``: one envelope, typed ``args`` per verb.

Envelope ``{schema, ts, cmd_id, issued_at, expires_at, args}``; ``issued_at`` and ``expires_at``
are Unix ms like ``ts`` (``ts`` is when this copy was published, ``issued_at`` when the command
was created; a re-sent command keeps ``cmd_id`` and ``issued_at``). The verb is in the topic,
not in the payload.

The agent answers each command on ``ack`` (see ``contract.acks``): a repeated ``cmd_id`` gets its
stored ack and is not executed again; one past ``expires_at`` is answered ``expired``.

When a payload does not validate for its verb (or the verb is unknown), decode it as the bare
``CommandEnvelope`` — ``args`` is then ignored — to learn the ``cmd_id`` and ack ``rejected``
with code ``bad_args`` / ``unknown_command``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Self

from pydantic import Field, field_validator, model_validator

from contract.envelope import Part, Payload, UnixMs
from contract.jobs import JobManifest


class CommandVerb(StrEnum):
    """Every verb the cloud may send."""

    PRINT_PAUSE = "print.pause"
    PRINT_RESUME = "print.resume"
    PRINT_CANCEL = "print.cancel"
    QUEUE_START = "queue.start"
    QUEUE_PAUSE = "queue.pause"
    JOB_OFFER = "job.offer"
    JOB_REVOKE = "job.revoke"
    STATE_REFRESH = "state.refresh"
    GCODE = "gcode"


class CommandEnvelope(Payload):
    """What every command carries; also the model to read a command whose args are unknown."""

    verb: ClassVar[CommandVerb | None] = None

    cmd_id: str = Field(min_length=1, max_length=128)
    issued_at: UnixMs
    expires_at: UnixMs

    @model_validator(mode="after")
    def _expires_after_issue(self) -> Self:
        if self.expires_at < self.issued_at:
            raise ValueError("expires_at is before issued_at")
        return self

    def is_expired(self, now_ms: int) -> bool:
        """True once ``now_ms`` is past ``expires_at``."""
        return now_ms > self.expires_at


class NoArgs(Part):
    """The ``args`` of a verb that takes none (an empty object; unknown keys are ignored)."""


class CancelArgs(Part):
    """``print.cancel``: when ``job_id`` is given, cancel only if that job is the one printing."""

    job_id: str | None = None


class JobRevokeArgs(Part):
    """``job.revoke``: drop a job that has not started; ``revision`` None means any revision."""

    job_id: str = Field(min_length=1, max_length=128)
    revision: int | None = Field(default=None, ge=1)


class GcodeArgs(Part):
    """``gcode``: lines to send; the agent checks each against its allow-list before sending any."""

    lines: tuple[str, ...] = Field(min_length=1, max_length=64)

    @field_validator("lines")
    @classmethod
    def _single_lines(cls, lines: tuple[str, ...]) -> tuple[str, ...]:
        for line in lines:
            if not line.strip() or "\n" in line or "\r" in line or len(line) > 256:
                raise ValueError("each G-code line must be non-empty, at most 256 chars, without newlines")
        return lines


class PrintPause(CommandEnvelope):
    """Pause the current print."""

    verb = CommandVerb.PRINT_PAUSE
    args: NoArgs = Field(default_factory=NoArgs)


class PrintResume(CommandEnvelope):
    """Resume a paused print."""

    verb = CommandVerb.PRINT_RESUME
    args: NoArgs = Field(default_factory=NoArgs)


class PrintCancel(CommandEnvelope):
    """Cancel the current print."""

    verb = CommandVerb.PRINT_CANCEL
    args: CancelArgs = Field(default_factory=CancelArgs)


class QueueStart(CommandEnvelope):
    """The operator says the bed is clear: the queue may start the next job."""

    verb = CommandVerb.QUEUE_START
    args: NoArgs = Field(default_factory=NoArgs)


class QueuePause(CommandEnvelope):
    """Start no further job (the current print continues)."""

    verb = CommandVerb.QUEUE_PAUSE
    args: NoArgs = Field(default_factory=NoArgs)


class JobOffer(CommandEnvelope):
    """Offer a job: download, verify, store, queue (acks ``received → accepted → queued``)."""

    verb = CommandVerb.JOB_OFFER
    args: JobManifest


class JobRevoke(CommandEnvelope):
    """Withdraw an offered job that has not started."""

    verb = CommandVerb.JOB_REVOKE
    args: JobRevokeArgs


class StateRefresh(CommandEnvelope):
    """Publish ``info`` and ``state`` again now."""

    verb = CommandVerb.STATE_REFRESH
    args: NoArgs = Field(default_factory=NoArgs)


class Gcode(CommandEnvelope):
    """Send allow-listed G-code lines."""

    verb = CommandVerb.GCODE
    args: GcodeArgs


Command = (
    PrintPause
    | PrintResume
    | PrintCancel
    | QueueStart
    | QueuePause
    | JobOffer
    | JobRevoke
    | StateRefresh
    | Gcode
)
"""Any command with typed args."""

COMMAND_MODELS: dict[CommandVerb, type[Command]] = {
    CommandVerb.PRINT_PAUSE: PrintPause,
    CommandVerb.PRINT_RESUME: PrintResume,
    CommandVerb.PRINT_CANCEL: PrintCancel,
    CommandVerb.QUEUE_START: QueueStart,
    CommandVerb.QUEUE_PAUSE: QueuePause,
    CommandVerb.JOB_OFFER: JobOffer,
    CommandVerb.JOB_REVOKE: JobRevoke,
    CommandVerb.STATE_REFRESH: StateRefresh,
    CommandVerb.GCODE: Gcode,
}
"""The model for each verb."""
