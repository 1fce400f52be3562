"""Host -> firmware framing: `N<n> <cmd>*<cs>` lines, checksums and G-code clean-up.

The checksum is the XOR of every byte of `N<n> <cmd>`, written in decimal, as Marlin,
Prusa-Firmware, RepRapFirmware, Repetier and Klipper's pty all expect.
"""

from __future__ import annotations

import re
from functools import reduce
from operator import xor

EMERGENCY_COMMANDS = frozenset({"M112", "M108", "M410"})


class FramingError(ValueError):
    """A command that cannot be sent as one framed line (it holds a `*`, a newline or non-ASCII)."""


def checksum(data: bytes) -> int:
    """XOR of every byte of `data` (0..255)."""
    return reduce(xor, data, 0)


def frame(line_no: int, command: str) -> bytes:
    """`N<line_no> <command>*<cs>\\n` as bytes, ready for the wire."""
    body = f"N{line_no} {command}".encode("ascii")
    return b"%s*%d\n" % (body, checksum(body))


def clean_line(raw: str) -> str:
    """One G-code source line with its comment and surrounding blanks removed ('' when nothing is left).

    `;` starts a comment (Marlin, Prusa, RRF, Klipper and every slicer agree); a `*` checksum
    already in the source is dropped since the host frames every line itself.
    """
    cut = raw.find(";")
    if cut >= 0:
        raw = raw[:cut]
    star = raw.find("*")
    if star >= 0:
        raw = raw[:star]
    return raw.strip()


def validate_command(command: str) -> str:
    """Return `command` if it can travel as one framed line, else raise FramingError."""
    if not command:
        raise FramingError("empty command")
    if "*" in command or "\n" in command or "\r" in command:
        raise FramingError(f"command {command!r} holds '*' or a line break")
    if not command.isascii():
        raise FramingError(f"command {command!r} is not ASCII")
    return command


def command_word(command: str) -> str:
    """The G/M/T word of a command, upper-cased: `g1 x10` -> `G1`, `M104 S200` -> `M104`."""
    head = command.split(maxsplit=1)[0] if command else ""
    return head.upper()


def is_emergency(command: str) -> bool:
    """True for M112 / M108 / M410, the commands an emergency parser acts on at once."""
    return command_word(command) in EMERGENCY_COMMANDS


_MOTION = re.compile(r"^G[0-3](?: +[A-Z]-?(?:\d+\.?\d*|\.\d+))+$")


def compact_motion(command: str) -> str:
    """`G1 X10.5 Y3 E.2` -> `G1X10.5Y3E.2`: every dialect reads it alike, and dense files save ~10%
    of the wire. Only plain motion lines (one letter and one number per word) are touched."""
    if _MOTION.match(command):
        return command.replace(" ", "")
    return command
