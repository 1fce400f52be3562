"""The ``ack`` topic: the agent's answer to each command, correlated by ``cmd_id``.

Status set (a command gets one or more acks, the last one is terminal):

============  ========  ===============================================================
status        terminal  meaning
============  ========  ===============================================================
``received``  no        taken in, work is under way (``job.offer``: downloading)
``accepted``  no        validated and will take effect (``job.offer``: downloaded, hash
                        and signature verified, stored)
``queued``    yes       ``job.offer`` only: the job sits in the local queue
``ok``        yes       the command took effect (every verb other than ``job.offer``)
``rejected``  yes       refused by a rule before any effect; ``code`` says which
                        (see ``AckCode``) — nothing happened
``expired``   yes       arrived after ``expires_at``; not executed
``error``     yes       tried and failed part-way; ``message`` says why
============  ========  ===============================================================

So ``job.offer`` goes ``received → accepted → queued`` or ``received → rejected{code}``, and
any other verb answers ``ok``, ``rejected{code}``, ``expired`` or ``error``.

There is deliberately no ``duplicate`` status: a repeated ``cmd_id`` gets the stored terminal
ack again, verbatim, and is not executed again. The sender learns the real outcome either way,
which a bare "duplicate" would hide.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, JsonValue

from contract.envelope import Payload


class AckStatus(StrEnum):
    """Where a command stands; see the module docstring for the table."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    QUEUED = "queued"
    OK = "ok"
    REJECTED = "rejected"
    EXPIRED = "expired"
    ERROR = "error"

    @property
    def is_terminal(self) -> bool:
        """True when no further ack follows for this command."""
        return self not in (AckStatus.RECEIVED, AckStatus.ACCEPTED)


class AckCode(StrEnum):
    """Known machine-readable reasons for ``rejected`` / ``error``.

    ``Ack.code`` is a plain string so a newer agent may send codes this list does not know yet.
    """

    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGS = "bad_args"
    NOT_READY = "not_ready"
    CONFLICT = "conflict"
    BAD_SIGNATURE = "bad_signature"
    HASH_MISMATCH = "hash_mismatch"
    SIZE_MISMATCH = "size_mismatch"
    DOWNLOAD_FAILED = "download_failed"
    STALE_REVISION = "stale_revision"
    JOB_STARTED = "job_started"
    JOB_NOT_FOUND = "job_not_found"
    GCODE_NOT_ALLOWED = "gcode_not_allowed"
    STORAGE_FULL = "storage_full"
    EXPIRED_OFFER = "expired_offer"  # the manifest's not_after has passed (status `expired` = expires_at)


class Ack(Payload):
    """One answer to one command."""

    cmd_id: str = Field(min_length=1, max_length=128)
    status: AckStatus
    code: str | None = Field(default=None, description="an AckCode value, or a newer one")
    message: str | None = None
    result: dict[str, JsonValue] | None = None
