"""Which G-code a remote client (dashboard console, cloud, API) may send to the printer.

Remote lines reach the firmware without a person at the printer, so commands that change the firmware
itself — beyond this session or beyond its own protections — are refused unless the printer's profile
allows them by name. The deny-list, and why each word is on it:

* Persistent state. ``M500`` saves the running settings to EEPROM, ``M501`` reloads them (silently
  dropping calibration done since), ``M502`` resets to factory defaults (with a later ``M500`` that wipes
  the printer's calibration), ``M504`` touches the EEPROM (read-only in Marlin 2.x, not in every fork).
  ``M997`` flashes firmware. ``M28``/``M29`` write a file to the SD card, ``M30`` deletes one, ``M928``
  starts logging to it: the card holds the board's config on many machines.
* Thermal protection. ``M303`` autotunes a PID loop: it drives a heater in bang-bang cycles unattended
  and, with ``U1``, replaces the tuned values. ``M301``/``M304`` set hotend/bed PID gains: bad gains
  overshoot or oscillate. ``M302`` allows cold extrusion, which also hides a heater that never heated.
  RepRapFirmware's ``M143`` (heater maximum) and ``M570`` (heater fault timeout) loosen its own checks.
* Direct hardware. ``M42`` sets any pin (a heater's MOSFET included) and ``M43`` toggles pins to find
  them; both bypass the firmware's heater control.
* Motion safety. ``M540`` changes whether an endstop hit aborts an SD print, ``M121`` disables the
  endstops, ``M211`` the software endstops: the machine can drive into its frame. ``M906``/``M907``
  set the stepper drivers' current (a driver or motor overheats), ``M913`` the TMC hybrid threshold and
  ``M914`` the stallGuard sensitivity that sensorless homing depends on.

Everything else is allowed — movement, heating within the limits (``limits.check_target``), fans,
messages, ``M112``. A line holding a line break is refused: it would reach the firmware as two lines,
the second one unchecked. Pure: lines in, refusal messages out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edge_agent.safety.limits import check_target, parse_line

DENIED: Mapping[str, str] = {
    "M28": "writes a file to the SD card",
    "M29": "writes a file to the SD card",
    "M30": "deletes a file from the SD card",
    "M42": "sets a pin directly, bypassing the firmware's heater control",
    "M43": "toggles pins directly, bypassing the firmware's heater control",
    "M121": "disables the endstops",
    "M143": "changes a heater's maximum temperature",
    "M211": "changes the software endstops",
    "M301": "changes the hotend's PID gains",
    "M302": "allows extrusion with a cold hotend",
    "M303": "runs a PID autotune, heating unattended",
    "M304": "changes the bed's PID gains",
    "M500": "saves the running settings to EEPROM",
    "M501": "reloads the settings from EEPROM, dropping unsaved calibration",
    "M502": "resets the settings to factory defaults",
    "M504": "accesses the EEPROM",
    "M540": "changes whether an endstop hit aborts a print",
    "M570": "changes the heater fault timeout",
    "M906": "changes the stepper driver current",
    "M907": "changes the stepper driver current",
    "M913": "changes the stepper drivers' hybrid threshold",
    "M914": "changes the sensorless homing sensitivity",
    "M928": "writes a log file to the SD card",
    "M997": "updates the firmware",
}
"""Refused command words, each with what it does (the second half of the refusal message)."""


def check_remote_gcode(
    lines: Sequence[str],
    *,
    allowed: frozenset[str] = frozenset(),
    max_tool_c: float,
    max_bed_c: float,
    max_chamber_c: float | None = None,
) -> list[str]:
    """One refusal message per refused line, in order; an empty list means every line may be sent.

    ``allowed`` holds command words (``"M500"``, any case) that override ``DENIED`` for this printer.
    Heater targets are checked against the limits whether or not their word is allowed.
    """
    permitted = {_normalise(word) for word in allowed}
    refusals: list[str] = []
    for line in lines:
        refusal = _check_line(line, permitted, max_tool_c, max_bed_c, max_chamber_c)
        if refusal is not None:
            refusals.append(refusal)
    return refusals


def _check_line(
    line: str, permitted: set[str], max_tool_c: float, max_bed_c: float, max_chamber_c: float | None
) -> str | None:
    body = line.rstrip("\r\n")
    if "\n" in body or "\r" in body:
        return f"Refused {line!r}: it holds a line break; send one command per line."
    parsed = parse_line(line)
    if parsed is None:
        return None
    reason = DENIED.get(parsed.word)
    if reason is not None and parsed.word not in permitted:
        return (
            f"Refused {parsed.text!r}: {parsed.word} {reason}, which is not allowed from a remote "
            "console on this printer."
        )
    return check_target(line, max_tool_c=max_tool_c, max_bed_c=max_bed_c, max_chamber_c=max_chamber_c)


def _normalise(word: str) -> str:
    """``m0500`` → ``M500``; a word that does not parse is kept upper-cased (it then matches nothing)."""
    parsed = parse_line(word)
    return parsed.word if parsed is not None else word.strip().upper()
