"""Marlin's line framing checks (``GCodeQueue::get_serial_commands``), as a pure function.

A received line is ``N<n> <cmd>*<cs>`` (numbered, checksummed) or a bare command. The line number is checked
before the checksum, exactly as Marlin does, so a flipped digit in ``N`` reads as a line-number error.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from firmware_bridge.protocol.framing import checksum

_LEADING_INT = re.compile(rb"\s*([-+]?\d+)")


class LineError(enum.Enum):
    CHECKSUM = "checksum mismatch"
    LINE_NUMBER = "Line Number is not Last Line Number+1"
    NO_CHECKSUM = "No Checksum with line number"
    NO_LINE_NUMBER = "No Line Number with checksum"


@dataclass(frozen=True, slots=True)
class Accepted:
    command: str
    """The G-code between the line number and the ``*``, stripped."""
    line_number: int | None
    last_n: int
    """The firmware's last line number once this line is accepted."""


@dataclass(frozen=True, slots=True)
class Rejected:
    error: LineError


def _strtol(data: bytes) -> int:
    """C ``strtol(p, nullptr, 10)``: leading digits, 0 when there are none."""
    match = _LEADING_INT.match(data)
    return int(match.group(1)) if match else 0


def strip_line(raw: bytes) -> bytes:
    """What Marlin keeps of a received line: comments after ``;`` dropped, surrounding whitespace trimmed."""
    semicolon = raw.find(b";")
    if semicolon >= 0:
        raw = raw[:semicolon]
    return raw.strip()


def check_line(line: bytes, last_n: int) -> Accepted | Rejected:
    """Validate one stripped, non-empty line against the firmware's ``last_n``."""
    star = line.rfind(b"*")
    if line[:1] != b"N":
        if star >= 0:
            return Rejected(LineError.NO_LINE_NUMBER)
        return Accepted(line.decode("latin-1"), None, last_n)
    number_pos = 0
    is_m110 = b"M110" in line
    if is_m110:
        second_n = line.find(b"N", 4)
        if second_n >= 0:
            number_pos = second_n
    line_number = _strtol(line[number_pos + 1 :])
    if line_number != last_n + 1 and not is_m110:
        return Rejected(LineError.LINE_NUMBER)
    if star < 0:
        return Rejected(LineError.NO_CHECKSUM)
    if _strtol(line[star + 1 :]) != checksum(line[:star]):
        return Rejected(LineError.CHECKSUM)
    body = line[1:star]
    digits = _LEADING_INT.match(body)
    own_number = int(digits.group(1)) if digits else 0
    command = body[digits.end() if digits else 0 :].strip()
    return Accepted(command.decode("latin-1"), own_number, line_number)
