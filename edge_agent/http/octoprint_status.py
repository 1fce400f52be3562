"""OctoPrint's status and job routes: version, server, job, printer, connection, settings, profiles.

`POST /api/job` maps OctoPrint's commands onto the agent's queue:

    start           the bed is clear: start the first queued job    409 when printing, offline, none queued
    cancel          cancel the active job                            409 when there is none (core's refusal)
    pause + action  pause / resume / toggle the active job           409 when not possible (core's refusal)
    restart         refused with 409: the core has no "reprint the paused job from its start" operation
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from contract.state import PrinterState
from edge_agent.control import AgentControl, JobState
from edge_agent.errors import Conflict, NotReady
from edge_agent.http.octoprint_models import (
    ConnectionCurrent,
    ConnectionOptions,
    ConnectionOut,
    ExtruderProfile,
    JobCommand,
    JobOut,
    PrinterProfile,
    ProfilesOut,
    ServerOut,
    SettingsOut,
    VersionOut,
)
from edge_agent.http.octoprint_state import job_out, printer_out, state_flags, state_text

_PRINTER_SECTIONS = frozenset({"temperature", "sd", "state"})


def octoprint_status_router(control: AgentControl, *, version: str) -> APIRouter:
    router = APIRouter(tags=["octoprint"])
    version_out = VersionOut(text=f"OctoPrint {VersionOut.model_fields['server'].default} (3D Pot {version})")

    @router.get("/api/version")
    async def get_version() -> VersionOut:
        return version_out

    @router.get("/api/server")
    async def get_server() -> ServerOut:
        return ServerOut()

    @router.get("/api/job")
    async def get_job() -> JobOut:
        return job_out(control.current_job(), control.printer())

    @router.post("/api/job", status_code=204)
    async def post_job(body: JobCommand) -> Response:
        printer = control.printer()
        if body.command == "start":
            await _start(control)
        elif body.command == "cancel":
            await control.cancel()
        elif body.command == "restart":
            raise Conflict("restart is not supported here: cancel the job and print the file again")
        elif body.action == "resume" or (
            body.action == "toggle" and printer.printer_state is PrinterState.PAUSED
        ):
            await control.resume()
        else:
            await control.pause()
        return Response(status_code=204)

    @router.get("/api/printer", response_model=None)
    async def get_printer(exclude: Annotated[str, Query(max_length=200)] = "") -> JSONResponse:
        printer = control.printer()
        if not state_flags(printer).operational:
            raise NotReady("Printer is not operational")
        excluded = {part.strip() for part in exclude.split(",")} & _PRINTER_SECTIONS
        body = printer_out(printer).model_dump(mode="json", exclude=excluded)
        return JSONResponse(body)

    @router.get("/api/connection")
    async def get_connection() -> ConnectionOut:
        printer = control.printer()
        port = printer.port or None
        return ConnectionOut(
            current=ConnectionCurrent(state=state_text(printer), port=port, baudrate=printer.baud or None),
            options=ConnectionOptions(
                ports=[port] if port else [],
                baudrates=[printer.baud] if printer.baud else [],
                port_preference=port,
                baudrate_preference=printer.baud or None,
            ),
        )

    @router.get("/api/settings")
    async def get_settings() -> SettingsOut:
        return SettingsOut()

    @router.get("/api/printerprofiles")
    async def get_profiles() -> ProfilesOut:
        heaters = control.printer().temps
        tools = sum(1 for name in heaters if name.startswith("tool"))
        profile = PrinterProfile(
            heated_bed="bed" in heaters or not heaters,
            heated_chamber="chamber" in heaters,
            extruder=ExtruderProfile(count=max(tools, 1)),
        )
        return ProfilesOut(profiles={profile.id: profile})

    return router


async def _start(control: AgentControl) -> None:
    """OctoPrint's `start`: the person says the bed is clear, so the first queued job may begin."""
    printer = control.printer()
    flags = state_flags(printer)
    if not flags.operational:
        raise NotReady("the printer is not operational")
    if flags.printing or flags.paused:
        raise Conflict("a job is already on the printer")
    if not any(job.state is JobState.QUEUED for job in await control.jobs()):
        raise NotReady("no job is queued: upload with select=true or print=true, or queue a file")
    await control.start_queue()
