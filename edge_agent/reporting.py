"""What the agent says about itself on MQTT — `info`, the retained `state` snapshot, `tele` — and when:
state on every change (bursts coalesce), every ``STATE_PRINTING_S`` while printing (progress, ETA and
temperatures move: the fleet grid shows them live from the retained snapshot) and with the links'
heartbeat, info when the firmware or the heaters change, telemetry at 1 Hz while printing and 0.1 Hz
otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from contract.envelope import now_ms
from contract.info import BuildVolume, PrinterInfo
from contract.state import HeaterReading, JobProgress, PrinterState, QueueSnapshot, QueueState, StateSnapshot
from contract.telemetry import Telemetry
from edge_agent.mqtt import MqttLink
from edge_agent.queue import JobRecord
from edge_agent.settings import AgentSettings
from edge_agent.store.counters import ReservedCounter
from edge_agent.supervisor import PrintSupervisor

AGENT_VERSION = "0.1.0"
TELE_PRINTING_S = 1.0
TELE_IDLE_S = 10.0
STATE_PRINTING_S = 3.0


@dataclass(slots=True)
class QueueFigures:
    """The store's figures the snapshot needs, refreshed by the agent (reading them is async)."""

    length: int = 0
    bed_clear: bool = False
    paused: bool = False
    outbox_depth: int = 0

    @property
    def state(self) -> QueueState:
        return QueueState.PAUSED if self.paused or not self.bed_clear else QueueState.READY


class Reporter:
    def __init__(
        self,
        *,
        settings: AgentSettings,
        supervisor: PrintSupervisor,
        state_seq: ReservedCounter,
        boot_id: str,
        queue: QueueFigures,
    ) -> None:
        self.settings = settings
        self.supervisor = supervisor
        self.state_seq = state_seq
        self.boot_id = boot_id
        self.queue = queue
        self.links: list[MqttLink] = []
        self._dirty = asyncio.Event()
        self._tele_wake = asyncio.Event()
        self._info_key: tuple[str, tuple[str, ...]] = ("", ())

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

    def temps(self) -> dict[str, HeaterReading]:
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

    def state(self) -> StateSnapshot:
        supervisor = self.supervisor
        job = supervisor.live_job() or supervisor.last_job
        return StateSnapshot(
            ts=now_ms(),
            seq=self.state_seq.next(),
            link=supervisor.link_state,
            printer_state=supervisor.printer_state,
            message=supervisor.message,
            queue=QueueSnapshot(state=self.queue.state, length=self.queue.length),
            job=self._job_progress(job),
            temps=self.temps(),
        )

    def changed(self) -> None:
        """Something in the snapshot changed: publish soon."""
        self._dirty.set()
        self._tele_wake.set()

    async def run_state(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Refresh the queue figures, then tell the links; bursts of changes coalesce here."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await refresh()
            link = self.supervisor.link
            info_key = (
                link.status.firmware.get("FIRMWARE_NAME", "") if link is not None else "",
                tuple(sorted(link.status.temperatures)) if link is not None else (),
            )
            for mqtt in self.links:
                if info_key != self._info_key:
                    mqtt.info_changed()
                mqtt.state_changed()
            self._info_key = info_key

    async def run_telemetry(self) -> None:
        """`tele` at 1 Hz while printing, 0.1 Hz otherwise; a print starting cuts an idle wait short."""
        last_s = last_state_s = 0.0
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
                temps=self.temps(),
                progress=round(progress.fraction, 4) if progress is not None else None,
                layer=layer,
            )
            for link in self.links:
                link.publish_tele(sample)
            if printing and last_s - last_state_s >= STATE_PRINTING_S:
                last_state_s = last_s
                self._dirty.set()  # progress and ETA in the retained snapshot, not only in `tele`
