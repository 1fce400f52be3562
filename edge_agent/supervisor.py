"""The print supervisor: owns the printer link and the job on the printer.

It connects (and reconnects, with backoff) on its own and lets the link detect the firmware; it starts
the next queued job when the queue allows; pauses, resumes and cancels; checkpoints every half
second where the firmware stands in the file; and recovers:

- after an agent crash (a job still `printing` in the store): asks the board for the last line it
  accepted and streams on from the next file line (`edge_agent.recovery.line_after_counter`);
- after a USB replug mid-print: the same, within `replug_grace_s`;
- after a board reset or power loss: the job becomes `interrupted` with where it was, and `resume`
  reheats, homes X/Y, restores Z and prints that layer again (`recovery.resume_gcode`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from contract.events import EventType
from contract.state import LinkState, PrinterState
from edge_agent.control import JobState
from edge_agent.errors import NotReady
from edge_agent.queue import JobRecord, expired, pick_next
from edge_agent.recovery import ResumePoint, line_after_counter, resume_gcode, resume_point
from edge_agent.settings import PrinterProfile
from edge_agent.store.jobs import BED_CLEAR, QUEUE_PAUSED, JobStore
from firmware_bridge.errors import (
    BridgeError,
    FirmwareHalted,
    FirmwareReset,
    HandshakeFailed,
    PortDisconnected,
    PortError,
)
from firmware_bridge.flavours import flavour_named
from firmware_bridge.link import PrinterLink
from firmware_bridge.protocol.window import WindowLimits
from firmware_bridge.streamer import Outcome, Progress, Streamer, StreamResult

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 0.5
IDLE_POLL_S = 0.5
POLL_TEMPERATURES_S = 2.0


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class _Start:
    """A job to put on the printer: from which file line, after which commands."""

    job: JobRecord
    start_line: int
    preamble: tuple[str, ...] = ()
    event: EventType | None = EventType.JOB_STARTED
    event_data: dict[str, object] | None = None


class PrintSupervisor:
    def __init__(
        self,
        *,
        port: str,
        baud: int,
        profile: PrinterProfile,
        jobs: JobStore,
        on_change: Callable[[], None],
        outbox_changed: Callable[[], None],
        on_finished: Callable[[str], None] | None = None,
        replug_grace_s: float = 60.0,
        autoreport_temp_s: int = 1,
        handshake_timeout_s: float = 5.0,
    ) -> None:
        self.port = port
        self.baud = baud
        self.profile = profile
        self.jobs = jobs
        self._on_change = on_change
        self._outbox_changed = outbox_changed
        self._on_finished = on_finished
        self.replug_grace_s = replug_grace_s
        self.autoreport_temp_s = autoreport_temp_s
        self.handshake_timeout_s = handshake_timeout_s
        self.link: PrinterLink | None = None
        self.link_state = LinkState.DISCONNECTED
        self.printer_state = PrinterState.STANDBY
        self.message = ""
        self.active: JobRecord | None = None
        self.last_job: JobRecord | None = None
        self.streamer: Streamer | None = None
        self._stream_base_s = 0.0  # print_duration_s of the active job before this stream
        self._wake = asyncio.Event()
        self._last_poll_s = 0.0
        self._pending: _Start | None = None
        self._no_start_in_flight = asyncio.Event()  # clear from request/pick of a job until it streams
        self._no_start_in_flight.set()
        self._control = asyncio.Lock()
        self._halt_cause: str | None = None  # set by the watchdog before it stops the printer
        self.reply_listeners: list[Callable[[object], None]] = []

    # ---- live state ---------------------------------------------------------------------------

    @property
    def progress(self) -> Progress | None:
        return self.streamer.progress if self.streamer is not None and self.active is not None else None

    def live_job(self) -> JobRecord | None:
        """The active job with the streamer's live progress folded in."""
        job = self.active
        progress = self.progress
        if job is None or progress is None:
            return job
        return replace(
            job,
            bytes_acked=max(job.bytes_acked, progress.bytes_acked),
            layer=progress.layer if progress.layer >= 0 else job.layer,
            print_duration_s=self._stream_base_s + progress.elapsed_s,
        )

    def wake(self) -> None:
        self._wake.set()

    def _changed(self) -> None:
        self._on_change()

    def _events(self) -> None:
        self._outbox_changed()

    # ---- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, recover, print; forever (until cancelled)."""
        stored = await self.jobs.all(include_finished=False)
        self.active = next((j for j in stored if j.state.is_active), None)
        self.last_job = await self.jobs.latest()
        try:
            while True:
                link = await self._connect(query_line_counter=self.active is not None)
                try:
                    if self.active is not None:
                        await self._recover_after_restart(link)
                    await self._serve()
                except (PortError, HandshakeFailed, FirmwareReset, FirmwareHalted) as exc:
                    log.warning("%s: link lost: %s", self.port, exc)
                finally:
                    link.close()
                    if self.link is not None:
                        self.link.close()
                    self.link = None
                    if self.link_state is LinkState.CONNECTED:
                        self.link_state = LinkState.DISCONNECTED
                    self._changed()
        finally:
            if self.link is not None:
                self.link.close()

    async def _connect(self, *, query_line_counter: bool) -> PrinterLink:
        delay_s = 0.5
        outage_logged = False
        while True:
            link = self._new_link()
            try:
                await link.open(query_line_counter=query_line_counter)
            except (PortError, HandshakeFailed) as exc:
                if not outage_logged:
                    log.warning("%s: printer not reachable (%s); retrying", self.port, exc)
                    outage_logged = True
                self.link_state = LinkState.DISCONNECTED if isinstance(exc, PortError) else LinkState.ERROR
                self.message = str(exc)
                self._changed()
                await asyncio.sleep(delay_s * (0.5 + random.random()))
                delay_s = min(2 * delay_s, 5.0)
                continue
            self.link = link
            self.link_state = LinkState.CONNECTED
            if self.printer_state is PrinterState.ERROR and self.active is None:
                self.printer_state = PrinterState.STANDBY
            self.message = ""
            link.add_listener(self._on_reply)
            firmware = link.status.firmware.get("FIRMWARE_NAME", "unknown firmware")
            log.info("%s: connected to %s (%s flavour)", self.port, firmware, link.flavour.name)
            self._changed()
            return link

    def _new_link(self) -> PrinterLink:
        flavour = None if self.profile.flavour == "auto" else flavour_named(self.profile.flavour)
        limits = WindowLimits(max_lines=self.profile.bufsize, max_bytes=self.profile.rx_buffer_bytes)
        return PrinterLink(
            self.port,
            self.baud,
            flavour=flavour,
            limits=limits,
            autoreport_temp_s=self.autoreport_temp_s,
            handshake_timeout_s=self.handshake_timeout_s,
        )

    def _on_reply(self, reply: object) -> None:
        for listener in self.reply_listeners:
            listener(reply)

    # ---- the queue ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        while True:
            link = self.link
            if link is None:
                raise PortDisconnected("no link")
            if link.failure is not None:
                raise link.failure
            start = await self._next_start()
            if start is not None:
                self._no_start_in_flight.clear()
                try:
                    await self._print(link, start)
                finally:
                    self._no_start_in_flight.set()
                continue
            await self._poll_temperatures(link)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S)

    async def _poll_temperatures(self, link: PrinterLink) -> None:
        """M105 every few seconds while idle, for firmware that cannot auto-report (no M155).

        Never during a print: a line the stream did not send would shift the wire numbering that
        crash recovery maps back to file lines."""
        if link.status.capabilities.get("AUTOREPORT_TEMP"):
            return
        now = time.monotonic()
        if now - self._last_poll_s < POLL_TEMPERATURES_S:
            return
        self._last_poll_s = now
        await link.execute("M105")

    async def _next_start(self) -> _Start | None:
        if self._pending is not None:
            start, self._pending = self._pending, None
            return start
        if self.active is not None:
            return None  # paused after a restart: waits for resume
        jobs = await self.jobs.all(include_finished=False)
        for job in expired(jobs, now_ms()):
            await self.jobs.transition(
                job.job_id,
                JobState.CANCELLED,
                ts_ms=now_ms(),
                event=EventType.JOB_CANCELLED,
                event_data={"reason": "not_after passed before it could start"},
                message="expired before it could start",
                finished_ms=now_ms(),
            )
            self._events()
        decision = pick_next(
            jobs,
            bed_clear=await self.jobs.flag(BED_CLEAR),
            queue_paused=await self.jobs.flag(QUEUE_PAUSED),
            printer_ready=self.link_state is LinkState.CONNECTED,
            now_ms=now_ms(),
        )
        if decision.job is None:
            return None
        return _Start(decision.job, 0)

    def request_start(self, job: JobRecord) -> None:
        """Start `job` next, whatever the queue flags say (the operator asked for this one)."""
        if self.active is not None or self._pending is not None:
            raise NotReady("a job is already on the printer")
        if self.link_state is not LinkState.CONNECTED:
            raise NotReady(f"the printer is not connected ({self.message or self.link_state.value})")
        self._pending = _Start(job, 0)
        self._no_start_in_flight.clear()
        self.wake()

    # ---- printing one job ---------------------------------------------------------------------

    async def _print(self, link: PrinterLink, start: _Start) -> None:
        job = start.job
        if job.state is not JobState.PRINTING:
            job = await self.jobs.transition(
                job.job_id,
                JobState.PRINTING,
                ts_ms=now_ms(),
                event=start.event,
                event_data=start.event_data,
                started_ms=job.started_ms or now_ms(),
                message="",
            )
            self._events()
        elif start.event is not None:
            await self.jobs.record_event(start.event, job, start.event_data or {}, ts_ms=now_ms())
            self._events()
        self.active = job
        self.last_job = job
        self.printer_state = PrinterState.PRINTING
        self.message = ""
        self._halt_cause = None
        self._changed()
        path = job.file_path
        start_line = start.start_line
        preamble = start.preamble
        while True:
            job = await self.jobs.update(
                job.job_id, stream_start_line=start_line, acked_line_no=-1, last_acked_line=start_line - 1
            )
            self.active = job
            self._stream_base_s = job.print_duration_s
            streamer = Streamer(link)
            self.streamer = streamer
            self._no_start_in_flight.set()
            result = await self._stream(link, streamer, path, start_line, preamble)
            if result.outcome is Outcome.INTERRUPTED and isinstance(link.failure, PortError):
                resumed = await self._after_unplug(job)
                if resumed is not None:
                    link, start_line = resumed
                    preamble = ()
                    continue
            await self._finish(link, result)
            return

    async def _stream(
        self, link: PrinterLink, streamer: Streamer, path: Path, start_line: int, preamble: tuple[str, ...]
    ) -> StreamResult:
        async with asyncio.TaskGroup() as tasks:
            checkpoints = tasks.create_task(self._checkpoints(streamer))
            try:
                result = await self._run_stream(link, streamer, path, start_line, preamble)
            finally:
                checkpoints.cancel()
        await self._checkpoint(streamer)
        return result

    @staticmethod
    async def _run_stream(
        link: PrinterLink, streamer: Streamer, path: Path, start_line: int, preamble: tuple[str, ...]
    ) -> StreamResult:
        try:
            for command in preamble:
                await link.execute(command)
        except BridgeError as exc:
            progress = Progress(0, 0, 0, last_acked_file_line=start_line - 1)
            outcome = Outcome.FAILED if isinstance(exc, FirmwareHalted) else Outcome.INTERRUPTED
            return StreamResult(outcome, progress, str(exc))
        return await streamer.stream(path, start_line=start_line)

    async def _checkpoints(self, streamer: Streamer) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY_S)
            await self._checkpoint(streamer)

    async def _checkpoint(self, streamer: Streamer) -> None:
        job, progress = self.active, streamer.progress
        if job is None or progress is None or progress.last_acked_file_line < 0:
            return
        fields: dict[str, object] = {
            "bytes_acked": max(job.bytes_acked, progress.bytes_acked),
            "print_duration_s": self._stream_base_s + progress.elapsed_s,
            "total_layers": progress.layers_total,
        }
        if progress.layer >= 0:
            fields["layer"] = progress.layer
        if progress.last_acked_line_no >= 0:
            fields["last_acked_line"] = progress.last_acked_file_line
            fields["acked_line_no"] = progress.last_acked_line_no
        self.active = await self.jobs.update(job.job_id, **fields)

    async def _after_unplug(self, job: JobRecord) -> tuple[PrinterLink, int] | None:
        """The port went away mid-print: wait for it to come back; if the board kept running, go on."""
        self.link_state = LinkState.DISCONNECTED
        self.message = "printer unplugged; waiting for it to come back"
        self._changed()
        deadline = time.monotonic() + self.replug_grace_s
        while time.monotonic() < deadline:
            link = self._new_link()
            try:
                await link.open(query_line_counter=True)
            except (PortError, HandshakeFailed):
                await asyncio.sleep(0.5)
                continue
            if self.link is not None:
                self.link.close()
            self.link = link
            link.add_listener(self._on_reply)
            self.link_state = LinkState.CONNECTED
            self.message = ""
            self._changed()
            start_line = self._line_to_continue(self.active or job, link)
            if start_line is None:
                return None
            log.info(
                "%s: back after replug; continuing %s from file line %d", self.port, job.filename, start_line
            )
            return link, start_line
        return None

    async def _finish(self, link: PrinterLink, result: StreamResult) -> None:
        job = self.active
        assert job is not None
        ts = now_ms()
        duration = job.print_duration_s
        if result.outcome is Outcome.COMPLETED:
            job = await self.jobs.transition(
                job.job_id,
                JobState.COMPLETED,
                ts_ms=ts,
                event=EventType.JOB_COMPLETED,
                event_data={"print_duration_s": round(duration, 1)},
                bytes_acked=job.size_bytes,
                finished_ms=ts,
            )
            self.printer_state = PrinterState.COMPLETE
        elif result.outcome is Outcome.CANCELLED:
            job = await self.jobs.transition(
                job.job_id, JobState.CANCELLED, ts_ms=ts, event=EventType.JOB_CANCELLED, finished_ms=ts
            )
            self.printer_state = PrinterState.CANCELLED
        elif result.outcome is Outcome.FAILED:
            cause = self._halt_cause or result.cause
            job = await self.jobs.transition(
                job.job_id,
                JobState.FAILED,
                ts_ms=ts,
                event=EventType.JOB_FAILED,
                event_data={"cause": cause},
                message=cause,
                finished_ms=ts,
            )
            await self.jobs.record_event(EventType.PRINTER_ERROR, job, {"message": cause}, ts_ms=ts)
            self.printer_state = PrinterState.ERROR
            self.link_state = LinkState.ERROR
            self.message = cause
        else:
            point = resume_point(job.file_path, job.last_acked_line, unexecuted_commands=self._buffered)
            cause = f"{result.cause}; resumable from layer {point.layer + 1}"
            job = await self.jobs.transition(
                job.job_id,
                JobState.INTERRUPTED,
                ts_ms=ts,
                event=EventType.JOB_INTERRUPTED,
                event_data={"cause": result.cause, "resume": _resume_summary(point)},
                message=cause,
                resume_json=json.dumps(asdict(point)),
            )
            await self.jobs.record_event(EventType.PRINTER_ERROR, job, {"message": result.cause}, ts_ms=ts)
            self.printer_state = PrinterState.ERROR
            self.message = cause
        if result.outcome in (Outcome.COMPLETED, Outcome.CANCELLED) and not self.profile.auto_bed_clear:
            await self.jobs.set_flag(BED_CLEAR, False, ts_ms=ts)
        self.active = None
        self.last_job = job
        self.streamer = None
        if self._on_finished is not None:
            self._on_finished(result.outcome.value)
        self._events()
        self._changed()
        if result.outcome in (Outcome.FAILED, Outcome.INTERRUPTED) and link.failure is not None:
            raise link.failure

    @property
    def _buffered(self) -> int:
        """Commands an acknowledging board may not have executed yet."""
        return self.profile.bufsize + self.profile.planner_blocks

    # ---- controls -----------------------------------------------------------------------------

    async def _settle_start(self, timeout_s: float = 10.0) -> None:
        """A job asked to start a moment ago is not on the printer yet: wait for it to get there."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._no_start_in_flight.wait(), timeout_s)

    async def pause(self) -> None:
        await self._settle_start()
        async with self._control:
            job, streamer = self.active, self.streamer
            if job is None or job.state is not JobState.PRINTING or streamer is None or streamer.paused:
                raise NotReady("nothing is printing")
            self.printer_state = PrinterState.PAUSED
            self._changed()
            await streamer.pause()
            await self._checkpoint(streamer)
            self.active = await self.jobs.transition(
                job.job_id, JobState.PAUSED, ts_ms=now_ms(), event=EventType.JOB_PAUSED
            )
            self._events()
            self._changed()

    async def resume(self) -> None:
        async with self._control:
            job = self.active
            if job is not None and job.state is JobState.PAUSED:
                if self.streamer is not None and self.streamer.paused:
                    await self.streamer.resume()
                    self.active = await self.jobs.transition(
                        job.job_id, JobState.PRINTING, ts_ms=now_ms(), event=EventType.JOB_RESUMED
                    )
                    self.printer_state = PrinterState.PRINTING
                    self._events()
                    self._changed()
                    return
                # paused when the agent stopped: go on from the line after the checkpoint
                self._pending = _Start(
                    job, job.last_acked_line + 1, event=EventType.JOB_RESUMED, event_data={"after": "restart"}
                )
                self.active = None
                self.wake()
                return
            if job is not None:
                raise NotReady("the job is printing, not paused")
            latest = self.last_job
            if latest is None or latest.state is not JobState.INTERRUPTED:
                raise NotReady("no paused or interrupted job to resume")
            if self.link_state is not LinkState.CONNECTED:
                raise NotReady("the printer is not connected")
            latest = await self.jobs.get(latest.job_id)
            point = resume_point(latest.file_path, latest.last_acked_line, unexecuted_commands=self._buffered)
            self._pending = _Start(
                latest,
                point.layer_start_line,
                tuple(resume_gcode(point)),
                event=EventType.JOB_RESUMED,
                event_data={"after": "interruption", "resume": _resume_summary(point)},
            )
            self.wake()

    async def cancel(self, job_id: str | None = None) -> None:
        job = self.active
        if job is not None and (job_id is None or job_id == job.job_id):
            if self.streamer is not None and self.streamer.progress is not None:
                self.streamer.cancel()
                return
            await self.jobs.transition(
                job.job_id,
                JobState.CANCELLED,
                ts_ms=now_ms(),
                event=EventType.JOB_CANCELLED,
                finished_ms=now_ms(),
            )
            self.active = None
            self.printer_state = PrinterState.CANCELLED
        else:
            target = await self.jobs.get(job_id) if job_id else self.last_job
            if target is None or target.state not in (JobState.QUEUED, JobState.INTERRUPTED):
                raise NotReady("nothing to cancel")
            target = await self.jobs.transition(
                target.job_id,
                JobState.CANCELLED,
                ts_ms=now_ms(),
                event=EventType.JOB_CANCELLED,
                finished_ms=now_ms(),
            )
            if self.last_job is not None and self.last_job.job_id == target.job_id:
                self.last_job = target
                self.printer_state = PrinterState.CANCELLED
        self._events()
        self._changed()

    async def emergency_stop(self, cause: str) -> None:
        """M112 now (the watchdog's verdict); the stream then ends `failed` with `cause`."""
        self._halt_cause = cause
        link = self.link
        log.error("%s: emergency stop: %s", self.port, cause)
        if link is not None and link.connected:
            link.emergency("M112")
        if self.active is None:
            await self.jobs.record_event(EventType.PRINTER_ERROR, None, {"message": cause}, ts_ms=now_ms())
            self.printer_state = PrinterState.ERROR
            self.message = cause
            self._events()
            self._changed()

    # ---- recovery after an agent restart ------------------------------------------------------

    def _line_to_continue(self, job: JobRecord, link: PrinterLink) -> int | None:
        """The file line after the last one the board accepted, when the board kept running; None when
        it did not say or was reset (its counter is behind the job's checkpoint)."""
        board = link.status.line_counter_at_connect
        if board is None:
            return None
        try:
            return line_after_counter(
                job.file_path,
                stream_start_line=job.stream_start_line,
                checkpoint_file_line=job.last_acked_line,
                checkpoint_line_no=job.acked_line_no,
                board_line_no=board,
            )
        except ValueError as exc:
            log.warning("%s: cannot continue %s where it was: %s", self.port, job.filename, exc)
            return None

    async def _recover_after_restart(self, link: PrinterLink) -> None:
        job = self.active
        assert job is not None
        start_line = self._line_to_continue(job, link)
        if start_line is None:
            self.streamer = None
            await self._finish(
                link,
                StreamResult(
                    Outcome.INTERRUPTED,
                    Progress(0, 0, 0),
                    "the printer lost the job while the agent was down",
                ),
            )
            return
        if job.state is JobState.PAUSED:
            job = await self.jobs.update(job.job_id, last_acked_line=start_line - 1)
            self.active = job
            self.printer_state = PrinterState.PAUSED
            self._changed()
            return
        log.info(
            "%s: resuming %s after an agent restart from file line %d", self.port, job.filename, start_line
        )
        self.active = None
        self._pending = _Start(
            job, start_line, event=EventType.JOB_RESUMED, event_data={"after": "agent restart"}
        )


def _resume_summary(point: ResumePoint) -> dict[str, object]:
    return {
        "layer": point.layer,
        "z_mm": round(point.z_stopped_mm, 3),
        "temps": point.targets_c,
        "fan": point.fan,
    }
