"""The agent's own API under `/api/agent/`: the job queue, the job on the printer, the printer.

    GET    /api/agent/jobs[?include_finished=true]     queue order: active, then priority, position
    POST   /api/agent/jobs            {filename, priority}       201 + Location
    GET    /api/agent/jobs/{job_id}
    PATCH  /api/agent/jobs/{job_id}   {priority?, before?}       move a queued job
    DELETE /api/agent/jobs/{job_id}                               drop a queued or finished job (204)
    POST   /api/agent/jobs/{job_id}/cancel                        cancel it, queued or active (204)
    POST   /api/agent/print/{pause|resume|cancel}                 the job on the printer (204)
    POST   /api/agent/queue/{start|pause}                         start = "the bed is clear" (204)
    GET    /api/agent/printer

Refusals come from the core (`AgentRefusal`) and are shaped by the app's one handler.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response

from edge_agent.control import AgentControl
from edge_agent.http.models import EnqueueIn, JobListOut, JobOut, MoveIn, PrinterOut

JobId = Annotated[str, Path(min_length=1, max_length=128)]


def queue_router(control: AgentControl) -> APIRouter:
    router = APIRouter(prefix="/api/agent", tags=["agent"])

    @router.get("/jobs")
    async def list_jobs(include_finished: bool = False) -> JobListOut:
        jobs = await control.jobs(include_finished=include_finished)
        return JobListOut(jobs=[JobOut.of(job) for job in jobs])

    @router.post("/jobs", status_code=201)
    async def add_job(body: EnqueueIn, response: Response) -> JobOut:
        job = await control.enqueue(body.filename, priority=body.priority, source="api")
        response.headers["Location"] = f"/api/agent/jobs/{job.job_id}"
        return JobOut.of(job)

    @router.get("/jobs/{job_id}")
    async def get_job(job_id: JobId) -> JobOut:
        return JobOut.of(await control.job(job_id))

    @router.patch("/jobs/{job_id}")
    async def move_job(job_id: JobId, body: MoveIn) -> JobOut:
        return JobOut.of(await control.move_job(job_id, priority=body.priority, before=body.before))

    @router.delete("/jobs/{job_id}", status_code=204)
    async def remove_job(job_id: JobId) -> Response:
        await control.remove_job(job_id)
        return Response(status_code=204)

    @router.post("/jobs/{job_id}/cancel", status_code=204)
    async def cancel_job(job_id: JobId) -> Response:
        await control.cancel(job_id)
        return Response(status_code=204)

    @router.post("/print/{action}", status_code=204)
    async def print_action(action: Literal["pause", "resume", "cancel"]) -> Response:
        if action == "pause":
            await control.pause()
        elif action == "resume":
            await control.resume()
        else:
            await control.cancel()
        return Response(status_code=204)

    @router.post("/queue/{action}", status_code=204)
    async def queue_action(action: Literal["start", "pause"]) -> Response:
        if action == "start":
            await control.start_queue()
        else:
            await control.pause_queue()
        return Response(status_code=204)

    @router.get("/printer")
    async def get_printer() -> PrinterOut:
        return PrinterOut.of(control.printer())

    return router
