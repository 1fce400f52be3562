"""The virtual board's firmware: a pure, clock-driven model of Marlin's serial path and G-code loop.

No I/O and no real clock: the shell hands in bytes as they arrive (``receive``) and moves time forward
(``advance``) to ``next_event_s()``; reply lines pile up with their emission time for ``take_output()``.

Data path, as in Marlin::

    wire bytes ─► emergency parser (M112/M108/M410 act at once, even if the bytes are then dropped)
              └─► RX ring (``rx_buffer_bytes``; full → bytes dropped)
                    ─► framing checks (errors answered at once, RX flushed, ``Resend:`` + ``ok``)
                    ─► command ring (``bufsize`` slots, the executing command keeps its slot)
                    ─► execute → ``ok`` (or a waiter: planner full, M109, G4 … then ``ok``)
"""

from __future__ import annotations

import logging
import math
import re
from collections import deque

from firmware_bridge.virtual import gcodes
from firmware_bridge.virtual.config import VirtualPrinterConfig
from firmware_bridge.virtual.framing import Accepted, LineError, check_line, strip_line
from firmware_bridge.virtual.motion import Motion, Planner
from firmware_bridge.virtual.stats import Stats
from firmware_bridge.virtual.thermal import HeaterFault, ThermalModel
from firmware_bridge.virtual.waits import Waiter

log = logging.getLogger(__name__)

FIRMWARE_VERSION = "2.1.2.1"
KILLED_MESSAGE = "Error:Printer halted. kill() called!"
MAX_LINE_BYTES = 96
"""MAX_CMD_SIZE: a longer line is cut (its tail is lost), as Marlin does."""
WAIT_REPORT_INTERVAL_S = 1.0
DEFAULT_BUSY_INTERVAL_S = 2.0
_EMERGENCY_CODES = (b"M112", b"M108", b"M410")
_M112 = re.compile(r"\s*[Mm]\s*0*112(?![0-9])")
"""M112 as the G-code dispatcher reads it (``m112``, ``M0112``), for the queued path."""
_ERROR_COUNTERS = {
    LineError.CHECKSUM: "checksum_errors",
    LineError.LINE_NUMBER: "line_number_errors",
    LineError.NO_CHECKSUM: "no_checksum_errors",
    LineError.NO_LINE_NUMBER: "no_line_number_errors",
}


def emergency_code(line: bytes) -> bytes | None:
    """``M112``/``M108``/``M410`` if the line is one (optionally ``N<n>`` first, ``*<cs>`` after)."""
    text = line.strip()
    if text[:1] == b"N":
        index = 1
        while index < len(text) and text[index : index + 1] in b"0123456789- ":
            index += 1
        text = text[index:]
    code = text[:4]
    if code in _EMERGENCY_CODES and text[4:5] in (b"", b" ", b"*", b";", b"\t"):
        return code
    return None


class MarlinCore:
    """One board's firmware state. Times are seconds on the caller's monotonic clock."""

    def __init__(self, config: VirtualPrinterConfig, now_s: float = 0.0) -> None:
        self.config = config
        self.stats = Stats()
        self.output: list[tuple[float, bytes]] = []
        self.executed: list[tuple[int, str]] = []
        self.fault_injected_s: float | None = None
        """When ``inject_heater_fault`` last ran (this core's clock); kept across resets."""
        self.m112_received_s: float | None = None
        """When the firmware last acted on an M112 (on arrival with the emergency parser, else when run)."""
        self._boot(now_s)

    # --- lifecycle -------------------------------------------------------------------------------

    def _boot(self, now_s: float) -> None:
        cfg = self.config
        self.now_s = now_s
        self.thermal = ThermalModel.build(cfg.tools, cfg.thermal_tau_s, cfg.ambient_c, now_s)
        self.motion = Motion()
        self.planner = Planner(cfg.planner_blocks)
        self.rx = bytearray()
        self._assembly = bytearray()
        self._ep_tail = b""
        self.commands: deque[tuple[int | None, str]] = deque()
        self.current: Waiter | None = None
        self._current_line: int | None = None
        self.killed = False
        self.last_n = 0
        self._max_executed = 0
        self.wait_broken = False
        self.active_tool = 0
        self.fan_pwm = 0
        self.busy_interval_s = DEFAULT_BUSY_INTERVAL_S
        self.temp_report_s = 0.0
        self.pos_report_s = 0.0
        self._next_temp_report_s = math.inf
        self._next_pos_report_s = math.inf
        self._next_busy_s = math.inf
        self._next_wait_report_s = math.inf

    def reset(self, now_s: float) -> None:
        """The board resets: every buffer and setting gone, then the boot banner (starting with ``start``)."""
        self.stats.resets += 1
        self._boot(max(now_s, self.now_s))
        for line in (
            "start",
            f"echo:Marlin {FIRMWARE_VERSION}",
            "echo: Last Updated: 2023-07-13 | Author: (3D Pot virtual)",
            "echo:Compiled: Jul 13 2023",
            "echo: Free Memory: 4325  PlannerBufferBytes: 1408",
            "echo:Hardcoded Default Settings Loaded",
        ):
            self.emit(line)

    def disconnect(self) -> None:
        """The host went away: half-received bytes are meaningless now; the firmware carries on."""
        self.rx.clear()
        self._assembly.clear()
        self._ep_tail = b""

    def kill(self, *errors: str) -> None:
        """Marlin's ``kill()``: report, heaters off (supply cut), stop everything until a reset."""
        if self.killed:
            return
        for error in (*errors, KILLED_MESSAGE):
            self.emit(error)
        self.killed = True
        self.thermal.cut_supply()
        self.planner.clear()
        self.commands.clear()
        self.rx.clear()
        self._assembly.clear()
        self.current = None
        self._next_temp_report_s = self._next_pos_report_s = math.inf
        log.info("virtual printer killed")

    def inject_runaway(self, heater_name: str, now_s: float) -> None:
        self.advance(now_s)
        heater = self.thermal.heater(heater_name)
        heater.runaway = True
        self.kill(f"Error:Thermal Runaway, system stopped! Heater_ID: {heater.heater_id}")

    def inject_heater_fault(self, heater_name: str, mode: HeaterFault | str | None, now_s: float) -> None:
        """A hardware fault on ``tool0``/``tool1``/``bed`` (None clears it); the firmware does not notice.

        ``stuck_on``: full heat whatever the target; ``open``: no heat. Marlin would catch either sooner
        or later with its own thermal protection; this board has none, so only the host can. A reset
        (the board power-cycled or replaced) clears the fault. KeyError for an unknown heater, ValueError
        for an unknown mode.
        """
        fault = None if mode is None else HeaterFault(mode)
        self.advance(now_s)
        self.thermal.heater(heater_name).fault = fault
        self.fault_injected_s = self.now_s
        log.info("virtual printer: heater fault %s on %s", fault, heater_name)

    # --- output ----------------------------------------------------------------------------------

    def emit(self, line: str) -> None:
        self.output.append((self.now_s, line.encode("latin-1") + b"\n"))

    def take_output(self) -> list[tuple[float, bytes]]:
        out, self.output = self.output, []
        self.stats.lines_sent += len(out)
        return out

    def ok(self, line_number: int | None, extra: str = "") -> None:
        if self.config.advanced_ok:
            n_field = f" N{line_number}" if line_number is not None else ""
            used = len(self.commands) + (1 if self.current is not None else 0) + 1
            free_slots = max(0, self.config.bufsize - used)
            self.emit(f"ok{n_field} P{self.planner.free(self.now_s)} B{free_slots}{extra}")
        else:
            self.emit(f"ok{extra}")

    # --- input -----------------------------------------------------------------------------------

    def receive(self, data: bytes, now_s: float) -> None:
        """Bytes that have crossed the wire by ``now_s``."""
        self.advance(now_s)
        if self.config.emergency_parser:
            self._emergency_scan(data)
        if self.killed:
            return
        capacity = self.config.rx_buffer_bytes
        pos, size = 0, len(data)
        while pos < size:
            room = capacity - len(self.rx)
            if room <= 0:
                self.stats.rx_overflow_bytes += size - pos
                break
            self.rx += data[pos : pos + room]
            pos += room
            self._main_loop()
            if self.killed:
                return

    def _emergency_scan(self, data: bytes) -> None:
        combined = self._ep_tail + data
        cut = max(combined.rfind(b"\n"), combined.rfind(b"\r"))
        if cut < 0:
            self._ep_tail = combined[-MAX_LINE_BYTES:]
            return
        self._ep_tail = combined[cut + 1 :][-MAX_LINE_BYTES:]
        complete = combined[:cut]
        if b"M112" not in complete and b"M108" not in complete and b"M410" not in complete:
            return
        for line in complete.replace(b"\r", b"\n").split(b"\n"):
            code = emergency_code(line)
            if code is None or self.killed:
                continue
            self.stats.emergency_commands += 1
            log.debug("emergency parser: %s", code)
            if code == b"M112":
                self.m112_received_s = self.now_s
                self.kill()
            elif code == b"M108":
                self.wait_broken = True
                self._main_loop()
            else:
                self.planner.clear()

    def _free_slots(self) -> int:
        return self.config.bufsize - len(self.commands) - (1 if self.current is not None else 0)

    def _drain_rx(self) -> None:
        """Move complete lines from the RX ring into free command slots (Marlin's get_serial_commands)."""
        rx = self.rx
        while rx and self._free_slots() > 0:
            newline = rx.find(b"\n")
            cr = rx.find(b"\r")
            end = cr if newline < 0 or 0 <= cr < newline else newline
            if end < 0:
                room = MAX_LINE_BYTES - len(self._assembly)
                self._assembly += rx[:room]
                rx.clear()
                return
            raw = bytes(self._assembly + rx[:end])[:MAX_LINE_BYTES]
            del rx[: end + 1]
            self._assembly.clear()
            line = strip_line(raw)
            if line:
                self._accept(line)

    def _accept(self, line: bytes) -> None:
        result = check_line(line, self.last_n)
        if isinstance(result, Accepted):
            self.last_n = result.last_n
            self.stats.lines_received_ok += 1
            self.commands.append((result.line_number, result.command))
            return
        counter = _ERROR_COUNTERS[result.error]
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        self.stats.resend_requests += 1
        self.stats.rx_flushed_bytes += len(self.rx) + len(self._assembly)
        self.rx.clear()
        self._assembly.clear()
        self.emit(f"Error:{result.error.value}, Last Line: {self.last_n}")
        self.emit(f"Resend: {self.last_n + 1}")
        self.emit("ok")

    # --- time ------------------------------------------------------------------------------------

    def next_event_s(self) -> float:
        """The next time something happens without input (inf if nothing will)."""
        if self.killed:
            return math.inf
        t = min(self._next_temp_report_s, self._next_pos_report_s)
        if self.current is not None:
            t = min(t, self.current.wake_s(self), self._next_busy_s)
            if self.current.reports_temps:
                t = min(t, self._next_wait_report_s)
        return t

    def advance(self, now_s: float) -> None:
        """Run every timed event up to ``now_s`` in order, then the command loop."""
        while not self.killed:
            t = self.next_event_s()
            if t > now_s:
                break
            self._set_time(max(t, self.now_s))
            self._fire_timers()
            self._main_loop()
        self._set_time(max(now_s, self.now_s))
        self._main_loop()

    def _set_time(self, t: float) -> None:
        self.thermal.advance(t)
        self.now_s = t

    def _fire_timers(self) -> None:
        now = self.now_s
        if self._next_temp_report_s <= now:
            self.emit(self.thermal.report(self.active_tool))
            self._next_temp_report_s = max(self._next_temp_report_s + self.temp_report_s, now + 1e-6)
        if self._next_pos_report_s <= now:
            self.emit(self.motion.report())
            self._next_pos_report_s = max(self._next_pos_report_s + self.pos_report_s, now + 1e-6)
        current = self.current
        if current is None:
            return
        if self._next_busy_s <= now:
            self.emit(f"echo:busy: {current.busy_text}")
            self._next_busy_s = max(self._next_busy_s + self.busy_interval_s, now + 1e-6)
        if current.reports_temps and self._next_wait_report_s <= now:
            self.emit(f"{self.thermal.report(self.active_tool)} W:?")
            self._next_wait_report_s = max(self._next_wait_report_s + WAIT_REPORT_INTERVAL_S, now + 1e-6)

    def set_temp_report(self, interval_s: float) -> None:
        self.temp_report_s = interval_s
        self._next_temp_report_s = self.now_s + interval_s if interval_s > 0 else math.inf

    def set_pos_report(self, interval_s: float) -> None:
        self.pos_report_s = interval_s
        self._next_pos_report_s = self.now_s + interval_s if interval_s > 0 else math.inf

    # --- the command loop ------------------------------------------------------------------------

    def _main_loop(self) -> None:
        while not self.killed:
            self._drain_rx()
            if self.current is not None:
                if not self.current.poll(self, self.now_s):
                    return
                self.current = None
                self._next_busy_s = self._next_wait_report_s = math.inf
                self.ok(self._current_line)
                continue
            if not self.commands:
                return
            line_number, command = self.commands.popleft()
            self._execute(line_number, command)

    def _execute(self, line_number: int | None, command: str) -> None:
        stats = self.stats
        stats.commands_executed += 1
        if line_number is not None and not command.startswith("M110"):
            stats.numbered_executed += 1
            if line_number <= self._max_executed:
                stats.duplicates += 1
            self._max_executed = max(self._max_executed, line_number)
            stats.last_executed_line = line_number
            if self.config.record_executed:
                self.executed.append((line_number, command))
        if "112" in command and _M112.match(command):
            self.m112_received_s = self.now_s
        outcome = gcodes.execute(self, command, line_number)
        if isinstance(outcome, gcodes.Reply):
            if outcome is gcodes.Reply.OK:
                self.ok(line_number)
        else:
            self.wait_broken = False
            self.current = outcome
            self._current_line = line_number
            now = self.now_s
            self._next_busy_s = now + self.busy_interval_s if self.busy_interval_s > 0 else math.inf
            self._next_wait_report_s = now + WAIT_REPORT_INTERVAL_S

    def set_line_number(self, n: int, numbered: bool) -> None:
        """M110: the next expected line is ``n + 1``; ``M110 N0`` starts a fresh duplicate count.

        A numbered M110 already set the counter when it was read (framing); setting it again here could
        undo lines read since, so only the unnumbered form sets it at execution.
        """
        if not numbered:
            self.last_n = n
        if n == 0:
            self._max_executed = 0

    def stats_dict(self) -> dict[str, object]:
        return {
            **self.stats.as_dict(),
            "last_n": self.last_n,
            "position": self.motion.as_dict(),
            "killed": self.killed,
            "fault_injected_s": self.fault_injected_s,
            "m112_received_s": self.m112_received_s,
            "temps": self.thermal.as_dict(),
            "fan_pwm": self.fan_pwm,
            "planner_queued": len(self.planner),
            "commands_queued": len(self.commands),
            "rx_bytes": len(self.rx),
        }
