"""What a command that cannot finish at once is waiting for; the core polls it and sends ``ok`` after.

While one of these is current the command buffer does not advance (the command still holds its slot),
exactly like a Marlin G-code handler that loops in ``idle()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from firmware_bridge.virtual.thermal import CONTROL_STEP_S, Heater

if TYPE_CHECKING:
    from firmware_bridge.virtual.marlin import MarlinCore

BUSY_PROCESSING = "processing"
BUSY_PAUSED = "paused for user"
HEAT_WINDOW_C = 1.0
COOL_WINDOW_C = 2.0


class Waiter(Protocol):
    busy_text: str
    reports_temps: bool

    def poll(self, core: MarlinCore, now_s: float) -> bool:
        """Do what can be done at ``now_s``; True once the command is complete."""
        ...

    def wake_s(self, core: MarlinCore) -> float:
        """The next time polling could change anything."""
        ...


@dataclass(slots=True)
class PlannerSlot:
    """A move waiting for room in the planner (the planner is full)."""

    duration_s: float
    busy_text: str = BUSY_PROCESSING
    reports_temps: bool = False

    def poll(self, core: MarlinCore, now_s: float) -> bool:
        if core.planner.free(now_s) <= 0:
            return False
        core.planner.add(self.duration_s, now_s)
        return True

    def wake_s(self, core: MarlinCore) -> float:
        return core.planner.next_free_s()


@dataclass(slots=True)
class Until:
    """Done at a fixed time: G4 dwell, G28 homing, M400 (planner drained)."""

    end_s: float
    busy_text: str = BUSY_PROCESSING
    reports_temps: bool = False

    def poll(self, core: MarlinCore, now_s: float) -> bool:
        return now_s >= self.end_s

    def wake_s(self, core: MarlinCore) -> float:
        return self.end_s


@dataclass(slots=True)
class HeatWait:
    """M109/M190: wait until the heater is within the window of its target, or M108 breaks the wait."""

    heater: Heater
    allow_cooling: bool
    busy_text: str = BUSY_PROCESSING
    reports_temps: bool = True

    def poll(self, core: MarlinCore, now_s: float) -> bool:
        if core.wait_broken:
            return True
        heater = self.heater
        if heater.target_c <= 0.0 and not self.allow_cooling:
            return True
        error_c = heater.temp_c - heater.target_c
        if error_c > 0.0:
            return not self.allow_cooling or error_c < COOL_WINDOW_C
        return -error_c < HEAT_WINDOW_C

    def wake_s(self, core: MarlinCore) -> float:
        return core.now_s + CONTROL_STEP_S


@dataclass(slots=True)
class UserWait:
    """M0/M1: ``busy: paused for user`` until M108 (or the optional S/P timeout)."""

    deadline_s: float = math.inf
    busy_text: str = BUSY_PAUSED
    reports_temps: bool = False

    def poll(self, core: MarlinCore, now_s: float) -> bool:
        return core.wait_broken or now_s >= self.deadline_s

    def wake_s(self, core: MarlinCore) -> float:
        return self.deadline_s
