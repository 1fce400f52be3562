"""Temperature and position reports: `T:210.0 /210.0 B:60.0 /60.0 T0:... @:64 B@:127`, `X:.. Y:.. Z:.. E:..`.

Heater names follow Moonraker/OctoPrint: `tool0`, `tool1`, `bed`, `chamber`, plus `probe` (Prusa's
PINDA `P:`) and `ambient` (`A:`). Power is reported 0..1 (firmware sends 0..127 after `@:`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TEMP = re.compile(r"(?<![A-Za-z@])([TBCPA])(\d*):\s*(-?\d+(?:\.\d+)?)(?:\s*/\s*(-?\d+(?:\.\d+)?))?")
_POWER = re.compile(r"(?<![A-Za-z])([BC]?)@(\d*):\s*(-?\d+(?:\.\d+)?)")
_AXIS = re.compile(r"(?<![A-Za-z])([XYZE]):\s*(-?\d+(?:\.\d+)?)")
_LETTER_NAME = {"B": "bed", "C": "chamber", "P": "probe", "A": "ambient"}
POWER_FULL_SCALE = 127.0


@dataclass(frozen=True, slots=True)
class HeaterReading:
    actual_c: float
    target_c: float | None = None
    power: float | None = None


@dataclass(frozen=True, slots=True)
class Position:
    x_mm: float
    y_mm: float
    z_mm: float
    e_mm: float


def looks_like_temperatures(text: str) -> bool:
    """Cheap test before the regex: a report names a tool or the bed with a colon."""
    return "T:" in text or "B:" in text or "T0:" in text


def parse_temperatures(text: str) -> dict[str, HeaterReading]:
    """Heater readings in a report line; {} when the line holds none.

    A bare `T:` is the active tool; when `T0:`/`T1:` are present they win, as they name the tool.
    """
    found: dict[str, tuple[float, float | None]] = {}
    bare_tool: tuple[float, float | None] | None = None
    for letter, index, actual, target in _TEMP.findall(text):
        value = (float(actual), float(target) if target else None)
        if letter == "T":
            if index:
                found[f"tool{index}"] = value
            else:
                bare_tool = value
        elif not index:
            found[_LETTER_NAME[letter]] = value
    if bare_tool is not None and not any(k.startswith("tool") for k in found):
        found["tool0"] = bare_tool
    if not found:
        return {}
    powers: dict[str, float] = {}
    for letter, index, raw in _POWER.findall(text):
        name = _LETTER_NAME[letter] if letter else f"tool{index or 0}"
        powers[name] = max(0.0, min(1.0, float(raw) / POWER_FULL_SCALE))
    return {name: HeaterReading(actual, target, powers.get(name)) for name, (actual, target) in found.items()}


def parse_position(text: str) -> Position | None:
    """The logical position of an M114 report (the part before `Count`), or None."""
    cut = text.find("Count")
    head = text[:cut] if cut >= 0 else text
    axes = {axis: float(value) for axis, value in _AXIS.findall(head)}
    if not {"X", "Y", "Z"} <= axes.keys():
        return None
    return Position(axes["X"], axes["Y"], axes["Z"], axes.get("E", 0.0))
