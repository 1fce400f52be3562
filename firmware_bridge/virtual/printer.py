"""The asyncio shell around the pure firmware core: owns the pty, the wire timing, and reply delivery.

Usage::

    printer = VirtualPrinter(VirtualPrinterConfig(baud=250_000))
    async with asyncio.TaskGroup() as tg:
        tg.create_task(printer.run())
        path = await printer.started()     # the pty (or --link) path to open
        ...
        printer.stats()                    # counters, position, temps, killed

No threads: the master fd is watched with ``loop.add_reader`` and every delay (wire, USB latency, moves,
heating) is a ``loop.call_at`` at an absolute time computed by the wire model or the core.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import time
from collections import deque

from firmware_bridge.virtual.config import VirtualPrinterConfig
from firmware_bridge.virtual.marlin import MarlinCore
from firmware_bridge.virtual.pty_port import PtyPort, point_link, remove_link
from firmware_bridge.virtual.wire import InboundWire, LineCorruptor, OutboundWire

log = logging.getLogger(__name__)

READ_CHUNK = 65536
MAX_PENDING_WRITE = 1 << 20
"""Replies the host is not reading pile up to this, then the oldest are lost (a real UART just drops them)."""
_DUE_SLACK_S = 1e-6


class NotPluggedError(RuntimeError):
    """The virtual USB cable is unplugged: there is no pty path now."""


class VirtualPrinter:
    """A Marlin-like printer on a pty. ``path`` is valid once ``await started()`` returns."""

    def __init__(self, config: VirtualPrinterConfig) -> None:
        self.config = config
        self.core = MarlinCore(config, time.monotonic())
        self._wire_in = InboundWire(config.byte_time_s)
        self._wire_out = OutboundWire(config.byte_time_s, config.ack_delay_ms / 1000.0)
        self._corrupt_in = LineCorruptor(config.corrupt_ratio, random.Random(config.seed))
        self._corrupt_out = LineCorruptor(config.corrupt_ratio, random.Random(config.seed + 0x5EED))
        self._port: PtyPort | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = asyncio.Event()
        self._outbox: deque[tuple[float, bytes]] = deque()
        self._pending_write = bytearray()
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at_s = math.inf
        self._flush: asyncio.TimerHandle | None = None

    # --- public API ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Plug in and serve until cancelled; the pty and the link are gone when this returns."""
        self._loop = asyncio.get_running_loop()
        self._plug()
        self._started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self._unplug()
            for handle in (self._wake, self._flush):
                if handle is not None:
                    handle.cancel()
            self._started.clear()

    async def started(self) -> str:
        """Wait until ``run`` has opened the pty; returns the path a host should open."""
        await self._started.wait()
        return self.path

    @property
    def path(self) -> str:
        """The ``link`` path if configured, else the slave pty (``/dev/pts/N``)."""
        if self._port is None:
            raise NotPluggedError("virtual printer is unplugged")
        return self.config.link or self._port.path

    @property
    def pty_path(self) -> str | None:
        return None if self._port is None else self._port.path

    def stats(self) -> dict[str, object]:
        """Counters (see ``Stats``), ``position``, ``temps``, ``killed``, ``last_n``, ``plugged``, and more.

        ``fault_injected_s`` / ``m112_received_s``: on the ``time.monotonic()`` clock, None before.
        """
        self.core.stats.corrupted_in = self._corrupt_in.corrupted
        self.core.stats.corrupted_out = self._corrupt_out.corrupted
        return {**self.core.stats_dict(), "plugged": self._port is not None}

    def reset(self) -> None:
        """Power-cycle the board: buffers, line counter, kill, heaters, position reset; emits ``start``."""
        self._wire_in.clear()
        self._corrupt_in.clear()
        self.core.reset(self._now())
        self._pump()

    def unplug(self) -> None:
        """Pull the cable: the host's reads fail, the link disappears; the firmware itself keeps running."""
        self._unplug()

    def replug(self) -> str:
        """Plug back in on a fresh pty (new /dev/pts path, link re-pointed); returns ``path``."""
        if self._port is None:
            self._plug()
        return self.path

    def inject_runaway(self, heater: str = "tool0") -> None:
        """Thermal runaway on ``tool0``/``tool1``/``bed``: the board reports it and halts."""
        self.core.inject_runaway(heater, self._now())
        self._pump()

    def inject_heater_fault(self, heater: str = "tool0", mode: str | None = "stuck_on") -> None:
        """A heater fault the firmware does not catch: ``stuck_on`` (full heat), ``open`` (none), None clears.

        KeyError for an unknown heater, ValueError for an unknown mode.
        """
        self.core.inject_heater_fault(heater, mode, self._now())
        self._pump()

    # --- plumbing --------------------------------------------------------------------------------

    def _now(self) -> float:
        return self._loop.time() if self._loop is not None else time.monotonic()

    def _plug(self) -> None:
        assert self._loop is not None
        port = PtyPort.open()
        self._port = port
        self._loop.add_reader(port.master_fd, self._on_readable)
        if self.config.link:
            point_link(self.config.link, port.path)
        log.info("virtual printer plugged in at %s", self.path)

    def _unplug(self) -> None:
        port, self._port = self._port, None
        if port is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(port.master_fd)
            self._loop.remove_writer(port.master_fd)
        port.close()
        if self.config.link:
            remove_link(self.config.link)
        self._wire_in.clear()
        self._wire_out.clear()
        self._corrupt_in.clear()
        self._outbox.clear()
        self._pending_write.clear()
        self.core.disconnect()
        log.info("virtual printer unplugged from %s", port.path)

    def _on_readable(self) -> None:
        port = self._port
        if port is None:
            return
        try:
            data = os.read(port.master_fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("reading the pty master failed: %s", exc)
            return
        if data:
            self._wire_in.push(self._corrupt_in.feed(data), self._now())
            self._pump()

    def _pump(self) -> None:
        """Interleave byte arrivals and firmware events in time order up to now, then deliver replies."""
        now = self._now()
        core, wire = self.core, self._wire_in
        while True:
            core_s = core.next_event_s()
            wire_s = wire.next_arrival_s()
            if core_s > now and wire_s > now:
                break
            if core_s <= wire_s:
                core.advance(core_s)
            elif core_s > now and wire.next_line_arrival_s() > now:
                # Only part of a line has arrived and no firmware event is due: the firmware acts on
                # whole lines, so hand the bytes over later (once per line, not once per write).
                break
            else:
                chunk, arrived_s = wire.take(min(now, core_s))
                core.receive(chunk, min(arrived_s, now))
        self._deliver(core.take_output())
        self._schedule_wake(min(core.next_event_s(), wire.next_line_arrival_s()))

    def _schedule_wake(self, at_s: float) -> None:
        if self._wake is not None:
            if at_s == self._wake_at_s:
                return
            self._wake.cancel()
            self._wake = None
        self._wake_at_s = at_s
        if at_s < math.inf and self._loop is not None:
            self._wake = self._loop.call_at(at_s, self._on_wake)

    def _on_wake(self) -> None:
        self._wake = None
        self._wake_at_s = math.inf
        self._pump()

    def _deliver(self, lines: list[tuple[float, bytes]]) -> None:
        if self._port is None:
            return
        for emitted_s, line in lines:
            damaged = self._corrupt_out.line(line)
            self._outbox.append((self._wire_out.schedule(len(damaged), emitted_s), damaged))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush is None and self._outbox and self._loop is not None:
            self._flush = self._loop.call_at(self._outbox[0][0], self._on_flush)

    def _on_flush(self) -> None:
        self._flush = None
        due_s = self._now() + _DUE_SLACK_S
        outbox = self._outbox
        while outbox and outbox[0][0] <= due_s:
            self._pending_write += outbox.popleft()[1]
        self._write()
        self._schedule_flush()

    def _write(self) -> None:
        port = self._port
        if port is None or not self._pending_write:
            return
        try:
            written = os.write(port.master_fd, self._pending_write)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            log.warning("writing the pty master failed: %s", exc)
            self._pending_write.clear()
            return
        del self._pending_write[:written]
        assert self._loop is not None
        if self._pending_write:
            if len(self._pending_write) > MAX_PENDING_WRITE:
                del self._pending_write[: len(self._pending_write) - MAX_PENDING_WRITE]
            self._loop.add_writer(port.master_fd, self._on_writable)
        else:
            self._loop.remove_writer(port.master_fd)

    def _on_writable(self) -> None:
        self._write()
