"""Where notifications come from in the cloud itself: the MQTT ingest's hooks, and flap summaries.

``NotifySources.on_events`` (an ingest event hook) turns ``job.completed``, ``job.failed`` and
``printer.error`` events into notifications of the printer's organisation, keyed by the agent's
event id so a replayed event notifies once. ``on_presence`` (an ingest presence hook) turns a
printer going offline into ``printer.offline`` through the ``FlapSuppressor``: the first offline of
a window is notified, the others only counted, and ``run()`` (ticking every second) sends the
summary when the window has passed. Flap windows live in this process (presence changes reach the
hooks of the one replica whose write changed the row).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from cloud.fleet.hooks import IngestedEvent, IngestedPresence
from cloud.jobs.models import Job
from cloud.notify.flapping import FlapSuppressor
from cloud.notify.kinds import Kind
from cloud.notify.service import notify
from cloud.printers.models import Printer
from cloud.services import CloudServices
from contract.events import EventType

log = logging.getLogger(__name__)

TICK_S: Final = 1.0
_EVENT_KINDS: Final = {
    EventType.JOB_COMPLETED: Kind.JOB_COMPLETED,
    EventType.JOB_FAILED: Kind.JOB_FAILED,
    EventType.PRINTER_ERROR: Kind.PRINTER_ERROR,
}


class NotifySources:
    def __init__(self, services: CloudServices) -> None:
        self.services = services
        self.flaps = FlapSuppressor(services.settings.notify.flap_window_s)

    def _now_s(self) -> float:
        return self.services.now().timestamp()

    async def _printers(self, pids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``pid → (org_id, name)`` of the enrolled printers among ``pids``."""
        async with self.services.database.session() as session:
            rows = await session.execute(
                select(Printer.pid, Printer.org_id, Printer.name).where(Printer.pid.in_(sorted(set(pids))))
            )
            return {pid: (org, name) for pid, org, name in rows}

    async def on_events(self, batch: Sequence[IngestedEvent]) -> None:
        items = [item for item in batch if item.event.event_type in _EVENT_KINDS]
        if not items:
            return
        printers = await self._printers([item.printer_id for item in items])
        job_ids = sorted({item.event.job_id for item in items if item.event.job_id})
        jobs: dict[str, tuple[str, str]] = {}
        if job_ids:
            async with self.services.database.session() as session:
                rows = await session.execute(
                    select(Job.id, Job.org_id, Job.filename).where(Job.id.in_(job_ids))
                )
                jobs = {job_id: (org, filename) for job_id, org, filename in rows}
        for item in items:
            owner = printers.get(item.printer_id)
            if owner is None:
                continue
            org_id, name = owner
            event = item.event
            payload: dict[str, Any] = {"printer_id": item.printer_id, "printer_name": name}
            if event.job_id:
                payload["job_id"] = event.job_id
                job = jobs.get(event.job_id)
                if job is not None and job[0] == org_id:
                    payload["filename"] = job[1]
            for key in ("reason", "message", "code"):
                value = event.data.get(key)
                if isinstance(value, str | int | float):
                    payload[key] = value
            await notify(
                self.services,
                org_id,
                _EVENT_KINDS[event.event_type],
                payload,
                dedup_key=f"evt:{event.event_id}",
            )

    async def on_presence(self, batch: Sequence[IngestedPresence]) -> None:
        offline = [item.printer_id for item in batch if not item.online]
        if not offline:
            return
        printers = await self._printers(offline)
        now = self._now_s()
        for pid in offline:
            owner = printers.get(pid)
            if owner is None or not self.flaps.offline(pid, now):
                continue
            org_id, name = owner
            await notify(
                self.services, org_id, Kind.PRINTER_OFFLINE, {"printer_id": pid, "printer_name": name}
            )

    async def summarise(self) -> int:
        """Send the flap summaries that are due; how many."""
        due = self.flaps.due(self._now_s())
        if not due:
            return 0
        printers = await self._printers([summary.printer_id for summary in due])
        for summary in due:
            owner = printers.get(summary.printer_id)
            if owner is None:
                continue
            org_id, name = owner
            payload = {
                "printer_id": summary.printer_id,
                "printer_name": name,
                "times": summary.times,
                "window_s": summary.window_s,
            }
            await notify(self.services, org_id, Kind.PRINTER_OFFLINE, payload)
        return len(due)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.summarise()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("notify: flap summaries failed: %s", str(exc).splitlines()[0])
