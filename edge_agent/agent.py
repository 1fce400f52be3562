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
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import httpx
from prometheus_client import CollectorRegistry

from contract.acks import Ack, AckCode, AckStatus
from contract.commands import JobOffer
from contract.envelope import now_ms
from contract.events import EventType
from contract.info import BuildVolume, PrinterInfo
from contract.jobs import StartPolicy
from contract.state import (
    HeaterReading,
    JobProgress,
    LinkState,
    PrinterState,
    QueueSnapshot,
    QueueState,
    StateSnapshot,
)
from contract.telemetry import Telemetry
from contract.topics import Topics
from edge_agent.commands import CommandHandler
from edge_agent.control import FileView, JobState, JobView, PrinterView
from edge_agent.errors import Conflict, Invalid, NotFound, NotReady
from edge_agent.http import create_app, serve
from edge_agent.metrics import AgentMetrics, LiveFigures
from edge_agent.mqtt import MqttLink, MqttMetrics
from edge_agent.offers import DownloadError, check_offer, download
from edge_agent.queue import JobRecord, front_position, position_before, queue_order
from edge_agent.safety.idle import IdleHeaters
from edge_agent.safety.limits import check_file_targets
from edge_agent.safety.remote_gcode import check_remote_gcode
from edge_agent.safety.thermal import HeaterMonitor, ThermalRules
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
from firmware_bridge import gcode_file
from firmware_bridge.protocol.replies import Ok, Temperatures

log = logging.getLogger(__name__)

AGENT_VERSION = "0.1.0"
TELE_PRINTING_S = 1.0
TELE_IDLE_S = 10.0
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
        self.monitor = HeaterMonitor(
            tool_rules=ThermalRules.for_tool(settings.printer.max_tool_c),
            bed_rules=ThermalRules.for_bed(settings.printer.max_bed_c),
        )
        self.idle = IdleHeaters(settings.idle_heaters_off_s) if settings.idle_heaters_off_s > 0 else None
        self.http_ready = asyncio.Event()
        self.api_key = ""
        self._queue_length = 0
        self._bed_clear = False
        self._queue_paused = False
        self._outbox_depth = 0
        self._activity = False
        self._tripping = False
        self._links: list[MqttLink] = []
        self._tasks: asyncio.TaskGroup | None = None
        self._dirty = asyncio.Event()
        self._tele_wake = asyncio.Event()
        self._info_key: tuple[str, tuple[str, ...]] = ("", ())

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
        self.supervisor.reply_listeners.append(self._on_reply)
        self.commands = CommandHandler(
            pid=self.pid,
            control=self,
            processed=self.processed,
            send_ack=self._send_ack,
            offers=self._take_offer,
            metrics=self.metrics,
            topics=self.topics,
        )
        self.mqtt = self._mqtt_link(settings.mqtt_url, "cloud", events=True)
        self._links = [self.mqtt]
        if settings.ha_mqtt_url:
            self._links.append(self._mqtt_link(settings.ha_mqtt_url, "homeassistant", events=False))
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
            info=self.info,
            state=self.state,
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
            self._tasks = tasks
            tasks.create_task(self.supervisor.run(), name="supervisor")
            tasks.create_task(self.commands.run(), name="commands")
            for link in self._links:
                tasks.create_task(link.run(), name=f"mqtt-{link.name}")
            tasks.create_task(
                serve(app, self.settings.http_host, self.settings.http_port, ready=self.http_ready),
                name="http",
            )
            tasks.create_task(self._telemetry(), name="telemetry")
            tasks.create_task(self._state_pump(), name="state")
            tasks.create_task(self._housekeeping(), name="housekeeping")

    @property
    def http_port(self) -> int:
        return self.settings.http_port

    # ---- state for MQTT -----------------------------------------------------------------------

    def info(self) -> PrinterInfo:
        profile = self.settings.printer
        link = self.supervisor.link
        firmware = ""
        heaters: tuple[str, ...] = ("tool0", "bed")
        if link is not None:
            fields = link.status.firmware
            firmware = fields.get("FIRMWARE_NAME", "")
            if link.status.temperatures:
                heaters = tuple(
                    sorted(
                        h for h in link.status.temperatures if h in ("bed", "chamber") or h.startswith("tool")
                    )
                )
        capabilities = ["gcode", "octoprint_api", "resume_after_reset"]
        if profile.auto_bed_clear:
            capabilities.append("auto_bed_clear")
        if self.settings.homeassistant:
            capabilities.append("homeassistant")
        x, y, z = profile.build_volume_mm
        return PrinterInfo(
            ts=now_ms(),
            model=profile.model,
            firmware=firmware,
            agent_version=AGENT_VERSION,
            boot_id=self.boot_id,
            capabilities=tuple(capabilities),
            heaters=heaters,
            build_volume=BuildVolume(x_mm=x, y_mm=y, z_mm=z),
            nozzle_diameter_mm=profile.nozzle_mm,
            material=profile.material,
        )

    def _temps(self) -> dict[str, HeaterReading]:
        link = self.supervisor.link
        if link is None:
            return {}
        temps: dict[str, HeaterReading] = {}
        for name, reading in link.status.temperatures.items():
            power = None
            if reading.power is not None:
                power = min(1.0, max(0.0, reading.power))
            temps[name] = HeaterReading(
                actual=reading.actual_c, target=max(0.0, reading.target_c or 0.0), power=power
            )
        return temps

    def _job_progress(self, job: JobRecord | None) -> JobProgress | None:
        if job is None:
            return None
        view = job.view()
        return JobProgress(
            job_id=job.job_id,
            filename=job.filename,
            progress=round(view.progress, 4),
            print_duration=round(view.print_duration_s, 1),
            filament_used=0.0,
            current_layer=view.layer + 1 if view.layer is not None and view.layer >= 0 else None,
            total_layer=view.total_layers,
            eta_s=round(view.time_left_s, 0) if view.time_left_s is not None else None,
        )

    def _queue_state(self) -> QueueState:
        if self._queue_paused or not self._bed_clear:
            return QueueState.PAUSED
        return QueueState.READY

    def state(self) -> StateSnapshot:
        supervisor = self.supervisor
        job = supervisor.live_job() or supervisor.last_job
        return StateSnapshot(
            ts=now_ms(),
            seq=self.state_seq.next(),
            link=supervisor.link_state,
            printer_state=supervisor.printer_state,
            message=supervisor.message,
            queue=QueueSnapshot(state=self._queue_state(), length=self._queue_length),
            job=self._job_progress(job),
            temps=self._temps(),
        )

    def _state_changed(self) -> None:
        self._dirty.set()
        self._tele_wake.set()

    async def _state_pump(self) -> None:
        """Refresh the queue figures, then tell the links; bursts of changes coalesce here."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._refresh_queue_figures()
            link = self.supervisor.link
            info_key = (
                link.status.firmware.get("FIRMWARE_NAME", "") if link is not None else "",
                tuple(sorted(link.status.temperatures)) if link is not None else (),
            )
            for mqtt in self._links:
                if info_key != self._info_key:
                    mqtt.info_changed()
                mqtt.state_changed()
            self._info_key = info_key

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
            self._queue_length,
            self._outbox_depth,
            progress.fraction if progress is not None else None,
            self.settings.data_dir,
        )

    async def _refresh_queue_figures(self) -> None:
        jobs = await self.job_store.all(include_finished=False)
        self._queue_length = len(queue_order(jobs))
        self._bed_clear = await self.job_store.flag(BED_CLEAR)
        self._queue_paused = await self.job_store.flag(QUEUE_PAUSED)
        self._outbox_depth = await self.outbox.depth()

    async def _queue_changed(self) -> None:
        self._outbox_changed()
        self._state_changed()
        self.supervisor.wake()

    # ---- background loops ---------------------------------------------------------------------

    async def _telemetry(self) -> None:
        """`tele` at 1 Hz while printing, 0.1 Hz otherwise; a print starting cuts an idle wait short."""
        last_s = 0.0
        while True:
            printing = self.supervisor.printer_state is PrinterState.PRINTING
            interval_s = TELE_PRINTING_S if printing else TELE_IDLE_S
            wait_s = max(0.0, last_s + interval_s - time.monotonic())
            self._tele_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tele_wake.wait(), wait_s)
            printing = self.supervisor.printer_state is PrinterState.PRINTING
            interval_s = TELE_PRINTING_S if printing else TELE_IDLE_S
            if time.monotonic() - last_s < interval_s:
                continue
            last_s = time.monotonic()
            progress = self.supervisor.progress
            layer = progress.layer if progress is not None and progress.layer >= 0 else None
            sample = Telemetry(
                ts=now_ms(),
                seq=self.state_seq.value,
                temps=self._temps(),
                progress=round(progress.fraction, 4) if progress is not None else None,
                layer=layer,
            )
            for link in self._links:
                link.publish_tele(sample)

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

    # ---- the watchdog -------------------------------------------------------------------------

    def _on_reply(self, reply: object) -> None:
        readings = None
        if isinstance(reply, Temperatures):
            readings = reply.readings
        elif isinstance(reply, Ok) and reply.temperatures:
            readings = reply.temperatures
        if not readings or self._tripping:
            return
        now = time.monotonic()
        for heater, reading in readings.items():
            if heater not in ("bed", "chamber") and not heater.startswith("tool"):
                continue
            trip = self.monitor.observe(now, heater, reading.actual_c, reading.target_c or 0.0)
            if trip is not None:
                self._tripping = True
                self.metrics.watchdog_trips.labels(rule=trip.rule.value).inc()
                if self._tasks is not None:
                    self._tasks.create_task(self._trip(trip.cause), name="watchdog-trip")
                return

    async def _trip(self, cause: str) -> None:
        try:
            await self.supervisor.emergency_stop(f"watchdog: {cause}")
        finally:
            self._tripping = False
            self.monitor.reset()

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
            temps=self._temps(),
            queue_state=self._queue_state(),
            bed_clear=self._bed_clear,
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

    async def _take_offer(self, offer: JobOffer, ack: Callable[[Ack], Awaitable[None]]) -> None:
        manifest = offer.args
        cmd_id = offer.cmd_id

        def answer(status: AckStatus, code: str | None = None, message: str | None = None) -> Ack:
            return CommandHandler.ack(cmd_id, status, code, message)

        existing = await self.job_store.find(manifest.job_id)
        if existing is not None:
            if manifest.revision == existing.revision:
                self.metrics.offers.labels(outcome="repeat").inc()
                await ack(answer(AckStatus.QUEUED, message=f"job is {existing.state.value}"))
                return
            if manifest.revision < existing.revision:
                await ack(
                    answer(AckStatus.REJECTED, AckCode.STALE_REVISION, f"have revision {existing.revision}")
                )
                return
            if existing.state is not JobState.QUEUED:
                await ack(answer(AckStatus.REJECTED, AckCode.JOB_STARTED, f"job is {existing.state.value}"))
                return
        code = check_offer(
            manifest,
            public_key_b64=self.settings.cloud_public_key,
            now_ms=now_ms(),
            max_bytes=self.max_upload_bytes,
        )
        if code is not None:
            self.metrics.offers.labels(outcome=code).inc()
            await ack(answer(AckStatus.REJECTED, code, _OFFER_REFUSALS.get(code, code)))
            return
        dest = self._jobs_dir / f"{manifest.job_id}-r{manifest.revision}.gcode"
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0)) as client:
                await download(
                    client,
                    manifest.url,
                    dest,
                    expected_size=manifest.size,
                    expected_sha256=manifest.sha256,
                    max_bytes=self.max_upload_bytes,
                )
        except DownloadError as exc:
            self.metrics.offers.labels(outcome=exc.code).inc()
            await ack(answer(AckStatus.REJECTED, exc.code, str(exc)))
            return
        refusal = await self._unsafe_targets(dest)
        if refusal is not None:
            await asyncio.to_thread(dest.unlink, missing_ok=True)
            self.metrics.offers.labels(outcome="unsafe_targets").inc()
            await ack(answer(AckStatus.REJECTED, AckCode.GCODE_NOT_ALLOWED, refusal))
            return
        await ack(answer(AckStatus.ACCEPTED))
        summary = await asyncio.to_thread(gcode_file.scan, dest)
        all_jobs = await self.job_store.all(include_finished=False)
        ts = now_ms()
        record = JobRecord(
            job_id=manifest.job_id,
            revision=manifest.revision,
            filename=manifest.filename,
            file_path=dest,
            sha256=manifest.sha256,
            size_bytes=manifest.size,
            state=JobState.QUEUED,
            priority=0,
            position=position_before([j for j in all_jobs if j.job_id != manifest.job_id], None, 0),
            source="cloud",
            created_ms=ts,
            updated_ms=ts,
            est_print_s=manifest.est_print_s,
            filament_mm=manifest.filament_mm,
            start_policy=StartPolicy(manifest.start_policy),
            not_after_ms=manifest.not_after,
            total_layers=summary.layers or None,
        )
        if existing is not None:
            await self.job_store.delete(existing.job_id)
        await self.job_store.insert(record, event_data={"revision": manifest.revision, "cmd_id": cmd_id})
        self.metrics.offers.labels(outcome="queued").inc()
        await ack(answer(AckStatus.QUEUED))
        await self._queue_changed()


class GcodeRefused(Invalid):
    code = AckCode.GCODE_NOT_ALLOWED.value


class JobStarted(Conflict):
    code = AckCode.JOB_STARTED.value


_OFFER_REFUSALS: dict[str, str] = {
    AckCode.BAD_SIGNATURE: "the offer is unsigned or its signature does not verify with the cloud's key",
    AckCode.STORAGE_FULL: "the file is larger than this agent accepts",
}
