"""Real-world reply lines from each firmware flavour, and what the parser must make of them."""

from __future__ import annotations

import pytest

from firmware_bridge.flavours import KLIPPER, MARLIN, PRUSA, REPETIER, REPRAPFIRMWARE, detect_flavour
from firmware_bridge.protocol.replies import (
    Action,
    Busy,
    Capability,
    FirmwareError,
    FirmwareInfo,
    Info,
    Ok,
    PositionReport,
    Resend,
    Start,
    Temperatures,
    UnknownCommand,
    Wait,
    parse_reply,
)
from firmware_bridge.protocol.temperatures import HeaterReading, Position

H = HeaterReading

CASES = [
    # ---- Marlin 2.x ------------------------------------------------------------------------------
    ("marlin", "ok", Ok()),
    ("marlin", "ok N10 P15 B3", Ok(line_no=10, planner_free=15, buffer_free=3)),
    (
        "marlin",
        "ok T:210.00 /210.00 B:60.00 /60.00 @:127 B@:0",
        Ok(temperatures={"tool0": H(210.0, 210.0, 1.0), "bed": H(60.0, 60.0, 0.0)}),
    ),
    (
        "marlin",
        " T:24.32 /0.00 B:23.96 /0.00 @:0 B@:0",
        Temperatures({"tool0": H(24.32, 0.0, 0.0), "bed": H(23.96, 0.0, 0.0)}),
    ),
    ("marlin", " T:200.00 /210.00 B:60.00 /60.00 @:127 B@:0 W:3", None),  # M109 waiting: temps
    (
        "marlin",
        "Error:checksum mismatch, Last Line: 41",
        FirmwareError("checksum mismatch, Last Line: 41", False, 41),
    ),
    (
        "marlin",
        "Error:Line Number is not Last Line Number+1, Last Line: 41",
        FirmwareError("Line Number is not Last Line Number+1, Last Line: 41", False, 41),
    ),
    (
        "marlin",
        "Error:No Checksum with line number, Last Line: 7",
        FirmwareError("No Checksum with line number, Last Line: 7", False, 7),
    ),
    ("marlin", "Resend: 42", Resend(42)),
    ("marlin", "Resend:42", Resend(42)),
    ("marlin", "echo:busy: processing", Busy("processing")),
    ("marlin", "echo:busy: paused for user", Busy("paused for user")),
    ("marlin", 'echo:Unknown command: "G999"', UnknownCommand("G999")),
    (
        "marlin",
        "X:10.00 Y:20.00 Z:0.30 E:5.00 Count X:800 Y:1600 Z:120",
        PositionReport(Position(10, 20, 0.3, 5)),
    ),
    ("marlin", "Cap:EMERGENCY_PARSER:1", Capability("EMERGENCY_PARSER", True)),
    ("marlin", "Cap:AUTOREPORT_TEMP:0", Capability("AUTOREPORT_TEMP", False)),
    (
        "marlin",
        "Error:Thermal Runaway, system stopped! Heater_ID: 0",
        FirmwareError("Thermal Runaway, system stopped! Heater_ID: 0", True),
    ),
    ("marlin", "Error:Printer halted. kill() called!", FirmwareError("Printer halted. kill() called!", True)),
    (
        "marlin",
        "Error:MAXTEMP triggered, system stopped! Heater_ID: bed",
        FirmwareError("MAXTEMP triggered, system stopped! Heater_ID: bed", True),
    ),
    (
        "marlin",
        "Error:Heating failed, system stopped! Heater_ID: 0",
        FirmwareError("Heating failed, system stopped! Heater_ID: 0", True),
    ),
    ("marlin", "//action:pause", Action("pause")),
    ("marlin", "//action:notification Heating...", Action("notification", "Heating...")),
    ("marlin", "//action:cancel", Action("cancel")),
    ("marlin", "start", Start()),
    ("marlin", "echo:Marlin bugfix-2.1.x", Info("Marlin bugfix-2.1.x")),
    ("marlin", "wait", Wait()),
    # ---- Prusa-Firmware (MK3S) ---------------------------------------------------------------
    (
        "prusa",
        "ok T:215.1 /215.0 B:60.0 /60.0 T0:215.1 /215.0 @:41 B@:36 P:35.9 A:39.8",
        Ok(
            temperatures={
                "tool0": H(215.1, 215.0, 41 / 127),
                "bed": H(60.0, 60.0, 36 / 127),
                "probe": H(35.9),
                "ambient": H(39.8),
            }
        ),
    ),
    ("prusa", "T:208.3 E:0 W:?", Temperatures({"tool0": H(208.3)})),
    ("prusa", "echo:busy: processing", Busy("processing")),
    (
        "prusa",
        "X:0.00 Y:0.00 Z:0.15 E:0.00 Count X: 0.00 Y:0.00 Z:0.15 E:0.00",
        PositionReport(Position(0, 0, 0.15, 0)),
    ),
    ("prusa", 'echo:enqueing "M24"', Info('enqueing "M24"')),
    # ---- RepRapFirmware 3 ----------------------------------------------------------------------
    ("reprapfirmware", "rs 42", Resend(42)),
    (
        "reprapfirmware",
        "ok T:25.1 /0.0 B:24.6 /0.0",
        Ok(temperatures={"tool0": H(25.1, 0.0), "bed": H(24.6, 0.0)}),
    ),
    ("reprapfirmware", "Error: Temperature shutdown", FirmwareError("Temperature shutdown", True)),
    (
        "reprapfirmware",
        "Warning: Heater 1 appears to be faulty",
        Info("Warning: Heater 1 appears to be faulty"),
    ),
    (
        "reprapfirmware",
        "X:1.000 Y:2.000 Z:3.000 E:0.000 E0:-0.0 Count 0 0 0 Machine 0.000 0.000 0.000 Bed comp 0.000",
        PositionReport(Position(1, 2, 3, 0)),
    ),
    # ---- Klipper (virtual serial) -------------------------------------------------------------
    (
        "klipper",
        "ok B:60.0 /60.0 T0:210.0 /210.0",
        Ok(temperatures={"bed": H(60.0, 60.0), "tool0": H(210.0, 210.0)}),
    ),
    (
        "klipper",
        "B:60.0 /60.0 T0:210.0 /210.0",
        Temperatures({"bed": H(60.0, 60.0), "tool0": H(210.0, 210.0)}),
    ),
    ("klipper", "// Klipper state: Ready", Info("Klipper state: Ready")),
    (
        "klipper",
        "!! Must home axis first: 10.000 10.000 0.300 [0.000]",
        FirmwareError("Must home axis first: 10.000 10.000 0.300 [0.000]", False),
    ),
    (
        "klipper",
        "!! Shutdown due to webhooks request",
        FirmwareError("Shutdown due to webhooks request", True),
    ),
    (
        "klipper",
        "!! Lost communication with MCU 'mcu'",
        FirmwareError("Lost communication with MCU 'mcu'", True),
    ),
    ("klipper", '// Unknown command:"G999"', UnknownCommand("G999")),
    ("klipper", "X:0.000 Y:0.000 Z:0.000 E:0.000", PositionReport(Position(0, 0, 0, 0))),
    ("klipper", "rs N42", Resend(42)),
    # ---- Repetier ------------------------------------------------------------------------------
    ("repetier", "ok 42", Ok(line_no=42)),
    ("repetier", "Resend:42", Resend(42)),
    ("repetier", "wait", Wait()),
    (
        "repetier",
        "T:25.00 /0 B:25.00 /0 B@:0 @:0",
        Temperatures({"tool0": H(25.0, 0.0, 0.0), "bed": H(25.0, 0.0, 0.0)}),
    ),
    (
        "repetier",
        "fatal:Heater/sensor error - Printer stopped and heaters disabled due to this error.",
        FirmwareError("Heater/sensor error - Printer stopped and heaters disabled due to this error.", True),
    ),
    ("repetier", "skip 42", Info("skip 42")),
]


@pytest.mark.parametrize(
    ("flavour", "line", "expected"), CASES, ids=[f"{f}:{text[:40]}" for f, text, _ in CASES]
)
def test_reply_line(flavour: str, line: str, expected: object) -> None:
    parsed = parse_reply(line)
    if expected is None:
        assert isinstance(parsed, Temperatures)
    else:
        assert parsed == expected


FIRMWARE_LINES = [
    (
        "FIRMWARE_NAME:Marlin bugfix-2.1.x (Dec  3 2023 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
        "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 V2 EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff",
        MARLIN,
        {"MACHINE_TYPE": "Ender-3 V2", "EXTRUDER_COUNT": "1"},
    ),
    (
        "FIRMWARE_NAME:Prusa-Firmware 3.13.2 based on Marlin FIRMWARE_URL:https://github.com/prusa3d/Prusa-Firmware "
        "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Prusa i3 MK3S EXTRUDER_COUNT:1 UUID:00000000-0000-0000-0000-000000000000",
        PRUSA,
        {"MACHINE_TYPE": "Prusa i3 MK3S"},
    ),
    (
        "FIRMWARE_NAME: RepRapFirmware for Duet 2 WiFi/Ethernet FIRMWARE_VERSION: 3.4.5 "
        "ELECTRONICS: Duet WiFi 1.02 or later FIRMWARE_DATE: 2022-11-30 14:36:12",
        REPRAPFIRMWARE,
        {"FIRMWARE_VERSION": "3.4.5", "ELECTRONICS": "Duet WiFi 1.02 or later"},
    ),
    (
        "FIRMWARE_NAME:Repetier_1.0.4 FIRMWARE_URL:https://github.com/repetier/Repetier-Firmware/ "
        "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Mendel EXTRUDER_COUNT:1 REPETIER_PROTOCOL:3",
        REPETIER,
        {"REPETIER_PROTOCOL": "3"},
    ),
]


@pytest.mark.parametrize(("line", "flavour", "fields"), FIRMWARE_LINES)
def test_m115_firmware_line_and_flavour(line: str, flavour: object, fields: dict[str, str]) -> None:
    parsed = parse_reply(line)
    assert isinstance(parsed, FirmwareInfo)
    assert fields.items() <= parsed.fields.items()
    assert detect_flavour(parsed.name) is flavour


def test_klipper_answers_m115_on_its_ok_line() -> None:
    parsed = parse_reply("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0-85-gd785b396")
    assert isinstance(parsed, Ok)
    assert parsed.firmware == {"FIRMWARE_NAME": "Klipper", "FIRMWARE_VERSION": "v0.12.0-85-gd785b396"}
    assert detect_flavour(parsed.firmware["FIRMWARE_NAME"]) is KLIPPER


def test_multi_tool_and_chamber_report() -> None:
    parsed = parse_reply(
        "T:25.0 /0.0 B:25.0 /0.0 T0:25.0 /0.0 T1:30.0 /200.0 C:30.1 /0.0 @:0 B@:0 @0:0 @1:127"
    )
    assert isinstance(parsed, Temperatures)
    assert parsed.readings["tool1"] == H(30.0, 200.0, 1.0)
    assert parsed.readings["chamber"] == H(30.1, 0.0)


@pytest.mark.parametrize("line", ["", "   ", "okay then", "Resend: abc", "X:1 Y:2", "\x00\x01"])
def test_odd_lines_never_raise(line: str) -> None:
    parse_reply(line)
