"""Printer commands from the API (pause, resume, cancel, queue-start, queue-pause) and their acks.

Each is stored, then published on ``<prefix>/<pid>/cmd/<verb>`` with a ``cmd_id`` and re-sent until
the agent acks or the command expires; the route answers 202 with the ``cmd_id`` at once, and
``GET /api/commands/{cmd_id}`` shows where it stands and every ack.

``queue-start`` is how an operator says the bed is clear: after a print the agent starts its next
job only then (or by itself when its profile clears the bed), and the dispatcher offers a printer
a new job only when its queue is ``ready``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from fastapi import APIRouter, Path, status

from cloud.errors import error_responses
from cloud.fields import Identifier
from cloud.jobs import service
from cloud.jobs.commands import new_command
from cloud.jobs.lifecycle import Runtime
from cloud.jobs.schemas import CommandAccepted, CommandOut
from cloud.printers import service as printer_service
from cloud.services import DbSession, Services
from cloud.users.auth import CurrentUser, RequireOperator
from contract.commands import CommandVerb

router = APIRouter(prefix="/api")


class PrinterVerb(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    QUEUE_START = "queue-start"
    QUEUE_PAUSE = "queue-pause"


_VERBS: Final = {
    PrinterVerb.PAUSE: CommandVerb.PRINT_PAUSE,
    PrinterVerb.RESUME: CommandVerb.PRINT_RESUME,
    PrinterVerb.CANCEL: CommandVerb.PRINT_CANCEL,
    PrinterVerb.QUEUE_START: CommandVerb.QUEUE_START,
    PrinterVerb.QUEUE_PAUSE: CommandVerb.QUEUE_PAUSE,
}

Pid = Annotated[Identifier, Path(description="a printer id")]
CmdId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="a cmd_id")]


@router.post(
    "/printers/{pid}/commands/{verb}",
    tags=["printers"],
    summary="Send a printer a command: pause, resume, cancel, queue-start (bed is clear), queue-pause",
    description=(
        "Published as `print.pause`, `print.resume`, `print.cancel`, `queue.start` or `queue.pause`"
        " with a `cmd_id`, re-sent until the agent acks it or it expires. Answers 202 at once;"
        " follow it with GET /api/commands/{cmd_id}."
    ),
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CommandAccepted,
    responses=error_responses(401, 403, 404, 422),
)
async def send_printer_command(
    pid: Pid,
    verb: PrinterVerb,
    principal: RequireOperator,
    services: Services,
    runtime: Runtime,
    session: DbSession,
) -> CommandAccepted:
    printer = await printer_service.get_printer(session, principal.org_id, pid)
    command = new_command(
        org_id=principal.org_id,
        printer_id=printer.pid,
        verb=_VERBS[verb],
        now=services.now(),
        ttl_s=services.settings.jobs.command_ttl_s,
        created_by=principal.id if principal.kind == "user" else None,
    )
    session.add(command)
    await session.commit()
    runtime.wake()
    return CommandAccepted(
        cmd_id=command.cmd_id, printer_id=printer.pid, verb=command.verb, status=command.status
    )


@router.get(
    "/commands/{cmd_id}",
    tags=["printers"],
    summary="Where a command stands, with every ack the agent sent",
    response_model=CommandOut,
    responses=error_responses(401, 404, 422),
)
async def get_command(cmd_id: CmdId, principal: CurrentUser, session: DbSession) -> CommandOut:
    command = await service.get_command(session, principal.org_id, cmd_id)
    acks = await service.acks_of(session, [command])
    return service.command_out(command, acks[command.cmd_id])
