"""The host's thermal watchdog as a component: every temperature report the printer sends goes through
`safety.thermal.HeaterMonitor`; a trip stops the printer at once (M112 ahead of the queue, through the
supervisor) and the job fails with the cause.

The reply listener runs inside the serial reader's callback, so it only queues the trip; `run()` acts
on it. One trip at a time: the monitor is reset once the stop has gone out.
"""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import Counter

from edge_agent.safety.thermal import HeaterMonitor, ThermalRules, Trip
from edge_agent.settings import PrinterProfile
from edge_agent.supervisor import PrintSupervisor
from firmware_bridge.protocol.replies import Ok, Temperatures

log = logging.getLogger(__name__)

WATCHED = ("bed", "chamber")


class Watchdog:
    def __init__(
        self, profile: PrinterProfile, supervisor: PrintSupervisor, trips: Counter, noise: Counter
    ) -> None:
        self.monitor = HeaterMonitor(
            tool_rules=ThermalRules.for_tool(profile.max_tool_c),
            bed_rules=ThermalRules.for_bed(profile.max_bed_c),
        )
        self._supervisor = supervisor
        self._trips = trips
        self._noise = noise
        self._pending: asyncio.Queue[Trip] = asyncio.Queue(maxsize=1)
        supervisor.reply_listeners.append(self.on_reply)

    def on_reply(self, reply: object) -> None:
        """Every parsed reply from the printer (called by the link's reader: must not block)."""
        readings = None
        if isinstance(reply, Temperatures):
            readings = reply.readings
        elif isinstance(reply, Ok) and reply.temperatures:
            readings = reply.temperatures
        if not readings or self._pending.full():
            return
        now_s = time.monotonic()
        rejected = self.monitor.rejected
        try:
            for heater, reading in readings.items():
                if heater not in WATCHED and not heater.startswith("tool"):
                    continue
                trip = self.monitor.observe(
                    now_s, heater, reading.actual_c, reading.target_c or 0.0, reading.power
                )
                if trip is not None:
                    self._trips.labels(rule=trip.rule.value).inc()
                    self._pending.put_nowait(trip)
                    return
        finally:
            if self.monitor.rejected > rejected:
                self._noise.inc(self.monitor.rejected - rejected)
                log.warning("dropped a temperature report as line noise: %s", self.monitor.last_rejected)

    async def run(self) -> None:
        """Act on trips until cancelled."""
        while True:
            trip = await self._pending.get()
            try:
                await self._supervisor.emergency_stop(f"watchdog: {trip.cause}")
            finally:
                self.monitor.reset()
