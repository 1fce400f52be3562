"""Streams a G-code file through a PrinterLink: progress, pause, resume, cancel, and where it stopped.

The streamer only feeds commands and books what the firmware acknowledged; the link owns the wire.
It knows the last acknowledged file line at every moment, which is what recovery needs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from firmware_bridge import gcode_file
from firmware_bridge.errors import FirmwareHalted, FirmwareReset, PortError
from firmware_bridge.gcode_file import SourceLine
from firmware_bridge.link import PrinterLink
from firmware_bridge.protocol.framing import command_word, compact_motion
from firmware_bridge.protocol.temperatures import Position

log = logging.getLogger(__name__)

DEFAULT_CANCEL_SCRIPT: tuple[str, ...] = ("M104 S0", "M140 S0", "M107", "G91", "G1 Z5 F600", "G90", "M84")
PROGRESS_EVERY_S = 0.1
HALT_GRACE_S = 0.2


class Outcome(Enum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"  # the firmware halted (thermal runaway, kill(), M112)
    INTERRUPTED = "interrupted"  # the board reset or the port went away: resumable


@dataclass(slots=True)
class Progress:
    bytes_total: int
    lines_total: int
    layers_total: int
    bytes_acked: int = 0
    lines_acked: int = 0
    layer: int = -1
    last_acked_file_line: int = -1
    last_acked_line_no: int = -1  # the wire line number of `last_acked_file_line` (-1: not known)
    elapsed_s: float = 0.0

    @property
    def fraction(self) -> float:
        return self.bytes_acked / self.bytes_total if self.bytes_total else 1.0


@dataclass(slots=True)
class MachineState:
    """What the G-code sent so far has set: positions, modes, feed, fan and heater targets.

    Restored after a pause, and replayed over a file to find where a job can pick up again."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    e: float = 0.0
    absolute_xyz: bool = True
    absolute_e: bool = True
    feed_mm_min: float | None = None
    fan_speed: int = 0
    targets_c: dict[str, float] = field(default_factory=dict)

    def track(self, command: str) -> None:
        word = command_word(command)
        args = gcode_args(command)
        if word in ("G0", "G1", "G2", "G3"):
            for axis in ("x", "y", "z"):
                value = args.get(axis.upper())
                if value is not None:
                    setattr(self, axis, value if self.absolute_xyz else getattr(self, axis) + value)
            if "E" in args:
                self.e = args["E"] if self.absolute_e else self.e + args["E"]
            if "F" in args:
                self.feed_mm_min = args["F"]
        elif word == "G92":
            for axis in ("x", "y", "z", "e"):
                if axis.upper() in args:
                    setattr(self, axis, args[axis.upper()])
        elif word == "G90":
            self.absolute_xyz = self.absolute_e = True
        elif word == "G91":
            self.absolute_xyz = self.absolute_e = False
        elif word == "M82":
            self.absolute_e = True
        elif word == "M83":
            self.absolute_e = False
        elif word == "M106":
            self.fan_speed = int(args.get("S", 255))
        elif word == "M107":
            self.fan_speed = 0
        elif word in ("M104", "M109", "M140", "M190"):
            target = args.get("S", args.get("R"))
            heater = "bed" if word in ("M140", "M190") else f"tool{int(args.get('T', 0))}"
            if target is not None:
                self.targets_c[heater] = target

    def copy(self) -> MachineState:
        return replace(self, targets_c=dict(self.targets_c))


def gcode_args(command: str) -> dict[str, float]:
    """`G1 X10 Y-2.5 E.3` → {X: 10, Y: -2.5, E: 0.3}; a bare letter is 0, unreadable values are skipped."""
    values: dict[str, float] = {}
    for part in command.split()[1:]:
        letter, text = part[:1].upper(), part[1:]
        try:
            values[letter] = float(text) if text else 0.0
        except ValueError:
            continue
    return values


@dataclass(frozen=True, slots=True)
class PausedAt:
    position: Position | None
    file_line: int
    machine: MachineState


@dataclass(frozen=True, slots=True)
class StreamResult:
    outcome: Outcome
    progress: Progress
    cause: str = ""
    seconds: float = 0.0


class Streamer:
    """Streams one file at a time through `link`."""

    def __init__(
        self,
        link: PrinterLink,
        *,
        cancel_script: Sequence[str] = DEFAULT_CANCEL_SCRIPT,
        pause_script: Sequence[str] = (),
        resume_travel_mm_min: float = 6000.0,
        compact: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.cancel_script = tuple(cancel_script)
        self.pause_script = tuple(pause_script)
        self.resume_travel_mm_min = resume_travel_mm_min
        self.compact = compact
        self.machine = MachineState()
        self.progress: Progress | None = None
        self.paused_at: PausedAt | None = None
        self._clock = clock
        self._feeding = asyncio.Event()
        self._feeding.set()
        self._cancelled = False
        self._tickets: deque[tuple[int, SourceLine]] = deque()

    # ---- control ----------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return not self._feeding.is_set()

    async def pause(self) -> PausedAt:
        """Stop feeding, let the printer finish what it holds (M400), read where it stands (M114)."""
        self._feeding.clear()
        await self.link.drain()
        self._settle()
        await self.link.execute("M400")
        await self.link.execute("M114")
        for command in self.pause_script:
            await self.link.execute(command)
        file_line = self.progress.last_acked_file_line if self.progress else -1
        self.paused_at = PausedAt(
            self.link.status.position,
            file_line,
            self.machine.copy(),
        )
        return self.paused_at

    async def resume(self) -> None:
        """Put the head back where the pause found it (when a pause script moved it), feed again."""
        at = self.paused_at
        if at is not None and self.pause_script and at.position is not None:
            pos = at.position
            await self.link.execute("G90")
            await self.link.execute(f"G1 X{pos.x_mm:.3f} Y{pos.y_mm:.3f} F{self.resume_travel_mm_min:.0f}")
            await self.link.execute(f"G1 Z{pos.z_mm:.3f}")
            await self.link.execute(f"G92 E{pos.e_mm:.5f}")
            if not at.machine.absolute_xyz:
                await self.link.execute("G91")
            if not at.machine.absolute_e:
                await self.link.execute("M83")
        self.paused_at = None
        self._feeding.set()

    def cancel(self) -> None:
        """Stop feeding now and drop what is queued; `stream` then runs the cancel script."""
        self._cancelled = True
        self.link.clear_pending()
        self._feeding.set()

    # ---- streaming --------------------------------------------------------------------------

    async def stream(
        self,
        path: Path,
        *,
        start_line: int = 0,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> StreamResult:
        summary = gcode_file.scan(path)
        progress = Progress(summary.size_bytes, summary.commands, summary.layers)
        self.progress = progress
        self._cancelled = False
        self._tickets.clear()
        started = self._clock()
        last_report = started
        try:
            self.link.restart_numbering()
            for source in gcode_file.read(path, start_line):
                if not self._feeding.is_set():
                    await self._feeding.wait()
                if self._cancelled:
                    break
                self.machine.track(source.command)
                command = compact_motion(source.command) if self.compact else source.command
                ticket = await self.link.submit(command)
                self._tickets.append((ticket, source))
                if len(self._tickets) > 32:
                    self._settle()
                now = self._clock()
                progress.elapsed_s = now - started  # read live by hosts that poll `progress`
                if on_progress is not None and now - last_report >= PROGRESS_EVERY_S:
                    on_progress(progress)
                    last_report = now
            await self.link.drain()
            self._settle()
            if self._cancelled:
                for command in self.cancel_script:
                    await self.link.execute(command)
                outcome = Outcome.CANCELLED
            else:
                outcome = Outcome.COMPLETED
                progress.bytes_acked = progress.bytes_total
            cause = ""
        except FirmwareHalted as exc:
            await asyncio.sleep(HALT_GRACE_S)  # a kill message spans lines: let the rest arrive
            outcome, cause = Outcome.FAILED, str(exc)
        except (FirmwareReset, PortError) as exc:
            outcome, cause = Outcome.INTERRUPTED, str(exc)
        finally:
            self._settle()
            progress.elapsed_s = self._clock() - started
            if on_progress is not None:
                on_progress(progress)
        if outcome is Outcome.INTERRUPTED:
            cause += f"; last acknowledged file line {progress.last_acked_file_line + 1}"
        log.info("stream of %s: %s %s", path.name, outcome.value, cause)
        return StreamResult(outcome, progress, cause, progress.elapsed_s)

    def _settle(self) -> None:
        """Book every command the firmware has acknowledged since the last call."""
        progress = self.progress
        if progress is None:
            return
        acked = self.link.window.acked_ticket
        tickets = self._tickets
        last: SourceLine | None = None
        last_ticket = -1
        count = 0
        while tickets and tickets[0][0] <= acked:
            last_ticket, last = tickets.popleft()
            count += 1
        if last is not None:
            window = self.link.window
            progress.last_acked_line_no = window.acked_line_no if last_ticket == window.acked_ticket else -1
            progress.lines_acked += count
            progress.bytes_acked = last.end_offset
            progress.layer = last.layer
            progress.last_acked_file_line = last.file_line
