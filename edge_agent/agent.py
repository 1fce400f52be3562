"""The agent: builds every component from the settings, wires them, and runs them in one TaskGroup.

    async with Agent(settings) as agent:
        await agent.run()

`Agent` is also the core behind the front doors (`AgentControl`): the local HTTP API, MQTT commands
and Home Assistant all call these methods, so a pause from any of them is the same pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from pathlib import Path
from types import TracebackType

from prometheus_client import CollectorRegistry

from contract.acks import Ack, AckCode
from contract.envelope import now_ms
from contract.events import EventType
from contract.state import (
    LinkState,
    PrinterState,
)
from contract.topics import Topics
from edge_agent.commands import CommandHandler
from edge_agent.control import FileView, JobState, JobView, PrinterView
from edge_agent.errors import Conflict, Invalid, NotFound, NotReady
from edge_agent.http import create_app, serve
from edge_agent.metrics import AgentMetrics, LiveFigures
from edge_agent.mqtt import MqttLink, MqttMetrics
from edge_agent.offers.intake import OfferIntake
from edge_agent.queue import JobRecord, front_position, position_before, queue_order
from edge_agent.reporting import AGENT_VERSION, QueueFigures, Reporter
from edge_agent.safety.idle import IdleHeaters
from edge_agent.safety.limits import check_file_targets
from edge_agent.safety.remote_gcode import check_remote_gcode
from edge_agent.settings import AgentSettings
from edge_agent.store import (
    BED_CLEAR,
    QUEUE_PAUSED,
    Database,
    FileStore,
    JobStore,
    Outbox,
    ProcessedCommands,
    open_database,
)
from edge_agent.store.counters import ReservedCounter
from edge_agent.supervisor import PrintSupervisor
from edge_agent.watchdog import Watchdog
from firmware_bridge import gcode_file

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 1.0


class Agent:
    """One printer's agent. Open with `async with`, then `await run()` until cancelled."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.pid = settings.printer_id
        self.boot_id = uuid.uuid4().hex
        self.topics = Topics(prefix=settings.mqtt_prefix)
        data_dir = settings.data_dir
        self._files_dir = data_dir / "files"
        self._jobs_dir = data_dir / "jobs"
        self._db: Database | None = None
        self.metrics = AgentMetrics.create(self.pid, self._figures)
        self.idle = IdleHeaters(settings.idle_heaters_off_s) if settings.idle_heaters_off_s > 0 else None
        self.http_ready = asyncio.Event()
        self.api_key = ""
        self.queue = QueueFigures()
        self._activity = False
        self._links: list[MqttLink] = []

    # ---- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Agent:
        settings = self.settings
        for folder in (self._files_dir, self._jobs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._db = db = await open_database(settings.data_dir / "agent.sqlite")
        self.outbox = Outbox(db)
        self.job_store = JobStore(db, self.outbox)
        self.files_store = FileStore(db, self._files_dir)
        self.processed = ProcessedCommands(db)
        self.state_seq = await ReservedCounter.open(db, "state_seq")
        self.api_key = self._load_api_key()
        self.supervisor = PrintSupervisor(
            port=settings.serial_port,
            baud=settings.baud,
            profile=settings.printer,
            jobs=self.job_store,
            on_change=self._state_changed,
            outbox_changed=self._outbox_changed,
            replug_grace_s=settings.replug_grace_s,
            on_finished=lambda outcome: self.metrics.jobs_finished.labels(outcome=outcome).inc(),
        )
        self.reporter = Reporter(
            settings=settings,
            supervisor=self.supervisor,
            state_seq=self.state_seq,
            boot_id=self.boot_id,
            queue=self.queue,
        )
        self.watchdog = Watchdog(
            settings.printer, self.supervisor, self.metrics.watchdog_trips, self.metrics.temperature_noise
        )
        self.commands = CommandHandler(
            pid=self.pid,
            control=self,
            processed=self.processed,
            send_ack=self._send_ack,
            offers=OfferIntake(
                jobs=self.job_store,
                jobs_dir=self._jobs_dir,
                public_key=settings.cloud_public_key,
                max_bytes=self.max_upload_bytes,
                profile=settings.printer,
                outcomes=self.metrics.offers,
                on_queued=self._queue_changed,
            ),
            metrics=self.metrics,
            topics=self.topics,
        )
        self.mqtt = self._mqtt_link(settings.mqtt_url, "cloud", events=True)
        self._links = [self.mqtt]
        if settings.ha_mqtt_url:
            self._links.append(self._mqtt_link(settings.ha_mqtt_url, "homeassistant", events=False))
        self.reporter.links = self._links
        await self._refresh_queue_figures()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    def _mqtt_link(self, url: str, name: str, *, events: bool) -> MqttLink:
        settings = self.settings
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        return MqttLink(
            url=url,
            pid=self.pid,
            outbox=self.outbox,
            on_command=self.commands.handle,
            info=self.reporter.info,
            state=self.reporter.state,
            topics=self.topics,
            username=(settings.mqtt_username or self.pid) if password else settings.mqtt_username,
            password=password,
            homeassistant=settings.homeassistant,
            metrics=MqttMetrics.create(self.metrics.registry, name),
            name=name,
            events=events,
            ha_commands_only=not events,
        )

    def _load_api_key(self) -> str:
        if self.settings.api_key is not None:
            return self.settings.api_key.get_secret_value()
        path = self.settings.data_dir / "api_key"
        if path.is_file():
            return path.read_text().strip()
        key = secrets.token_urlsafe(24)
        path.write_text(key + "\n")
        path.chmod(0o600)
        log.warning("generated an API key for slicer uploads (X-Api-Key), stored in %s", path)
        return key

    async def run(self) -> None:
        """Every component, until cancelled."""
        app = create_app(self, api_key=self.api_key, version=AGENT_VERSION)
        log.info(
            "agent %s: printer on %s, MQTT %s, HTTP on %s:%d",
            self.pid,
            self.settings.serial_port,
            self.settings.mqtt_url,
            self.settings.http_host,
            self.settings.http_port,
        )
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.supervisor.run(), name="supervisor")
            tasks.create_task(self.commands.run(), name="commands")
            tasks.create_task(self.watchdog.run(), name="watchdog")
            for link in self._links:
                tasks.create_task(link.run(), name=f"mqtt-{link.name}")
            tasks.create_task(
                serve(app, self.settings.http_host, self.settings.http_port, ready=self.http_ready),
                name="http",
            )
            tasks.create_task(self.reporter.run_telemetry(), name="telemetry")
            tasks.create_task(self.reporter.run_state(self._refresh_queue_figures), name="state")
            tasks.create_task(self._housekeeping(), name="housekeeping")

    @property
    def http_port(self) -> int:
        return self.settings.http_port

    # ---- state for MQTT -----------------------------------------------------------------------

    def _state_changed(self) -> None:
        self.reporter.changed()

    def _outbox_changed(self) -> None:
        for link in self._links:
            link.outbox_changed()
        self._activity = True

    async def _send_ack(self, ack: Ack) -> None:
        await self.mqtt.send_ack(ack)

    def _figures(self) -> LiveFigures:
        supervisor = getattr(self, "supervisor", None)
        if supervisor is None:
            return LiveFigures(None, LinkState.DISCONNECTED, PrinterState.STANDBY, 0, 0, None)
        progress = supervisor.progress
        return LiveFigures(
            supervisor.link,
            supervisor.link_state,
            supervisor.printer_state,
            self.queue.length,
            self.queue.outbox_depth,
            progress.fraction if progress is not None else None,
            self.settings.data_dir,
        )

    async def _refresh_queue_figures(self) -> None:
        jobs = await self.job_store.all(include_finished=False)
        self.queue.length = len(queue_order(jobs))
        self.queue.bed_clear = await self.job_store.flag(BED_CLEAR)
        self.queue.paused = await self.job_store.flag(QUEUE_PAUSED)
        self.queue.outbox_depth = await self.outbox.depth()

    async def _queue_changed(self) -> None:
        self._outbox_changed()
        self._state_changed()
        self.supervisor.wake()

    # ---- background loops ---------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        last_prune = 0.0
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            await self.state_seq.maintain()
            await self._refresh_queue_figures()
            now = time.monotonic()
            if now - last_prune > 3600:
                await self.processed.prune(now_ms())
                last_prune = now
            await self._idle_heaters(now)

    async def _idle_heaters(self, now_s: float) -> None:
        link = self.supervisor.link
        if self.idle is None or link is None or not link.connected:
            return
        any_on = any((r.target_c or 0) > 0 for r in link.status.temperatures.values())
        printing = self.supervisor.active is not None
        activity, self._activity = self._activity, False
        if self.idle.observe(now_s, printing=printing, any_target_on=any_on, activity=activity):
            log.info(
                "heaters idle for %.0f s with no print: switching them off", self.settings.idle_heaters_off_s
            )
            with contextlib.suppress(Exception):
                await link.execute("M104 S0")
                await link.execute("M140 S0")

    # ---- AgentControl -------------------------------------------------------------------------

    @property
    def files_dir(self) -> Path:
        return self._files_dir

    @property
    def max_upload_bytes(self) -> int:
        return int(self.settings.max_upload_mb * 1024 * 1024)

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def printer(self) -> PrinterView:
        supervisor = self.supervisor
        link = supervisor.link
        firmware = link.status.firmware.get("FIRMWARE_NAME", "") if link is not None else ""
        return PrinterView(
            link=supervisor.link_state,
            printer_state=supervisor.printer_state,
            port=self.settings.serial_port,
            baud=self.settings.baud,
            firmware=firmware,
            message=supervisor.message,
            temps=self.reporter.temps(),
            queue_state=self.queue.state,
            bed_clear=self.queue.bed_clear,
        )

    def current_job(self) -> JobView | None:
        job = self.supervisor.live_job() or self.supervisor.last_job
        return job.view() if job is not None else None

    async def jobs_list(self, include_finished: bool) -> list[JobRecord]:
        records = await self.job_store.all(include_finished=include_finished)
        live = self.supervisor.live_job()
        if live is not None:
            records = [live if r.job_id == live.job_id else r for r in records]
        active = [r for r in records if r.state.is_active]
        waiting = queue_order(records)
        rest = sorted(
            (r for r in records if not r.state.is_active and r.state is not JobState.QUEUED),
            key=lambda r: -(r.updated_ms),
        )
        return active + waiting + rest

    async def jobs(self, *, include_finished: bool = False) -> list[JobView]:
        return [r.view() for r in await self.jobs_list(include_finished)]

    async def job(self, job_id: str) -> JobView:
        live = self.supervisor.live_job()
        if live is not None and live.job_id == job_id:
            return live.view()
        return (await self.job_store.get(job_id)).view()

    async def add_file(self, name: str, temp_path: Path, *, sha256: str, size_bytes: int) -> FileView:
        target = self.files_store.path_of(name)
        refusal = await self._unsafe_targets(temp_path)
        if refusal is not None:
            await asyncio.to_thread(temp_path.unlink, missing_ok=True)
            raise Invalid(f"{name} sets a heater beyond this printer's limits: {refusal}")
        if await self.job_store.using_file(target):
            await asyncio.to_thread(temp_path.unlink, missing_ok=True)
            raise Conflict(f"{name} is queued or printing; upload it under another name")
        await asyncio.to_thread(temp_path.replace, target)
        return await self.files_store.put(name, size_bytes=size_bytes, sha256=sha256, uploaded_ms=now_ms())

    async def _unsafe_targets(self, path: Path) -> str | None:
        profile = self.settings.printer
        return await asyncio.to_thread(
            check_file_targets, path, max_tool_c=profile.max_tool_c, max_bed_c=profile.max_bed_c
        )

    async def files(self) -> list[FileView]:
        return await self.files_store.all()

    async def file(self, name: str) -> FileView:
        return await self.files_store.get(name)

    async def delete_file(self, name: str) -> None:
        view = await self.files_store.get(name)
        if await self.job_store.using_file(view.path):
            raise Conflict(f"{name} is queued or printing")
        await self.files_store.delete(name)
        await asyncio.to_thread(view.path.unlink, missing_ok=True)

    async def _new_job(
        self, view: FileView, *, priority: int, source: str, position: float | None
    ) -> JobRecord:
        summary = await asyncio.to_thread(gcode_file.scan, view.path)
        all_jobs = await self.job_store.all(include_finished=False)
        ts = now_ms()
        record = JobRecord(
            job_id=uuid.uuid4().hex,
            revision=1,
            filename=view.name,
            file_path=view.path,
            sha256=view.sha256,
            size_bytes=view.size_bytes,
            state=JobState.QUEUED,
            priority=priority,
            position=position if position is not None else position_before(all_jobs, None, priority),
            source=source,
            created_ms=ts,
            updated_ms=ts,
            total_layers=summary.layers or None,
        )
        await self.job_store.insert(record)
        return record

    async def enqueue(self, filename: str, *, priority: int = 0, source: str = "api") -> JobView:
        view = await self.files_store.get(filename)
        record = await self._new_job(view, priority=priority, source=source, position=None)
        await self._queue_changed()
        return record.view()

    async def print_now(self, filename: str, *, source: str = "upload") -> JobView:
        supervisor = self.supervisor
        if supervisor.link_state is not LinkState.CONNECTED:
            raise NotReady(
                f"the printer is not connected ({supervisor.message or supervisor.link_state.value})"
            )
        if supervisor.active is not None:
            raise NotReady("a job is already on the printer")
        view = await self.files_store.get(filename)
        all_jobs = await self.job_store.all(include_finished=False)
        top = max((j.priority for j in all_jobs if j.state is JobState.QUEUED), default=0)
        record = await self._new_job(view, priority=top, source=source, position=front_position(all_jobs))
        supervisor.request_start(record)
        await self._queue_changed()
        return record.view()

    async def pause(self) -> None:
        await self.supervisor.pause()

    async def resume(self) -> None:
        await self.supervisor.resume()

    async def cancel(self, job_id: str | None = None) -> None:
        await self.supervisor.cancel(job_id)
        await self._queue_changed()

    async def start_queue(self) -> None:
        await self.job_store.set_flag(BED_CLEAR, True, ts_ms=now_ms(), event_data={"bed_clear": True})
        await self.job_store.set_flag(QUEUE_PAUSED, False, ts_ms=now_ms())
        await self._queue_changed()

    async def pause_queue(self) -> None:
        await self.job_store.set_flag(QUEUE_PAUSED, True, ts_ms=now_ms(), event_data={"queue": "paused"})
        await self._queue_changed()

    async def move_job(
        self, job_id: str, *, priority: int | None = None, before: str | None = None
    ) -> JobView:
        job = await self.job_store.get(job_id)
        if job.state is not JobState.QUEUED:
            raise Conflict(f"job {job_id} is {job.state.value}; only queued jobs move")
        new_priority = job.priority if priority is None else priority
        others = [j for j in await self.job_store.all(include_finished=False) if j.job_id != job_id]
        position = position_before(others, before, new_priority)
        job = await self.job_store.update(
            job_id, priority=new_priority, position=position, updated_ms=now_ms()
        )
        await self.job_store.record_event(
            EventType.QUEUE_CHANGED, job, {"priority": new_priority, "before": before}, ts_ms=now_ms()
        )
        await self._queue_changed()
        return job.view()

    async def remove_job(self, job_id: str) -> None:
        job = await self.job_store.get(job_id)
        if job.state.is_active:
            raise Conflict(f"job {job_id} is {job.state.value}; cancel it first")
        if job.state in (JobState.QUEUED, JobState.INTERRUPTED):
            await self.supervisor.cancel(job_id)
        await self.job_store.delete(job_id)
        if self.supervisor.last_job is not None and self.supervisor.last_job.job_id == job_id:
            self.supervisor.last_job = None
        await self._queue_changed()

    # ---- RemoteControl ------------------------------------------------------------------------

    async def run_gcode(self, lines: tuple[str, ...]) -> None:
        profile = self.settings.printer
        refusals = check_remote_gcode(
            lines,
            allowed=frozenset(w.upper() for w in self.settings.allow_remote_gcode),
            max_tool_c=profile.max_tool_c,
            max_bed_c=profile.max_bed_c,
        )
        if refusals:
            raise GcodeRefused("; ".join(refusals))
        if self.supervisor.printer_state is PrinterState.PRINTING:
            raise NotReady("the printer is printing; pause first")
        link = self.supervisor.link
        if link is None or not link.connected:
            raise NotReady("the printer is not connected")
        for line in lines:
            await link.execute(line)
        self._activity = True

    async def revoke(self, job_id: str, revision: int | None) -> None:
        job = await self.job_store.find(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        if revision is not None and job.revision != revision:
            raise Conflict(f"job {job_id} is at revision {job.revision}, not {revision}")
        if job.state is not JobState.QUEUED:
            raise JobStarted(f"job {job_id} is {job.state.value}; cancel it instead")
        await self.supervisor.cancel(job_id)
        await self._queue_changed()

    def refresh(self) -> None:
        for link in self._links:
            link.info_changed()
            link.state_changed()

    # ---- job offers from the cloud ------------------------------------------------------------


class GcodeRefused(Invalid):
    code = AckCode.GCODE_NOT_ALLOWED.value


class JobStarted(Conflict):
    code = AckCode.JOB_STARTED.value
