"""Firmware -> host reply lines, parsed into typed values.

One parser covers every dialect we speak (Marlin, Prusa-Firmware, RepRapFirmware, Klipper's pty,
Repetier): their spellings differ but never collide, so the flavour only changes what the link
*does* with a reply, not how it is read.

    Reply
     ├── Ok            `ok`, `ok 42`, `ok N42 P15 B3`, `ok T:210 /210 ...`, `ok FIRMWARE_NAME:Klipper ...`
     ├── Resend        `Resend: 42`, `Resend:42`, `rs 42`, `rs N42`
     ├── Busy          `echo:busy: processing`, `busy: paused for user`
     ├── Wait          `wait`
     ├── Temperatures  `T:210.0 /210.0 B:60.0 /60.0 @:64 B@:127` (auto-report or M105 on its own line)
     ├── PositionReport `X:10.00 Y:20.00 Z:0.30 E:5.00 Count X:800 ...`
     ├── FirmwareInfo  `FIRMWARE_NAME:Marlin 2.1.2 ... EXTRUDER_COUNT:1`
     ├── Capability    `Cap:AUTOREPORT_TEMP:1`
     ├── FirmwareError `Error:...`, `!! ...`, `fatal:...` (fatal=True for kill/thermal/halt messages)
     ├── Action        `//action:pause`, `//action:notification Hello`
     ├── Start         `start` (the board has just booted or reset)
     ├── UnknownCommand `echo:Unknown command: "G999"`
     └── Info          any other text (`echo:...`, `// ...`), kept for the log
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from firmware_bridge.protocol.temperatures import (
    HeaterReading,
    Position,
    looks_like_temperatures,
    parse_position,
    parse_temperatures,
)


@dataclass(frozen=True, slots=True)
class Ok:
    line_no: int | None = None
    planner_free: int | None = None
    buffer_free: int | None = None
    temperatures: dict[str, HeaterReading] = field(default_factory=dict)
    firmware: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resend:
    line_no: int


@dataclass(frozen=True, slots=True)
class Busy:
    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    pass


@dataclass(frozen=True, slots=True)
class Temperatures:
    readings: dict[str, HeaterReading]


@dataclass(frozen=True, slots=True)
class PositionReport:
    position: Position


@dataclass(frozen=True, slots=True)
class FirmwareInfo:
    fields: dict[str, str]

    @property
    def name(self) -> str:
        return self.fields.get("FIRMWARE_NAME", "")


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class FirmwareError:
    message: str
    fatal: bool
    last_line: int | None = None


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    argument: str = ""


@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class UnknownCommand:
    command: str


@dataclass(frozen=True, slots=True)
class Info:
    text: str


Reply = (
    Ok
    | Resend
    | Busy
    | Wait
    | Temperatures
    | PositionReport
    | FirmwareInfo
    | Capability
    | FirmwareError
    | Action
    | Start
    | UnknownCommand
    | Info
)

_RESEND = re.compile(r"^(?:resend|rs)\s*:?\s*N?(\d+)\s*$", re.IGNORECASE)
_ADVANCED_OK = re.compile(r"\bN(\d+)\s+P(\d+)\s+B(\d+)")
_LAST_LINE = re.compile(r"Last Line:\s*(-?\d+)", re.IGNORECASE)
_FIRMWARE_KEY = re.compile(r"\b([A-Z][A-Z_]+):\s?")
_UNKNOWN = re.compile(r"Unknown (?:command|[GM]-?code)\s*:?\s*\"?([^\"]*)\"?", re.IGNORECASE)
_FATAL = re.compile(
    r"kill\(\) called|printer halted|thermal runaway|heating failed|maxtemp|mintemp|"
    r"emergency stop|shutdown|lost communication|heater fault|not heating at expected rate|"
    r"heaters disabled",
    re.IGNORECASE,
)


def parse_firmware_fields(text: str) -> dict[str, str]:
    """`KEY:value KEY2:value with spaces` -> {KEY: value}. Marlin, RRF (`KEY: value`) and Klipper."""
    keys = list(_FIRMWARE_KEY.finditer(text))
    fields: dict[str, str] = {}
    for i, match in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(text)
        fields[match.group(1)] = text[match.end() : end].strip()
    return fields


def _parse_ok(rest: str) -> Ok:
    rest = rest.strip()
    if not rest:
        return Ok()
    advanced = _ADVANCED_OK.search(rest)
    if advanced:
        n, p, b = (int(g) for g in advanced.groups())
        return Ok(line_no=n, planner_free=p, buffer_free=b)
    if rest.isdigit():
        return Ok(line_no=int(rest))
    if "FIRMWARE_NAME" in rest:
        return Ok(firmware=parse_firmware_fields(rest))
    if looks_like_temperatures(rest):
        return Ok(temperatures=parse_temperatures(rest))
    return Ok()


def _parse_error(message: str) -> FirmwareError:
    message = message.strip()
    last = _LAST_LINE.search(message)
    return FirmwareError(
        message=message,
        fatal=bool(_FATAL.search(message)),
        last_line=int(last.group(1)) if last else None,
    )


def _parse_echo(text: str) -> Reply:
    body = text.strip()
    if body.startswith("busy:"):
        return Busy(body[5:].strip())
    unknown = _UNKNOWN.search(body)
    if unknown:
        return UnknownCommand(unknown.group(1).strip())
    return Info(body)


def parse_reply(line: str) -> Reply:
    """Parse one reply line (without its line ending). Never raises: unknown text becomes Info."""
    text = line.strip()
    if text.startswith("ok"):
        if len(text) == 2 or text[2] == " ":
            return _parse_ok(text[2:])
        if text[2] == ":":  # RRF/Smoothie `ok:` variants are rare but seen
            return _parse_ok(text[3:])
    if text.startswith("echo:"):
        return _parse_echo(text[5:])
    if text.startswith("busy:"):
        return Busy(text[5:].strip())
    if text.startswith("Error:") or text.startswith("error:"):
        return _parse_error(text[6:])
    if text.startswith("!!"):
        return _parse_error(text[2:])
    if text.startswith("fatal:"):  # Repetier
        return FirmwareError(text[6:].strip(), fatal=True)
    resend = _RESEND.match(text)
    if resend:
        return Resend(int(resend.group(1)))
    if text.startswith("//action:"):
        name, _, argument = text[9:].partition(" ")
        return Action(name.strip(), argument.strip())
    if text.startswith("//"):
        return _parse_echo(text[2:])
    if text == "start":
        return Start()
    if text == "wait":
        return Wait()
    if text.startswith("Cap:"):
        name, _, flag = text[4:].rpartition(":")
        if name:
            return Capability(name.strip(), flag.strip() == "1")
    if text.startswith("FIRMWARE_NAME"):
        return FirmwareInfo(parse_firmware_fields(text))
    if looks_like_temperatures(text):
        readings = parse_temperatures(text)
        if readings:
            return Temperatures(readings)
    if text.startswith("X:"):
        position = parse_position(text)
        if position is not None:
            return PositionReport(position)
    unknown = _UNKNOWN.search(text)
    if unknown and text.lower().startswith("unknown"):
        return UnknownCommand(unknown.group(1).strip())
    return Info(text)


_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x0c\x0e-\x1f\x7f]")
_KNOWN_PREFIXES = ("echo:", "//")
SHORTEST_REAL_TEXT = 8


def decode_reply(raw: bytes) -> Reply | None:
    """One raw reply line (no newline) as a Reply, or None when it is garbage.

    Garbage is what no firmware sends: control characters, invalid UTF-8 (RepRapFirmware writes
    `°C`, so UTF-8 is valid; a flipped high bit rarely is), or a short unrecognisable word — most
    likely a garbled `ok` or `Resend:`, which the send window must hear about.
    """
    raw = raw.rstrip(b"\r")
    if _CONTROL.search(raw) is not None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    reply = parse_reply(text)
    if isinstance(reply, Info) and len(text) < SHORTEST_REAL_TEXT and not text.startswith(_KNOWN_PREFIXES):
        return None
    return reply
