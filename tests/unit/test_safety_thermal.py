"""The host's thermal watchdog, fed synthetic sample sequences: every rule trips, normal heating never does."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import pytest

from edge_agent.safety.thermal import HeaterMonitor, Rule, ThermalRules, Trip

Sample = tuple[float, float, float]
"""(time s, actual °C, target °C)"""


def run(
    samples: Iterable[Sample], heater: str = "tool0", monitor: HeaterMonitor | None = None
) -> Trip | None:
    """Feed ``samples``; the first trip (and check the monitor stays quiet after it), or None."""
    monitor = monitor or HeaterMonitor()
    first: Trip | None = None
    for now_s, actual_c, target_c in samples:
        trip = monitor.observe(now_s, heater, actual_c, target_c)
        if first is None:
            first = trip
        else:
            assert trip is None, "a tripped heater stays latched"
    return first


def curve(
    start_s: float, end_s: float, step_s: float, target_c: float, temp: Callable[[float], float]
) -> list[Sample]:
    """Samples every ``step_s`` from ``start_s`` (inclusive) to ``end_s`` (exclusive); ``temp(t - start)``."""
    count = round((end_s - start_s) / step_s)
    return [(start_s + i * step_s, temp(i * step_s), target_c) for i in range(count)]


def approach(from_c: float, to_c: float, tau_s: float) -> Callable[[float], float]:
    return lambda t: to_c + (from_c - to_c) * math.exp(-t / tau_s)


def wobble(at_c: float, amplitude_c: float, period_s: float = 7.0) -> Callable[[float], float]:
    return lambda t: at_c + amplitude_c * math.sin(2 * math.pi * t / period_s)


def flat(at_c: float) -> Callable[[float], float]:
    return lambda t: at_c


# Normal behaviour, none of which may trip.
TOOL_HEAT_UP = curve(0, 60, 1, 210, approach(25, 210.3, 12)) + curve(60, 300, 1, 210, wobble(210, 3))
BED_HEAT_UP = curve(0, 120, 2, 60, approach(25, 60.2, 25)) + curve(120, 600, 2, 60, wobble(60, 1, 30))
TOOL_AT_210 = curve(0, 60, 1, 210, wobble(210, 1))

NON_TRIPS: dict[str, tuple[str, list[Sample]]] = {
    "tool heat-up 25→210 °C in 60 s, then PID wobble ±3 °C": ("tool0", TOOL_HEAT_UP),
    "tool heat-up sampled every 5 s": ("tool0", TOOL_HEAT_UP[::5]),
    "tool heat-up with 8 °C PID overshoot": (
        "tool0",
        curve(0, 40, 1, 210, approach(25, 218, 8)) + curve(40, 120, 1, 210, approach(218, 210, 10)),
    ),
    "linear tool ramp at 1.5 °C/s": ("tool0", curve(0, 124, 1, 210, lambda t: 25 + 1.5 * t)),
    "bed heat-up 25→60 °C in 120 s, then ±1 °C": ("bed", BED_HEAT_UP),
    "bed heat-up to 110 °C, slow at the end": (
        "bed",
        curve(0, 900, 5, 110, approach(25, 112, 200)) + curve(900, 1200, 5, 110, wobble(110, 1, 60)),
    ),
    "target lowered 210→180 °C": (
        "tool0",
        TOOL_AT_210
        + curve(60, 180, 1, 180, approach(210, 180, 15))
        + curve(180, 300, 1, 180, wobble(180, 3)),
    ),
    "target off at 210 °C: cools to ambient": (
        "tool0",
        TOOL_AT_210 + curve(60, 900, 1, 0, approach(210, 25, 120)),
    ),
    "target off with residual heat creeping up 4 °C": (
        "tool0",
        TOOL_AT_210
        + curve(60, 70, 1, 0, lambda t: 210 + 0.4 * t)
        + curve(70, 400, 1, 0, approach(214, 25, 90)),
    ),
    "warm nozzle given a lower target after being off": (
        "tool0",
        curve(0, 20, 1, 0, approach(215, 25, 200)) + curve(20, 120, 1, 180, approach(196, 180, 15)),
    ),
    "target raised while at temperature": (
        "tool0",
        TOOL_AT_210 + curve(60, 80, 1, 230, approach(210, 230.1, 4)) + curve(80, 140, 1, 230, wobble(230, 2)),
    ),
    "parked nozzle warmed by the bed to 45 °C": ("tool0", curve(0, 600, 5, 0, approach(25, 45, 150))),
    "off, sensor noise ±2 °C": ("tool0", curve(0, 300, 1, 0, wobble(25, 2, 3))),
    "short 10 s dip below the hold band (fan blast)": (
        "tool0",
        TOOL_AT_210 + curve(60, 70, 1, 210, flat(192)) + curve(70, 120, 1, 210, wobble(210, 2)),
    ),
    "single noisy sample 20 °C over target": (
        "tool0",
        [*TOOL_AT_210, (60, 231, 210), *curve(61, 120, 1, 210, wobble(210, 1))],
    ),
    "off and cold from the start": ("bed", curve(0, 600, 10, 0, flat(22))),
    # Marlin's reports have no checksum: one bit flipped on the wire must not stop a print.
    "bit flip at temperature: T:210 read as T:310": (
        "tool0",
        [*TOOL_AT_210, (60, 310, 210), *curve(61, 120, 1, 210, wobble(210, 1))],
    ),
    "bit flip at temperature: T:210 read as T:250": (
        "tool0",
        [*TOOL_AT_210, (60, 250, 210), *curve(61, 120, 1, 210, wobble(210, 1))],
    ),
    "bit flip while cooling: T:180 read as T:080, then 179": (
        "tool0",
        TOOL_AT_210
        + curve(60, 70, 1, 0, lambda t: 210 - 3 * t)
        + [(70, 80, 0)]
        + curve(71, 120, 1, 0, lambda t: 179 - 2 * t),
    ),
    "one NaN between good readings": ("tool0", [*TOOL_AT_210, (60, math.nan, 210), (61, 210, 210)]),
}


@pytest.mark.parametrize(("heater", "samples"), list(NON_TRIPS.values()), ids=list(NON_TRIPS))
def test_normal_behaviour_never_trips(heater: str, samples: list[Sample]) -> None:
    assert run(samples, heater) is None


# Faults: (heater, samples, rule, time of the trip, cause or None to skip the text check).
TRIPS: dict[str, tuple[str, list[Sample], Rule, float, str | None]] = {
    "stuck MOSFET at target: two samples 15 °C over": (
        "tool0",
        [*TOOL_AT_210, (60, 226, 210), (61, 231.4, 210)],
        Rule.OVERSHOOT,
        61,
        "tool0 runaway: 231.4 °C with target 210 °C",
    ),
    "over the heater's limit + 5 °C: one sample": (
        "tool0",
        [(0, 270, 0), (1, 280.5, 0)],
        Rule.OVER_MAX,
        1,
        "tool0 over its limit: 280.5 °C (limit 275 °C)",
    ),
    "a jump over the limit no heater makes, confirmed by the next report": (
        "tool0",
        [(0, 25, 0), (1, 280.5, 0), (2, 281, 0)],
        Rule.OVER_MAX,
        1,
        "tool0 over its limit: 280.5 °C (limit 275 °C)",
    ),
    "sensor shorted mid-print: reads 900 °C from then on": (
        "tool0",
        [*TOOL_AT_210, (60, 900, 210), (61, 900, 210)],
        Rule.OVER_MAX,
        60,
        None,
    ),
    "bed over its limit while heating": ("bed", [(0, 100, 110), (1, 126, 110)], Rule.OVER_MAX, 1, None),
    "tool set to 210 °C does not heat": (
        "tool0",
        curve(0, 60, 1, 210, lambda t: 25 + 0.05 * t),
        Rule.NOT_HEATING,
        20,
        "tool0 not heating: 26.0 °C, up 1.0 °C in 20 s with target 210 °C",
    ),
    "tool heater dies half-way up": (
        "tool0",
        curve(0, 30, 1, 210, lambda t: 25 + 4 * t) + curve(30, 90, 1, 210, flat(145)),
        Rule.NOT_HEATING,
        60,  # windows: 0-20 s (+80 °C), 20-40 s (+40 °C), 40-60 s (0 °C)
        None,
    ),
    "bed does not heat: judged over 60 s, not 20 s": (
        "bed",
        curve(0, 120, 2, 60, lambda t: 25 + 0.02 * t),
        Rule.NOT_HEATING,
        60,
        None,
    ),
    "heater open at temperature: below target - 15 °C for over 20 s": (
        "tool0",
        TOOL_AT_210 + curve(60, 120, 1, 210, approach(210, 25, 2)),
        Rule.HOLD_LOST,
        82,  # below 195 °C from 61 s; more than 20 s later
        "tool0 cannot hold its temperature: 25.0 °C for 21 s with target 210 °C",
    ),
    "stuck MOSFET with the heater off": (
        "tool0",
        curve(0, 30, 1, 0, lambda t: 25 + 2 * t),
        Rule.HEATING_WITHOUT_TARGET,
        13,  # 51 °C: above the 50 °C floor and 26 °C over the lowest reading
        "tool0 heating with its heater off: 51.0 °C, up 26.0 °C (stuck heater?)",
    ),
    "stuck MOSFET after the print: cooled to 30 °C, then climbs": (
        "tool0",
        TOOL_AT_210
        + curve(60, 660, 10, 0, approach(210, 30, 60))
        + curve(660, 700, 1, 0, lambda t: 30 + 1.5 * t),
        Rule.HEATING_WITHOUT_TARGET,
        674,  # 51 °C
        None,
    ),
    "stuck MOSFET while cooling to a lowered target": (
        "tool0",
        TOOL_AT_210 + curve(60, 90, 1, 150, lambda t: 210 + 1.0 * t),
        Rule.HEATING_WITHOUT_TARGET,
        76,
        "tool0 heating cooling to 150 °C: 226.0 °C, up 16.0 °C (stuck heater?)",
    ),
    "stuck bed heater, switched off": (
        "bed",
        curve(0, 100, 2, 0, lambda t: 30 + 0.5 * t),
        Rule.HEATING_WITHOUT_TARGET,
        42,
        None,
    ),
    "sensor reads NaN, twice": (
        "tool0",
        [(0, 200, 210), (1, math.nan, 210), (2, math.nan, 210)],
        Rule.BAD_READING,
        1,
        None,
    ),
}


@pytest.mark.parametrize(
    ("heater", "samples", "rule", "at_s", "cause"), list(TRIPS.values()), ids=list(TRIPS)
)
def test_faults_trip(heater: str, samples: list[Sample], rule: Rule, at_s: float, cause: str | None) -> None:
    trip = run(samples, heater)
    assert trip is not None
    assert (trip.heater, trip.rule, trip.at_s) == (heater, rule, at_s)
    if cause is not None:
        assert trip.cause == cause


def test_target_change_restarts_the_heat_up_watch() -> None:
    monitor = HeaterMonitor()
    for t in range(15):
        assert monitor.observe(t, "tool0", 25.0, 210.0) is None
    for t in range(15, 35):  # raised at 15 s: the 20 s window starts there
        assert monitor.observe(t, "tool0", 25.0, 220.0) is None
    trip = monitor.observe(35, "tool0", 25.0, 220.0)
    assert trip is not None and trip.rule is Rule.NOT_HEATING


def test_target_off_then_on_again_restarts_the_watch() -> None:
    samples = curve(0, 15, 1, 210, flat(25)) + curve(15, 16, 1, 0, flat(25)) + curve(16, 35, 1, 210, flat(25))
    assert run(samples) is None


def test_heaters_are_independent_and_latch_until_reset() -> None:
    monitor = HeaterMonitor()
    assert monitor.observe(0, "tool0", 200, 210) is None
    assert monitor.observe(0, "bed", 60, 60) is None
    assert monitor.observe(1, "tool0", 290, 210) is None  # a jump of 90 °C in 1 s: held for the next report
    trip = monitor.observe(1.5, "tool0", 290, 210)  # confirmed: the held sample trips …
    assert trip is not None and trip.rule is Rule.OVER_MAX and trip.at_s == 1  # … stamped with its own time

    assert monitor.observe(2, "tool0", 295, 210) is None  # latched: reported once
    assert monitor.observe(2, "bed", 60, 60) is None
    assert monitor.trips == [trip]
    monitor.reset("tool0")
    assert monitor.trips == []
    assert monitor.observe(3, "tool0", 295, 210) == Trip(
        "tool0", Rule.OVER_MAX, trip.cause.replace("290", "295"), 3, 295, 210
    )


def test_rules_follow_the_configured_limits() -> None:
    monitor = HeaterMonitor(
        tool_rules=ThermalRules.for_tool(max_c=300), bed_rules=ThermalRules.for_bed(max_c=100)
    )
    assert monitor.observe(0, "tool1", 290, 0) is None
    bed = monitor.observe(0, "bed", 106, 0)
    assert bed is not None and bed.cause == "bed over its limit: 106.0 °C (limit 100 °C)"
    chamber = HeaterMonitor(rules={"chamber": ThermalRules.for_chamber(max_c=50)})
    assert chamber.rules_for("chamber").max_c == 50
    assert chamber.rules_for("tool3") == ThermalRules.for_tool()
    assert chamber.observe(0, "chamber", 56, 0) is not None


def test_default_rules_per_kind() -> None:
    tool, bed = ThermalRules.for_tool(), ThermalRules.for_bed()
    assert (tool.watch_rise_c, tool.watch_period_s, tool.hold_period_s) == (2.0, 20.0, 20.0)
    assert (bed.watch_rise_c, bed.watch_period_s, bed.max_c) == (2.0, 60.0, 120.0)
    assert tool.overshoot_c == bed.overshoot_c == 15.0


def test_line_noise_is_counted_and_dropped() -> None:
    monitor = HeaterMonitor()
    for now_s, actual_c, target_c in TOOL_AT_210:
        assert monitor.observe(now_s, "tool0", actual_c, target_c) is None
    assert monitor.observe(60, "tool0", 310, 210) is None
    assert monitor.observe(61, "tool0", 210.4, 210) is None
    assert monitor.observe(62, "tool0", math.nan, 210) is None
    assert monitor.observe(63, "tool0", 209.8, 210) is None
    assert monitor.rejected == 2
    assert monitor.trips == []


def test_the_gate_allows_fast_heaters_and_sparse_reports() -> None:
    """A 10 °C/s ceramic hotend, and reports 5 s apart during a heat-up, are not noise."""
    monitor = HeaterMonitor()
    for now_s, actual_c, target_c in curve(0, 20, 1, 260, lambda t: min(25 + 10 * t, 260)):
        assert monitor.observe(now_s, "tool0", actual_c, target_c) is None
    for now_s, actual_c, target_c in TOOL_HEAT_UP[::5]:
        assert monitor.observe(now_s + 100, "tool1", actual_c, target_c) is None
    # A bed that jumps 22 → 59.7 °C in one report (a test rig's 2 s time constant) and stays there: the
    # jump is held, the next report goes on from it, so both count.
    for now_s, actual_c in ((0, 22.0), (1.0, 59.7), (1.9, 60.0), (2.9, 60.1)):
        assert monitor.observe(now_s, "bed", actual_c, 60) is None
    assert monitor.rejected == 0


def test_a_report_the_firmware_corroborates_trips_at_once() -> None:
    """Above target with the firmware's heater off (``@:0``): a stuck MOSFET, not a bit flip."""
    noisy, stuck = HeaterMonitor(), HeaterMonitor()
    for now_s, actual_c, target_c in TOOL_AT_210:
        noisy.observe(now_s, "tool0", actual_c, target_c, 0.5)
        stuck.observe(now_s, "tool0", actual_c, target_c, 0.5)
    assert noisy.observe(60, "tool0", 255, 210, 0.5) is None  # still heating: the firmware reads ~210
    trip = stuck.observe(60, "tool0", 255, 210, 0.0)
    assert trip is not None and trip.rule is Rule.OVERSHOOT and trip.at_s == 60
    assert noisy.observe(61, "tool0", 210.2, 210, 0.5) is None
    assert noisy.rejected == 1 and noisy.trips == []
    off = HeaterMonitor()  # with no target, power 0 says nothing
    off.observe(0, "tool0", 180, 0, 0.0)
    assert off.observe(1, "tool0", 580, 0, 0.0) is None
