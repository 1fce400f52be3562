"""G-code handlers of the virtual Marlin: each takes the core and one parsed command, returns what follows.

``Reply.OK`` → the core sends ``ok``; ``Reply.DONE`` → the handler answered itself (M105's ``ok T:…``)
or there is nothing to answer (kill); a ``Waiter`` → ``ok`` comes once it is done.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from firmware_bridge.virtual.motion import STEPS_PER_MM, Params
from firmware_bridge.virtual.waits import HeatWait, PlannerSlot, Until, UserWait, Waiter

if TYPE_CHECKING:
    from firmware_bridge.virtual.marlin import MarlinCore

HOMING_S = 0.2
_CODE = re.compile(r"\s*([GMTgmt])\s*(\d+)(?:\.\d+)?")
_PARAM = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))?")
UUID = "cede2a2f-41a2-4748-9b12-c55c62f367ff"


class Reply(enum.Enum):
    OK = "ok"
    DONE = "done"


Outcome = Reply | Waiter


@dataclass(frozen=True, slots=True)
class Command:
    code: str
    """``G1``, ``M105``, ``T0`` … (leading zeros and subcodes dropped)."""
    rest: str
    """Everything after the code, as sent (M117/M118 text)."""
    text: str
    line_number: int | None

    @property
    def params(self) -> Params:
        return {
            letter: float(value) if value else None for letter, value in _PARAM.findall(self.rest.upper())
        }


Handler = Callable[["MarlinCore", Command], Outcome]


def execute(core: MarlinCore, text: str, line_number: int | None = None) -> Outcome:
    match = _CODE.match(text)
    handler = _HANDLERS.get(f"{match.group(1).upper()}{int(match.group(2))}") if match else None
    if match is None or handler is None:
        core.stats.unknown_commands += 1
        core.emit(f'echo:Unknown command: "{text}"')
        return Reply.OK
    command = Command(
        f"{match.group(1).upper()}{int(match.group(2))}", text[match.end() :], text, line_number
    )
    return handler(core, command)


def _value(params: Params, letter: str, default: float) -> float:
    value = params.get(letter)
    return default if value is None else value


# --- motion ----------------------------------------------------------------------------------------


def _move(core: MarlinCore, cmd: Command) -> Outcome:
    arc = 2 if cmd.code == "G2" else 3 if cmd.code == "G3" else 0
    duration_s = core.motion.move(cmd.params, arc) * core.config.move_time_scale
    core.stats.moves_executed += 1
    slot = PlannerSlot(duration_s)
    return Reply.OK if slot.poll(core, core.now_s) else slot


def _dwell(core: MarlinCore, cmd: Command) -> Outcome:
    params = cmd.params
    dwell_s = _value(params, "P", 0.0) / 1000.0 + _value(params, "S", 0.0)
    return Until(core.planner.drained_s(core.now_s) + dwell_s)


def _home(core: MarlinCore, cmd: Command) -> Outcome:
    core.motion.home(cmd.params)
    return Until(core.planner.drained_s(core.now_s) + HOMING_S)


def _sync(core: MarlinCore, cmd: Command) -> Outcome:
    drained_s = core.planner.drained_s(core.now_s)
    return Reply.OK if drained_s <= core.now_s else Until(drained_s)


def _set_position(core: MarlinCore, cmd: Command) -> Outcome:
    core.motion.set_position(cmd.params)
    return Reply.OK


def _modes(core: MarlinCore, cmd: Command) -> Outcome:
    motion = core.motion
    if cmd.code in ("G90", "G91"):
        motion.absolute_xyz = motion.absolute_e = cmd.code == "G90"
    elif cmd.code in ("M82", "M83"):
        motion.absolute_e = cmd.code == "M82"
    else:
        motion.inches = cmd.code == "G20"
    return Reply.OK


def _quickstop(core: MarlinCore, cmd: Command) -> Outcome:
    core.planner.clear()
    return Reply.OK


def _report_position(core: MarlinCore, cmd: Command) -> Outcome:
    core.emit(core.motion.report())
    return Reply.OK


def _feed_pct(core: MarlinCore, cmd: Command) -> Outcome:
    value = cmd.params.get("S")
    if value is None:
        core.emit(f"echo:FR:{core.motion.feed_pct:.0f}%")
    else:
        core.motion.feed_pct = max(1.0, value)
    return Reply.OK


def _flow_pct(core: MarlinCore, cmd: Command) -> Outcome:
    value = cmd.params.get("S")
    if value is None:
        core.emit(f"echo:E{core.active_tool} Flow: {core.motion.flow_pct:.0f}%")
    else:
        core.motion.flow_pct = max(1.0, value)
    return Reply.OK


# --- temperature -----------------------------------------------------------------------------------


def _tool_heater_target(core: MarlinCore, cmd: Command) -> Outcome:
    params = cmd.params
    tool = int(_value(params, "T", core.active_tool))
    if not 0 <= tool < len(core.thermal.tools):
        core.emit(f"echo:{cmd.code} Invalid extruder {tool}")
        return Reply.OK
    heater = core.thermal.tools[tool]
    target = params.get("S", params.get("R"))
    if target is not None:
        heater.target_c = max(0.0, target)
    if cmd.code == "M104":
        return Reply.OK
    return HeatWait(heater, allow_cooling="R" in params and "S" not in params)


def _bed_target(core: MarlinCore, cmd: Command) -> Outcome:
    params = cmd.params
    target = params.get("S", params.get("R"))
    if target is not None:
        core.thermal.bed.target_c = max(0.0, target)
    if cmd.code == "M140":
        return Reply.OK
    return HeatWait(core.thermal.bed, allow_cooling="R" in params and "S" not in params)


def _report_temps(core: MarlinCore, cmd: Command) -> Outcome:
    core.emit(f"ok {core.thermal.report(core.active_tool)}")
    return Reply.DONE


def _auto_temps(core: MarlinCore, cmd: Command) -> Outcome:
    if not core.config.autoreport_temp:  # a board built without AUTO_REPORT_TEMPERATURES
        core.stats.unknown_commands += 1
        core.emit(f'echo:Unknown command: "{cmd.text}"')
        return Reply.OK
    core.set_temp_report(_value(cmd.params, "S", 0.0))
    return Reply.OK


def _auto_position(core: MarlinCore, cmd: Command) -> Outcome:
    core.set_pos_report(_value(cmd.params, "S", 0.0))
    return Reply.OK


def _fan(core: MarlinCore, cmd: Command) -> Outcome:
    core.fan_pwm = 0 if cmd.code == "M107" else int(min(255.0, max(0.0, _value(cmd.params, "S", 255.0))))
    return Reply.OK


def _select_tool(core: MarlinCore, cmd: Command) -> Outcome:
    tool = int(cmd.code[1:])
    if tool >= len(core.thermal.tools):
        core.emit(f"echo:T{tool} Invalid extruder")
    else:
        core.active_tool = tool
    return Reply.OK


# --- host interaction ------------------------------------------------------------------------------


def _kill(core: MarlinCore, cmd: Command) -> Outcome:
    core.kill()
    return Reply.DONE


def _break_wait(core: MarlinCore, cmd: Command) -> Outcome:
    core.wait_broken = True
    return Reply.OK


def _pause_for_user(core: MarlinCore, cmd: Command) -> Outcome:
    params = cmd.params
    timeout_s = _value(params, "P", 0.0) / 1000.0 + _value(params, "S", 0.0)
    start_s = core.planner.drained_s(core.now_s)
    return UserWait(start_s + timeout_s if timeout_s > 0 else float("inf"))


def _busy_interval(core: MarlinCore, cmd: Command) -> Outcome:
    value = cmd.params.get("S")
    if value is None:
        core.emit(f"echo:M113 S{core.busy_interval_s:g}")
    else:
        core.busy_interval_s = max(0.0, min(60.0, value))
    return Reply.OK


def _line_number(core: MarlinCore, cmd: Command) -> Outcome:
    value = cmd.params.get("N")
    if value is not None:
        core.set_line_number(int(value), numbered=cmd.line_number is not None)
    return Reply.OK


def _message(core: MarlinCore, cmd: Command) -> Outcome:
    return Reply.OK


def _echo(core: MarlinCore, cmd: Command) -> Outcome:
    text = cmd.rest.strip()
    prefix = ""
    while len(text) >= 2 and text[0] in "EAP" and text[1] in "0123456789":
        if text[:2] == "E1":
            prefix = "echo:"
        elif text[:2] == "A1":
            prefix = "//"
        text = text[2:].lstrip()
    core.emit(prefix + text)
    return Reply.OK


def _firmware_info(core: MarlinCore, cmd: Command) -> Outcome:
    from firmware_bridge.virtual.marlin import FIRMWARE_VERSION  # noqa: PLC0415 - cycle

    cfg = core.config
    core.emit(
        f"FIRMWARE_NAME:Marlin {FIRMWARE_VERSION} (3D Pot virtual) "
        "SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 "
        f"MACHINE_TYPE:3D Pot Virtual EXTRUDER_COUNT:{cfg.tools} UUID:{UUID}"
    )
    caps = {
        "SERIAL_XON_XOFF": 0,
        "BINARY_FILE_TRANSFER": 0,
        "EEPROM": 1,
        "VOLUMETRIC": 1,
        "AUTOREPORT_POS": 1,
        "AUTOREPORT_TEMP": int(cfg.autoreport_temp),
        "PROGRESS": 0,
        "PRINT_JOB": 1,
        "AUTOLEVEL": 0,
        "RUNOUT": 0,
        "Z_PROBE": 0,
        "LEVELING_DATA": 0,
        "BUILD_PERCENT": 0,
        "SOFTWARE_POWER": 0,
        "TOGGLE_LIGHTS": 0,
        "CASE_LIGHT_BRIGHTNESS": 0,
        "EMERGENCY_PARSER": int(cfg.emergency_parser),
        "HOST_ACTION_COMMANDS": 1,
        "PROMPT_SUPPORT": 0,
        "SDCARD": 0,
        "REPEAT": 0,
        "SD_WRITE": 0,
        "AUTOREPORT_SD_STATUS": 0,
        "LONG_FILENAME": 0,
        "THERMAL_PROTECTION": 1,
        "MOTION_MODES": 0,
        "ARCS": 1,
        "BABYSTEPPING": 0,
        "CHAMBER_TEMPERATURE": 0,
        "COOLER_TEMPERATURE": 0,
        "MEATPACK": 0,
        "CONFIG_EXPORT": 0,
        "EXTENDED_M20": 0,
        "ADVANCED_OK": int(cfg.advanced_ok),
    }
    for name, value in caps.items():
        core.emit(f"Cap:{name}:{value}")
    return Reply.OK


def _report_settings(core: MarlinCore, cmd: Command) -> Outcome:
    steps = " ".join(f"{axis}{value:.2f}" for axis, value in STEPS_PER_MM.items())
    for line in (
        "echo:; Linear Units:",
        "echo:  G21 ; (mm)",
        "echo:; Temperature Units:",
        "echo:  M149 C ; Units in Celsius",
        "echo:; Steps per unit:",
        f"echo:  M92 {steps}",
        "echo:; Max feedrates (units/s):",
        "echo:  M203 X300.00 Y300.00 Z5.00 E25.00",
    ):
        core.emit(line)
    return Reply.OK


def _store_settings(core: MarlinCore, cmd: Command) -> Outcome:
    core.emit("echo:Settings Stored (614 bytes; crc 31004)")
    return Reply.OK


_HANDLERS: dict[str, Handler] = {
    "G0": _move,
    "G1": _move,
    "G2": _move,
    "G3": _move,
    "G4": _dwell,
    "G20": _modes,
    "G21": _modes,
    "G28": _home,
    "G90": _modes,
    "G91": _modes,
    "G92": _set_position,
    "M0": _pause_for_user,
    "M1": _pause_for_user,
    "M18": _message,
    "M84": _message,
    "M82": _modes,
    "M83": _modes,
    "M104": _tool_heater_target,
    "M105": _report_temps,
    "M106": _fan,
    "M107": _fan,
    "M108": _break_wait,
    "M109": _tool_heater_target,
    "M110": _line_number,
    "M112": _kill,
    "M113": _busy_interval,
    "M114": _report_position,
    "M115": _firmware_info,
    "M117": _message,
    "M118": _echo,
    "M140": _bed_target,
    "M154": _auto_position,
    "M155": _auto_temps,
    "M190": _bed_target,
    "M220": _feed_pct,
    "M221": _flow_pct,
    "M400": _sync,
    "M410": _quickstop,
    "M500": _store_settings,
    "M503": _report_settings,
    "T0": _select_tool,
    "T1": _select_tool,
}
