"""The host's thermal watchdog: catch a heater that does not follow its target, even if the firmware does not.

Modelled on Marlin's thermal protection, applied to the temperature reports the host receives. Firmware
protection can be compiled out, mis-tuned or blind to a failure (a MOSFET failed short keeps heating
after the firmware switched it off), so the agent watches on its own. Each heater (``tool0``, ``tool1``,
``bed``, ``chamber``) runs one small state machine fed by ``HeaterMonitor.observe``; the rules:

* ``over_max`` — above the heater's limit + ``max_margin_c``, at any time (one sample is enough).
* ``overshoot`` — above target + ``overshoot_c`` on ``overshoot_samples`` consecutive samples (or above
  target + ``runaway_c`` on one), while a target is set and the heater is not cooling down towards a
  lowered target.
* ``not_heating`` — still more than ``gap_c`` below target, and less than ``watch_rise_c`` gained in
  ``watch_period_s`` (Marlin's WATCH_TEMP: "Heating failed"). The window starts when the target is set
  or raised and restarts after each period that passed, so a heater dying half-way is caught too.
* ``hold_lost`` — once at target (within ``reached_band_c``), below target - ``hysteresis_c`` for longer
  than ``hold_period_s`` (Marlin's THERMAL_PROTECTION: "Thermal Runaway").
* ``heating_without_target`` — target off, or lowered and not yet reached, yet the temperature has
  risen more than ``idle_rise_c`` above its lowest point since and is above ``idle_floor_c``: a stuck
  heater. The lowest point, not the value at switch-off: a nozzle that cooled to 30 °C before its MOSFET
  failed is caught at 50 °C, not at 225 °C. The floor keeps a parked nozzle warmed by the bed (or a
  chamber) from tripping.
* ``bad_reading`` — a temperature that is not a number (NaN, ±inf): every other rule would be blind.

Before any rule, each sample passes a plausibility gate. Marlin's reports carry no checksum, so a bit
flipped on the wire turns ``T:210.0`` into ``T:310.0`` (or ``T:080.0``); a print must not stop for that.
A sample that moved further from the last accepted one than any heater can in the time between them
(``max_slew_c_s`` * Δt + ``slew_margin_c``), or that is not a number, is held back for the next one.
If the next sample goes on from the held one (a fast heater, a sensor that really failed) or is as far
off (a wire that came off), both are judged in order, so a real fault trips one report later than it
would have; if it goes on from the last accepted one instead, the held one was line noise: dropped and
counted in ``HeaterMonitor.rejected``. A report that reads above its target while the firmware commands
no power to that heater (``@:0``) is not held: the firmware's own controller sees the heat too, which a
bit flip in the report cannot fake (the firmware would still be heating), and a stuck MOSFET trips at once.

Cooling down (target lowered or switched off) never trips on its own; any target change restarts the
watch. A heater that tripped stays latched (no second ``Trip``) until ``reset``. Pure: times are seconds
on any monotonic clock, passed in.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field


class Rule(enum.StrEnum):
    OVER_MAX = "over_max"
    OVERSHOOT = "overshoot"
    NOT_HEATING = "not_heating"
    HOLD_LOST = "hold_lost"
    HEATING_WITHOUT_TARGET = "heating_without_target"
    BAD_READING = "bad_reading"


@dataclass(frozen=True, slots=True)
class ThermalRules:
    """One heater kind's thresholds; the defaults suit a hotend (see ``for_tool``/``for_bed``)."""

    max_c: float = 275.0
    """The heater's limit (the printer profile's ``max_tool_c``/``max_bed_c``)."""
    max_margin_c: float = 5.0
    overshoot_c: float = 15.0
    overshoot_samples: int = 2
    runaway_c: float = 30.0
    """Above target + this, one sample is enough: no sensor noise looks like that, and at 1 Hz reports
    waiting for a second sample would give a stuck heater another second at full power."""
    gap_c: float = 10.0
    """The heat-up watch applies while the heater is more than this below its target."""
    watch_period_s: float = 20.0
    watch_rise_c: float = 2.0
    reached_band_c: float = 3.0
    hysteresis_c: float = 15.0
    hold_period_s: float = 20.0
    idle_rise_c: float = 15.0
    idle_floor_c: float = 50.0
    max_slew_c_s: float = 20.0
    """Faster than any heater heats or cools (a fast ceramic hotend: ~10 °C/s)."""
    slew_margin_c: float = 15.0
    """Added to the slew allowance: sensor noise and the report's rounding."""

    @classmethod
    def for_tool(cls, max_c: float = 275.0) -> ThermalRules:
        return cls(max_c=max_c)

    @classmethod
    def for_bed(cls, max_c: float = 120.0) -> ThermalRules:
        """A bed heats slowly: 2 °C a minute is the least it must gain while far from target."""
        return cls(max_c=max_c, watch_period_s=60.0, hold_period_s=60.0)

    @classmethod
    def for_chamber(cls, max_c: float = 70.0) -> ThermalRules:
        """A chamber is slower still, and its air sits close to ambient: no floor above 40 °C."""
        return cls(max_c=max_c, watch_period_s=120.0, hold_period_s=120.0, idle_floor_c=40.0)


@dataclass(frozen=True, slots=True)
class Trip:
    """A heater broke a rule: the agent stops the printer (M112) and tells the user ``cause``."""

    heater: str
    rule: Rule
    cause: str
    """For a person: ``tool0 runaway: 231.4 °C with target 210 °C``."""
    at_s: float
    actual_c: float
    target_c: float


@dataclass(slots=True)
class _HeaterState:
    target_c: float = 0.0
    cooling: bool = False
    """Above a lowered target (or off) and not yet back down to it: only stuck heating is checked."""
    lowest_c: float = math.inf
    """Lowest temperature since the target went off or was lowered."""
    reached: bool = False
    watch_start: tuple[float, float] | None = None
    """(time, temperature) when the current heat-up window started."""
    below_since_s: float | None = None
    over_samples: int = 0
    tripped: Trip | None = None
    seen: bool = False
    last_s: float = 0.0
    last_c: float = 0.0
    """The last accepted sample (time, temperature): what the plausibility gate compares with."""
    held: tuple[float, float, float] | None = None
    """An implausible sample (time, actual, target) waiting for the next one to confirm it."""

    def plausible(self, now_s: float, actual_c: float, rules: ThermalRules) -> bool:
        """Could the heater have reached ``actual_c`` from the last accepted sample by ``now_s``?"""
        if not self.seen:
            return math.isfinite(actual_c)
        return _within_slew(self.last_s, self.last_c, now_s, actual_c, rules)

    def retarget(self, now_s: float, actual_c: float, target_c: float, rules: ThermalRules) -> None:
        """A new target (or the first sample): every watch starts over from here."""
        self.target_c = target_c
        self.reached = False
        self.below_since_s = None
        self.over_samples = 0
        self.watch_start = None
        # Above the new target, raised or not (a warm nozzle set to 180 °C): it has to come down first.
        self.cooling = target_c <= 0.0 or actual_c > target_c + rules.reached_band_c
        self.lowest_c = actual_c
        if target_c > 0.0 and target_c - actual_c > rules.gap_c:
            self.watch_start = (now_s, actual_c)


@dataclass(slots=True)
class HeaterMonitor:
    """Per-heater state machines; feed every temperature sample of every heater to ``observe``.

    ``rules`` overrides the rules of one heater by name; otherwise a heater's kind is read from its name
    (``tool*`` → ``tool_rules``, ``bed`` → ``bed_rules``, ``chamber`` → ``chamber_rules``; anything else
    is treated as a tool, the strictest).
    """

    tool_rules: ThermalRules = field(default_factory=ThermalRules.for_tool)
    bed_rules: ThermalRules = field(default_factory=ThermalRules.for_bed)
    chamber_rules: ThermalRules = field(default_factory=ThermalRules.for_chamber)
    rules: Mapping[str, ThermalRules] = field(default_factory=dict)
    _states: dict[str, _HeaterState] = field(default_factory=dict, init=False, repr=False)
    rejected: int = field(default=0, init=False, repr=False)
    """Samples dropped as line noise (implausible, and not confirmed by the next sample)."""
    last_rejected: str = field(default="", init=False, repr=False)
    """The last sample dropped as noise, for a person: ``tool0 310.0 °C between 210.1 and 210.3 °C``."""

    def rules_for(self, heater: str) -> ThermalRules:
        if heater in self.rules:
            return self.rules[heater]
        if heater == "bed":
            return self.bed_rules
        if heater == "chamber":
            return self.chamber_rules
        return self.tool_rules

    @property
    def trips(self) -> list[Trip]:
        """The latched trips, one per tripped heater."""
        return [state.tripped for state in self._states.values() if state.tripped is not None]

    def reset(self, heater: str | None = None) -> None:
        """Forget one heater's history (or every heater's), its latched trip included."""
        if heater is None:
            self._states.clear()
        else:
            self._states.pop(heater, None)

    def observe(
        self, now_s: float, heater: str, actual_c: float, target_c: float, power: float | None = None
    ) -> Trip | None:
        """One sample of ``heater``; the ``Trip`` the first time it breaks a rule, else None.

        ``power`` is what the firmware commands (Marlin's ``@:``, 0..1), when the report says it.
        """
        state = self._states.setdefault(heater, _HeaterState())
        if state.tripped is not None:
            return None
        rules = self.rules_for(heater)
        # A report that reads above its target while the firmware has its heater off corroborates
        # itself: the firmware's controller sees the heat too (a stuck MOSFET), so no waiting for the next.
        corroborated = power == 0.0 and 0.0 < target_c < actual_c
        plausible = corroborated or state.plausible(now_s, actual_c, rules)
        if state.held is not None:
            held, state.held = state.held, None
            if not plausible or _within_slew(held[0], held[1], now_s, actual_c, rules):
                # Confirmed: this sample goes on from the held one, or is as far off: judge both, in order.
                return self._judge(state, rules, heater, *held) or self._judge(
                    state, rules, heater, now_s, actual_c, target_c
                )
            self.last_rejected = (
                f"{heater} {held[1]:.1f} °C between {state.last_c:.1f} and {actual_c:.1f} °C"
                f" ({now_s - state.last_s:.2f} s apart)"
            )
            self.rejected += 1
        elif not plausible:
            state.held = (now_s, actual_c, target_c)
            return None
        return self._judge(state, rules, heater, now_s, actual_c, target_c)

    def _judge(
        self,
        state: _HeaterState,
        rules: ThermalRules,
        heater: str,
        now_s: float,
        actual_c: float,
        target_c: float,
    ) -> Trip | None:
        target_c = max(0.0, target_c) if math.isfinite(target_c) else 0.0
        if not state.seen or target_c != state.target_c:
            state.seen = True
            state.retarget(now_s, actual_c, target_c, rules)
        if math.isfinite(actual_c):
            state.last_s, state.last_c = now_s, actual_c
        found = _check(state, rules, now_s, heater, actual_c, target_c)
        if found is None:
            return None
        rule, cause = found
        state.tripped = Trip(heater, rule, cause, now_s, actual_c, target_c)
        return state.tripped


def _within_slew(then_s: float, then_c: float, now_s: float, now_c: float, rules: ThermalRules) -> bool:
    if not (math.isfinite(then_c) and math.isfinite(now_c)):
        return False
    allowed_c = rules.max_slew_c_s * max(0.0, now_s - then_s) + rules.slew_margin_c
    return abs(now_c - then_c) <= allowed_c


def _check(
    state: _HeaterState, rules: ThermalRules, now_s: float, heater: str, actual_c: float, target_c: float
) -> tuple[Rule, str] | None:
    """Advance ``state`` by one sample; the rule broken and why, or None."""
    if not math.isfinite(actual_c):
        return Rule.BAD_READING, f"{heater} reads {actual_c} °C: the sensor or its wiring has failed"
    if actual_c > rules.max_c + rules.max_margin_c:
        return Rule.OVER_MAX, f"{heater} over its limit: {actual_c:.1f} °C (limit {_fmt(rules.max_c)} °C)"
    if state.cooling:
        return _check_cooling(state, rules, heater, actual_c, target_c)
    if target_c <= 0.0:
        return None
    if actual_c > target_c + rules.overshoot_c:
        state.over_samples += 1
        if state.over_samples >= rules.overshoot_samples or actual_c > target_c + rules.runaway_c:
            return Rule.OVERSHOOT, f"{heater} runaway: {actual_c:.1f} °C with target {_fmt(target_c)} °C"
    else:
        state.over_samples = 0
    if not state.reached:
        if actual_c >= target_c - rules.reached_band_c:
            state.reached = True
            state.watch_start = None
        else:
            return _check_heat_up(state, rules, now_s, heater, actual_c, target_c)
    return _check_hold(state, rules, now_s, heater, actual_c, target_c)


def _check_cooling(
    state: _HeaterState, rules: ThermalRules, heater: str, actual_c: float, target_c: float
) -> tuple[Rule, str] | None:
    state.lowest_c = min(state.lowest_c, actual_c)
    rise_c = actual_c - state.lowest_c
    if rise_c > rules.idle_rise_c and actual_c > rules.idle_floor_c:
        wanted = "with its heater off" if target_c <= 0.0 else f"cooling to {_fmt(target_c)} °C"
        return (
            Rule.HEATING_WITHOUT_TARGET,
            f"{heater} heating {wanted}: {actual_c:.1f} °C, up {rise_c:.1f} °C (stuck heater?)",
        )
    if target_c > 0.0 and actual_c <= target_c + rules.reached_band_c:
        state.cooling = False
        state.reached = True
    return None


def _check_heat_up(
    state: _HeaterState, rules: ThermalRules, now_s: float, heater: str, actual_c: float, target_c: float
) -> tuple[Rule, str] | None:
    if target_c - actual_c <= rules.gap_c:
        state.watch_start = None
        return None
    if state.watch_start is None:
        state.watch_start = (now_s, actual_c)
        return None
    start_s, start_c = state.watch_start
    if now_s - start_s < rules.watch_period_s:
        return None
    gained_c = actual_c - start_c
    if gained_c < rules.watch_rise_c:
        return (
            Rule.NOT_HEATING,
            f"{heater} not heating: {actual_c:.1f} °C, up {gained_c:.1f} °C in {now_s - start_s:.0f} s "
            f"with target {_fmt(target_c)} °C",
        )
    state.watch_start = (now_s, actual_c)
    return None


def _check_hold(
    state: _HeaterState, rules: ThermalRules, now_s: float, heater: str, actual_c: float, target_c: float
) -> tuple[Rule, str] | None:
    if actual_c >= target_c - rules.hysteresis_c:
        state.below_since_s = None
        return None
    if state.below_since_s is None:
        state.below_since_s = now_s
        return None
    below_s = now_s - state.below_since_s
    if below_s > rules.hold_period_s:
        return (
            Rule.HOLD_LOST,
            f"{heater} cannot hold its temperature: {actual_c:.1f} °C for {below_s:.0f} s "
            f"with target {_fmt(target_c)} °C",
        )
    return None


def _fmt(value_c: float) -> str:
    """``210`` for whole degrees, ``210.5`` otherwise."""
    return f"{value_c:.1f}".removesuffix(".0")
