"""Heater target limits: refuse an M104/M109/M140/M190/M141/M191 whose target this printer must not reach.

Also holds the small G-code line reader the other safety checks share (``parse_line``): a command word
and its parameters from one line as a person, a slicer or a remote client writes it — any case, with or
without spaces (``m104s200``), an optional ``N<n>`` line number, a ``*<cs>`` checksum and a ``;`` or
``( … )`` comment. Where firmwares differ it reads the line the unsafe way: a word hidden behind a
``( … )`` comment counts (Marlin built with PAREN_COMMENTS runs it) and so does every number after a
target letter, inside parentheses or after ``*`` too (Marlin's parser takes the first ``S`` it finds,
comment or not). Pure: strings in, a refusal message or None out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r"\s*(?:N\s*-?\d+\s*)?([GMT])\s*(\d+)(?:\.\d+)?")
_PARAM = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))?")
_PAREN_COMMENT = re.compile(r"\([^)]*\)")

TOOL_TARGET_CODES = frozenset({"M104", "M109"})
BED_TARGET_CODES = frozenset({"M140", "M190"})
CHAMBER_TARGET_CODES = frozenset({"M141", "M191"})
HEATER_TARGET_CODES = TOOL_TARGET_CODES | BED_TARGET_CODES | CHAMBER_TARGET_CODES
_TARGET_LETTERS = {"M104": "SRB", "M109": "SRB"}
"""Which parameters are temperatures: S (set), R (set, wait either way); B is AUTOTEMP's maximum."""


@dataclass(frozen=True, slots=True)
class GcodeLine:
    """One parsed line: ``word`` is normalised (``M104``, ``G1``, ``T0``)."""

    word: str
    params: tuple[tuple[str, float | None], ...]
    """Every (upper-case letter, value) after the word, in order, repeats included."""
    text: str
    """The line as given, stripped of surrounding whitespace (for messages)."""

    def first(self, letter: str) -> float | None:
        """The first value given for ``letter`` (None if absent or given without a number)."""
        return next((value for name, value in self.params if name == letter), None)

    def values(self, letters: str) -> list[float]:
        """Every number given for any of ``letters``."""
        return [value for name, value in self.params if name in letters and value is not None]


def parse_line(line: str) -> GcodeLine | None:
    """The command on ``line``; None for a blank or comment-only line or one without a G/M/T word.

    ``M0104`` and ``m104`` both read as ``M104``; subcodes (``M115.1``) are dropped. A parameter letter
    without a number (``M104 S``) maps to None.
    """
    text = line.strip()
    body = text.split(";", 1)[0].upper()
    uncommented = _PAREN_COMMENT.sub(" ", body)
    match = _WORD.match(uncommented)
    if match is None:
        return None
    found = _PARAM.findall(uncommented[match.end() :])
    for comment in _PAREN_COMMENT.findall(body):
        found += _PARAM.findall(comment)
    params = tuple((letter, float(value) if value else None) for letter, value in found)
    return GcodeLine(f"{match.group(1)}{int(match.group(2))}", params, text)


def check_target(
    command: str, *, max_tool_c: float, max_bed_c: float, max_chamber_c: float | None = None
) -> str | None:
    """A refusal message when ``command`` sets a heater target above its limit or below zero, else None.

    Tool targets (M104/M109: ``S``, ``R`` and AUTOTEMP's ``B``) are held to ``max_tool_c``, whatever the
    ``T`` index; bed targets (M140/M190) to ``max_bed_c``; chamber targets (M141/M191) to
    ``max_chamber_c``. With no chamber limit configured any chamber target above 0 is refused: the agent
    cannot vouch for a heater it was not told about. Every other command → None.
    """
    parsed = parse_line(command)
    if parsed is None or parsed.word not in HEATER_TARGET_CODES:
        return None
    word = parsed.word
    if word in TOOL_TARGET_CODES:
        tool = parsed.first("T")
        heater = f"tool{int(tool)}" if tool is not None and tool >= 0 else "the hotend"
        limit_c: float | None = max_tool_c
        kind = "hotend"
    elif word in BED_TARGET_CODES:
        heater, limit_c, kind = "the bed", max_bed_c, "bed"
    else:
        heater, limit_c, kind = "the chamber", max_chamber_c, "chamber"
    for target_c in parsed.values(_TARGET_LETTERS.get(word, "SR")):
        refusal = _refusal(parsed.text, heater, kind, target_c, limit_c)
        if refusal is not None:
            return refusal
    return None


def _refusal(text: str, heater: str, kind: str, target_c: float, limit_c: float | None) -> str | None:
    if not math.isfinite(target_c) or target_c < 0:
        return f"Refused {text!r}: {_fmt(target_c)} °C is not a temperature {heater} can be set to."
    if limit_c is None:
        if target_c > 0:
            return (
                f"Refused {text!r}: no chamber temperature limit is configured for this printer, "
                "so the agent does not heat the chamber."
            )
        return None
    if target_c > limit_c:
        return (
            f"Refused {text!r}: {_fmt(target_c)} °C for {heater} is above this printer's "
            f"{kind} limit of {_fmt(limit_c)} °C."
        )
    return None


def _fmt(value_c: float) -> str:
    """``210`` for whole degrees, ``210.5`` otherwise."""
    return f"{value_c:.1f}".removesuffix(".0")


_HEATER_LINE = re.compile(rb"^\s*(?:N\d+\s+)?M1(?:04|09|40|41|90|91)(?!\d)", re.IGNORECASE)


def check_file_targets(
    path: Path, *, max_tool_c: float, max_bed_c: float, max_chamber_c: float | None = None
) -> str | None:
    """The first heater target in a G-code file that breaks the limits (its refusal, with the line
    number), or None. Reads the file once; only heater lines are parsed (cheap on 100 MB files)."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not _HEATER_LINE.match(raw):
                continue
            refusal = check_target(
                raw.decode("ascii", "replace"),
                max_tool_c=max_tool_c,
                max_bed_c=max_bed_c,
                max_chamber_c=max_chamber_c,
            )
            if refusal is not None:
                return f"line {number}: {refusal}"
    return None
