"""First-order heater model: a controller drives power 0..1, the temperature follows it with lag tau.

dT/dt = (P * max_rise_c - (T - ambient_c)) / tau_s, integrated exactly over steps of constant power, so any
step length is stable. Formatting follows Marlin's ``print_heater_states``.

Faults (``HeaterFault``) change the heat a heater delivers, not what the controller commands: ``@:`` still
reports the firmware's own PWM, as Marlin does, so a stuck MOSFET shows ``@:0`` while the temperature
climbs. The model has no thermal protection of its own: only the host can notice such a heater.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

TOOL_MAX_RISE_C = 330.0
"""Full power holds a hotend at ambient + 330 °C (well above any print temperature)."""
BED_MAX_RISE_C = 150.0
CONTROL_STEP_S = 0.1
"""The controller re-decides power at most this often (Marlin's PID runs on a similar tick)."""
PROPORTIONAL_GAIN = 8.0


class HeaterFault(enum.StrEnum):
    """A hardware fault the firmware cannot see: it keeps commanding power, the heater ignores it."""

    STUCK_ON = "stuck_on"
    """Failed-short MOSFET: full heat whatever the target (until the board cuts its supply)."""
    OPEN = "open"
    """Broken heater cartridge or wire: no heat at all."""


@dataclass(slots=True)
class Heater:
    """One heater with its sensor; ``heater_id`` is what Marlin prints in errors (0, 1, bed)."""

    heater_id: str
    max_rise_c: float
    tau_s: float
    ambient_c: float
    temp_c: float = 0.0
    target_c: float = 0.0
    power: float = 0.0
    """What the controller commands, 0..1 (reported after ``@:``)."""
    runaway: bool = False
    fault: HeaterFault | None = None
    supplied: bool = True
    """False once the board has cut the heaters' supply (``kill()``): no heat, stuck MOSFET or not."""

    def __post_init__(self) -> None:
        if self.temp_c == 0.0:
            self.temp_c = self.ambient_c

    def control(self) -> None:
        """Feed-forward plus proportional term, clamped to 0..1; off without a target."""
        if self.target_c <= 0.0:
            self.power = 0.0
            return
        hold = (self.target_c - self.ambient_c) / self.max_rise_c
        correction = PROPORTIONAL_GAIN * (self.target_c - self.temp_c) / self.max_rise_c
        self.power = min(1.0, max(0.0, hold + correction))

    @property
    def heat(self) -> float:
        """The power the heater really delivers, 0..1: the commanded power unless a fault overrides it."""
        if not self.supplied or self.fault is HeaterFault.OPEN:
            return 0.0
        if self.fault is HeaterFault.STUCK_ON:
            return 1.0
        return self.power

    def step(self, dt_s: float) -> None:
        """Advance ``dt_s`` seconds at the current heat (exact solution of the first-order model)."""
        if dt_s <= 0.0:
            return
        steady_c = self.ambient_c + self.heat * self.max_rise_c
        self.temp_c = steady_c + (self.temp_c - steady_c) * math.exp(-dt_s / self.tau_s)

    @property
    def power_pwm(self) -> int:
        """Power as Marlin reports it after ``@:``: 0..127."""
        return round(self.power * 127)


@dataclass(slots=True)
class ThermalModel:
    """The tools and the bed, stepped together on one clock."""

    tools: list[Heater]
    bed: Heater
    now_s: float = 0.0
    _next_control_s: float = field(default=0.0, repr=False)

    @classmethod
    def build(cls, tools: int, tau_s: float, ambient_c: float, now_s: float) -> ThermalModel:
        heaters = [Heater(str(i), TOOL_MAX_RISE_C, tau_s, ambient_c) for i in range(tools)]
        bed = Heater("bed", BED_MAX_RISE_C, tau_s, ambient_c)
        return cls(heaters, bed, now_s, now_s)

    @property
    def heaters(self) -> list[Heater]:
        return [*self.tools, self.bed]

    def advance(self, now_s: float) -> None:
        """Step every heater up to ``now_s``, re-running the controller every CONTROL_STEP_S."""
        while self.now_s < now_s:
            if self._next_control_s <= self.now_s:
                for heater in self.heaters:
                    heater.control()
                self._next_control_s = self.now_s + CONTROL_STEP_S
            until = min(now_s, self._next_control_s)
            for heater in self.heaters:
                heater.step(until - self.now_s)
            self.now_s = until

    def all_off(self) -> None:
        for heater in self.heaters:
            heater.target_c = 0.0
            heater.power = 0.0

    def cut_supply(self) -> None:
        """Marlin's ``kill()`` with a switched supply (PSU_CONTROL): every heater off, even a stuck one."""
        self.all_off()
        for heater in self.heaters:
            heater.supplied = False

    def heater(self, name: str) -> Heater:
        """``tool0``/``0``/``T0`` … or ``bed``; KeyError otherwise."""
        key = name.strip().lower()
        if key in ("bed", "b"):
            return self.bed
        key = key.removeprefix("tool").removeprefix("t")
        index = int(key) if key.isdigit() else -1
        if not 0 <= index < len(self.tools):
            raise KeyError(name)
        return self.tools[index]

    def report(self, active_tool: int = 0) -> str:
        """``T:210.00 /210.00 B:60.00 /60.00 @:64 B@:127`` (with ``T0:``/``T1:``/``@0:`` for two tools)."""
        active = self.tools[active_tool]
        parts = [
            f"T:{active.temp_c:.2f} /{active.target_c:.2f}",
            f"B:{self.bed.temp_c:.2f} /{self.bed.target_c:.2f}",
        ]
        if len(self.tools) > 1:
            parts += [f"T{i}:{h.temp_c:.2f} /{h.target_c:.2f}" for i, h in enumerate(self.tools)]
        parts += [f"@:{active.power_pwm}", f"B@:{self.bed.power_pwm}"]
        if len(self.tools) > 1:
            parts += [f"@{i}:{h.power_pwm}" for i, h in enumerate(self.tools)]
        return " ".join(parts)

    def as_dict(self) -> dict[str, dict[str, float | str | None]]:
        names = [f"tool{i}" for i in range(len(self.tools))] + ["bed"]
        return {
            name: {
                "actual": round(h.temp_c, 2),
                "target": h.target_c,
                "power": round(h.power, 3),
                "fault": None if h.fault is None else h.fault.value,
            }
            for name, h in zip(names, self.heaters, strict=True)
        }
