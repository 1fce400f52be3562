"""The virtual Marlin's pure core, driven by hand: bytes in at given times, reply lines out."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from firmware_bridge.protocol.framing import checksum, frame
from firmware_bridge.virtual.config import VirtualPrinterConfig
from firmware_bridge.virtual.framing import Accepted, LineError, Rejected, check_line
from firmware_bridge.virtual.marlin import MarlinCore, emergency_code
from firmware_bridge.virtual.wire import InboundWire, LineCorruptor, OutboundWire

BASE = VirtualPrinterConfig(baud=0)


def lines_of(core: MarlinCore) -> list[str]:
    return [line.decode("latin-1").rstrip("\n") for _, line in core.take_output()]


def send(core: MarlinCore, *lines: str | bytes, at_s: float | None = None) -> list[str]:
    """Feed whole lines (str: sent as-is + newline; bytes: raw) and return the replies they caused."""
    now = core.now_s if at_s is None else at_s
    for line in lines:
        data = line if isinstance(line, bytes) else line.encode() + b"\n"
        core.receive(data, now)
    return lines_of(core)


def run_until(core: MarlinCore, until_s: float) -> list[tuple[float, str]]:
    """Advance through every firmware event up to ``until_s``; replies with their emission times."""
    while core.next_event_s() <= until_s:
        core.advance(core.next_event_s())
    core.advance(until_s)
    return [(t, line.decode().rstrip("\n")) for t, line in core.take_output()]


def numbered(n: int, command: str) -> bytes:
    return frame(n, command)


# --- framing ---------------------------------------------------------------------------------------


def _cs(body: bytes) -> bytes:
    return body + b"*" + str(checksum(body)).encode()


@pytest.mark.parametrize(
    ("line", "last_n", "expected"),
    [
        (_cs(b"N1 G1 X1"), 0, Accepted("G1 X1", 1, 1)),
        (_cs(b"N1 G1 X1") + b" trailing", 0, Accepted("G1 X1", 1, 1)),
        (b"N1 G1 X1*0", 0, Rejected(LineError.CHECKSUM)),
        (_cs(b"N3 G1 X1"), 0, Rejected(LineError.LINE_NUMBER)),
        (_cs(b"N1 G1 X1"), 1, Rejected(LineError.LINE_NUMBER)),
        (b"N1 G1 X1", 0, Rejected(LineError.NO_CHECKSUM)),
        (b"N9 G1 X1", 0, Rejected(LineError.LINE_NUMBER)),  # line number is checked first, as in Marlin
        (_cs(b"G1 X1"), 0, Rejected(LineError.NO_LINE_NUMBER)),
        (b"G1 X1", 17, Accepted("G1 X1", None, 17)),
        (_cs(b"N7 M110 N0"), 41, Accepted("M110 N0", 7, 0)),
        (_cs(b"N42 M110"), 41, Accepted("M110", 42, 42)),
        (_cs(b"N0 M110 N0"), 0, Accepted("M110 N0", 0, 0)),
    ],
)
def test_check_line(line: bytes, last_n: int, expected: Accepted | Rejected) -> None:
    assert check_line(line, last_n) == expected


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"M112", b"M112"),
        (b"  M108 ", b"M108"),
        (b"N12 M410*33", b"M410"),
        (b"M1120", None),
        (b"G1 M112", None),
        (b"M105", None),
    ],
)
def test_emergency_code(line: bytes, code: bytes | None) -> None:
    assert emergency_code(line) == code


# --- replies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "sent", "expected"),
    [
        ({}, ["M105"], ["ok T:22.00 /0.00 B:22.00 /0.00 @:0 B@:0"]),
        (
            {"tools": 2},
            ["M105"],
            ["ok T:22.00 /0.00 B:22.00 /0.00 T0:22.00 /0.00 T1:22.00 /0.00 @:0 B@:0 @0:0 @1:0"],
        ),
        (
            {},
            ["G1 X10 Y20 Z0.3 E5 F3000", "M114"],
            ["ok", "X:10.00 Y:20.00 Z:0.30 E:5.00 Count X:800 Y:1600 Z:120", "ok"],
        ),
        (
            {},
            ["G91", "G1 X1", "G1 X1", "M114"],
            ["ok"] * 3 + ["X:2.00 Y:0.00 Z:0.00 E:0.00 Count X:160 Y:0 Z:0", "ok"],
        ),
        (
            {},
            ["M83", "G1 E1", "G1 E1", "G92 E0", "G1 X2", "M114"],
            ["ok"] * 5 + ["X:2.00 Y:0.00 Z:0.00 E:0.00 Count X:160 Y:0 Z:0", "ok"],
        ),
        (
            {},
            ["G20", "G1 X1", "M114"],
            ["ok", "ok", "X:25.40 Y:0.00 Z:0.00 E:0.00 Count X:2032 Y:0 Z:0", "ok"],
        ),
        ({}, ["G999 X1"], ['echo:Unknown command: "G999 X1"', "ok"]),
        ({}, ["hello"], ['echo:Unknown command: "hello"', "ok"]),
        (
            {},
            ["M118 E1 hello there", "M118 A1 action:pause"],
            ["echo:hello there", "ok", "//action:pause", "ok"],
        ),
        ({}, [numbered(1, "G1 X1")], ["ok"]),
        (
            {},
            [b"N1 G1 X1*7\n"],
            ["Error:checksum mismatch, Last Line: 0", "Resend: 1", "ok"],
        ),
        (
            {},
            [numbered(2, "G1 X1")],
            ["Error:Line Number is not Last Line Number+1, Last Line: 0", "Resend: 1", "ok"],
        ),
        ({}, [b"N1 G1 X1\n"], ["Error:No Checksum with line number, Last Line: 0", "Resend: 1", "ok"]),
        (
            {},
            [_cs(b"G1 X1") + b"\n"],
            ["Error:No Line Number with checksum, Last Line: 0", "Resend: 1", "ok"],
        ),
        ({}, [numbered(0, "M110 N40"), numbered(41, "G1 X1")], ["ok", "ok"]),
        ({}, ["M110 N40", numbered(41, "G1 X1")], ["ok", "ok"]),
        ({"advanced_ok": True}, [numbered(1, "G1 X1"), "M400"], ["ok N1 P16 B3", "ok P16 B3"]),
        ({}, ["", "   ", "; just a comment"], []),
        ({}, ["M113", "M113 S5", "M113"], ["echo:M113 S2", "ok", "ok", "echo:M113 S5", "ok"]),
        (
            {},
            ["M106 S128", "M107", "M220", "M220 S150", "M220"],
            ["ok", "ok", "echo:FR:100%", "ok", "ok", "echo:FR:150%", "ok"],
        ),
    ],
)
def test_replies(settings: dict[str, object], sent: list[str | bytes], expected: list[str]) -> None:
    core = MarlinCore(replace(BASE, **settings))  # type: ignore[arg-type]
    assert send(core, *sent) == expected


@pytest.mark.parametrize(("emergency_parser", "advanced_ok"), [(True, False), (False, True)])
def test_m115(emergency_parser: bool, advanced_ok: bool) -> None:
    core = MarlinCore(replace(BASE, emergency_parser=emergency_parser, advanced_ok=advanced_ok))
    out = send(core, "M115")
    assert out[0].startswith("FIRMWARE_NAME:Marlin 2.1.2.1 (3D Pot virtual) SOURCE_CODE_URL:")
    assert "EXTRUDER_COUNT:1 UUID:" in out[0]
    assert f"Cap:EMERGENCY_PARSER:{int(emergency_parser)}" in out
    assert f"Cap:ADVANCED_OK:{int(advanced_ok)}" in out
    assert {"Cap:AUTOREPORT_TEMP:1", "Cap:AUTOREPORT_POS:1", "Cap:HOST_ACTION_COMMANDS:1"} <= set(out)
    assert out[-1].startswith("ok")
    assert all(line.startswith("Cap:") for line in out[1:-1])


# --- buffers, errors and ordering -----------------------------------------------------------------


def heating_core(**settings: object) -> MarlinCore:
    """A core whose first command (M109 S200, line 1) blocks the command buffer."""
    core = MarlinCore(replace(BASE, **settings))  # type: ignore[arg-type]
    assert send(core, numbered(1, "M109 S200")) == []
    return core


def test_line_error_overtakes_queued_oks_and_flushes_rx() -> None:
    core = heating_core()
    assert send(core, numbered(2, "G1 X1"), numbered(3, "G1 X2")) == []
    assert core.stats.lines_received_ok == 3
    # A bad line while earlier ones wait: answered at once; what followed it in RX is thrown away.
    out = send(core, b"N4 G1 X3*1\n" + numbered(5, "G1 X4"))
    assert out == ["Error:checksum mismatch, Last Line: 3", "Resend: 4", "ok"]
    assert core.stats.rx_flushed_bytes == len(numbered(5, "G1 X4"))
    assert core.stats.resend_requests == 1
    assert core.last_n == 3


def test_rx_overflow_drops_bytes_while_command_buffer_full() -> None:
    core = heating_core(rx_buffer_bytes=128, bufsize=4)
    queued = b"".join(numbered(n, "G1 X1") for n in (2, 3, 4))
    send(core, queued)
    assert len(core.commands) == 3
    flood = b"".join(numbered(n, f"G1 X{n}.123 Y{n}.456") for n in range(5, 25))
    send(core, flood)
    assert len(core.rx) == 128
    assert core.stats.rx_overflow_bytes == len(flood) - 128


def test_emergency_parser_kills_while_m109_blocks() -> None:
    core = heating_core(rx_buffer_bytes=16)
    send(core, numbered(2, "G1 X1"), numbered(3, "G1 X1"), numbered(4, "G1 X1"))
    send(core, b"G1 X123456789 Y123456789\n")  # RX (16 B) is full now
    out = send(core, b"M112\n")
    assert out == ["Error:Printer halted. kill() called!"]
    assert core.killed
    assert core.thermal.tools[0].target_c == 0.0
    assert send(core, "M105") == []
    assert run_until(core, 10.0) == []


def test_without_emergency_parser_m112_waits_in_line() -> None:
    core = heating_core(emergency_parser=False)
    assert send(core, "M112") == []
    assert not core.killed
    out = run_until(core, 30.0)
    assert core.killed
    assert out[-1][1] == "Error:Printer halted. kill() called!"


def test_m108_breaks_heating_wait() -> None:
    core = heating_core()
    # M109's ok (the wait is broken on arrival), then M108's own ok once it runs from the queue.
    assert send(core, "M108", at_s=0.5) == ["ok", "ok"]
    assert core.current is None
    assert core.thermal.tools[0].temp_c < 190.0


def test_heating_wait_reports_and_busy_then_ok() -> None:
    core = MarlinCore(BASE)
    assert send(core, "M109 S280", at_s=0.0) == []  # 22 → 280 °C takes about 3 s with tau = 2 s
    out = run_until(core, 30.0)
    temps = [(t, line) for t, line in out if line.startswith("T:")]
    busy = [t for t, line in out if line == "echo:busy: processing"]
    assert all(line.endswith(" W:?") for _, line in temps)
    assert [round(t, 6) for t, _ in temps] == [1.0, 2.0, 3.0]
    assert busy == [2.0]
    assert out[-1][1] == "ok" and 3.0 < out[-1][0] < 3.5
    assert abs(core.thermal.tools[0].temp_c - 280.0) < 1.0


def test_busy_messages_follow_m113_interval() -> None:
    core = MarlinCore(BASE)
    send(core, "M113 S1", "M0")
    out = run_until(core, 3.5)
    assert out == [
        (1.0, "echo:busy: paused for user"),
        (2.0, "echo:busy: paused for user"),
        (3.0, "echo:busy: paused for user"),
    ]
    assert send(core, b"M108\n", at_s=3.6) == ["ok", "ok"]


def test_planner_full_blocks_until_a_block_finishes() -> None:
    core = MarlinCore(replace(BASE, planner_blocks=2, move_time_scale=1.0))
    # 60 mm at 3600 mm/min = 1 s each.
    assert send(core, "G1 X60 F3600", "G1 X120", "G1 X180", at_s=0.0) == ["ok", "ok"]
    assert run_until(core, 2.0)[0] == (1.0, "ok")
    assert send(core, "M400", at_s=2.0) == []
    assert run_until(core, 5.0) == [(3.0, "ok")]
    assert core.stats.moves_executed == 3


def test_dwell_and_home_take_time() -> None:
    core = MarlinCore(BASE)
    assert send(core, "G4 P500", "G28", at_s=0.0) == []
    assert run_until(core, 2.0) == [(0.5, "ok"), (0.7, "ok")]


def test_autoreport_temperatures_and_position() -> None:
    core = MarlinCore(BASE)
    send(core, "M155 S1", "M154 S2", at_s=0.0)
    out = run_until(core, 2.5)
    assert [t for t, _ in out] == [1.0, 2.0, 2.0]
    assert out[0][1] == "T:22.00 /0.00 B:22.00 /0.00 @:0 B@:0"
    assert out[2][1].startswith("X:0.00 Y:0.00")


def test_runaway_kills_and_reset_recovers() -> None:
    core = MarlinCore(BASE)
    send(core, numbered(1, "G1 X5"), "M104 S200")
    core.inject_runaway("tool0", 1.0)
    assert lines_of(core) == [
        "Error:Thermal Runaway, system stopped! Heater_ID: 0",
        "Error:Printer halted. kill() called!",
    ]
    assert core.killed and core.stats_dict()["killed"] is True
    core.reset(2.0)
    out = lines_of(core)
    assert out[0] == "start" and out[1] == "echo:Marlin 2.1.2.1"
    assert not core.killed and core.last_n == 0 and core.motion.position["X"] == 0.0
    assert send(core, numbered(1, "G1 X1")) == ["ok"]


def test_bed_runaway_names_the_bed() -> None:
    core = MarlinCore(BASE)
    core.inject_runaway("bed", 0.0)
    assert lines_of(core)[0] == "Error:Thermal Runaway, system stopped! Heater_ID: bed"


def at_210(**settings: object) -> MarlinCore:
    """A core whose hotend has settled at 210 °C (t = 20 s)."""
    core = MarlinCore(replace(BASE, **settings))  # type: ignore[arg-type]
    send(core, "M104 S210", at_s=0.0)
    run_until(core, 20.0)
    assert abs(core.thermal.tools[0].temp_c - 210.0) < 0.1
    return core


def test_stuck_on_heater_climbs_past_its_target_unnoticed() -> None:
    core = at_210()
    core.inject_heater_fault("tool0", "stuck_on", 20.0)
    assert core.stats_dict()["fault_injected_s"] == 20.0
    # Full heat drives the hotend towards ambient + 330 °C: 352 - 142·e^(-t/2) from 210 °C (tau 2 s),
    # past 225 °C after 0.22 s, 266 °C after 1 s, 300 °C after 2 s.
    run_until(core, 20.3)
    assert core.thermal.tools[0].temp_c > 225.0
    report = send(core, "M105", at_s=21.0)
    assert report[0].startswith("ok T:265.8") and report[0].endswith("@:0 B@:0")  # firmware thinks it is off
    send(core, "M104 S0", at_s=21.0)
    run_until(core, 22.0)
    assert core.thermal.tools[0].temp_c > 295.0
    assert not core.killed  # the firmware does not catch it: that is the host's job
    assert core.stats_dict()["temps"]["tool0"]["fault"] == "stuck_on"  # type: ignore[index]


def test_open_heater_cools_while_the_firmware_drives_it() -> None:
    core = at_210()
    core.inject_heater_fault("tool0", "open", 20.0)
    run_until(core, 22.0)
    assert core.thermal.tools[0].temp_c < 100.0
    assert send(core, "M105")[0].endswith("@:127 B@:0")  # full power, no heat
    run_until(core, 40.0)
    assert core.thermal.tools[0].temp_c < 23.0 and not core.killed


def test_bed_fault_and_clearing_it() -> None:
    core = MarlinCore(BASE)
    core.inject_heater_fault("bed", "stuck_on", 0.0)
    run_until(core, 2.0)
    assert core.thermal.bed.temp_c > 80.0
    core.inject_heater_fault("bed", None, 2.0)
    run_until(core, 10.0)
    assert core.thermal.bed.temp_c < 30.0


@pytest.mark.parametrize(
    ("heater", "mode", "error"), [("tool1", "open", KeyError), ("tool0", "melted", ValueError)]
)
def test_heater_fault_rejects_unknown_heater_or_mode(heater: str, mode: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        MarlinCore(BASE).inject_heater_fault(heater, mode, 0.0)


def test_m112_is_recorded_and_cuts_even_a_stuck_heater() -> None:
    core = at_210()
    assert core.stats_dict()["m112_received_s"] is None
    core.inject_heater_fault("tool0", "stuck_on", 20.0)
    assert send(core, "M112", at_s=21.5) == ["Error:Printer halted. kill() called!"]
    stats = core.stats_dict()
    assert stats["killed"] is True and stats["m112_received_s"] == 21.5 and stats["fault_injected_s"] == 20.0
    hot_c = core.thermal.tools[0].temp_c
    assert all(h.target_c == 0.0 and h.heat == 0.0 for h in core.thermal.heaters)
    core.advance(30.0)
    assert core.thermal.tools[0].temp_c < hot_c - 100.0  # the board cut the heaters' supply
    core.reset(31.0)  # a new board: fault gone, the record of it kept
    assert core.thermal.tools[0].fault is None
    assert core.stats_dict()["m112_received_s"] == 21.5


def test_queued_m112_is_recorded_when_it_runs() -> None:
    core = heating_core(emergency_parser=False)
    assert send(core, "m112", at_s=0.5) == []
    assert core.m112_received_s is None  # waits behind M109
    run_until(core, 5.0)
    assert core.killed and core.m112_received_s is not None and 1.0 < core.m112_received_s < 5.0


def test_duplicates_count_lines_run_twice() -> None:
    core = MarlinCore(replace(BASE, record_executed=True))
    send(core, numbered(0, "M110 N0"), numbered(1, "G1 X1"), numbered(2, "G1 X2"))
    send(core, numbered(3, "M110 N1"), numbered(2, "G1 X2"))  # host jumps back: line 2 runs again
    assert core.stats.duplicates == 1
    assert core.executed == [(1, "G1 X1"), (2, "G1 X2"), (2, "G1 X2")]
    send(core, numbered(0, "M110 N0"), numbered(1, "G1 X1"))  # a new job starts over: not a duplicate
    assert core.stats.duplicates == 1


def test_bed_wait_with_r_cools_down() -> None:
    core = MarlinCore(BASE)
    core.thermal.bed.temp_c = 90.0
    send(core, "M190 R60", at_s=0.0)
    out = run_until(core, 30.0)
    assert out[-1][1] == "ok"
    assert abs(core.thermal.bed.temp_c - 60.0) < 2.0


# --- the wire --------------------------------------------------------------------------------------


def test_inbound_wire_spaces_bytes_by_baud() -> None:
    wire = InboundWire(byte_time_s=10 / 250_000)
    line = b"N1 G1 X10.000 Y20.000*99\n"  # 25 bytes = 1 ms
    wire.push(line * 3, now_s=0.0)
    assert wire.next_line_arrival_s() == pytest.approx(0.001)
    chunk, at_s = wire.take(0.0005)
    assert len(chunk) == 12 and at_s == pytest.approx(0.00048)
    chunk, at_s = wire.take(0.01)
    assert chunk == line[12:] and at_s == pytest.approx(0.001)
    wire.push(b"M105\n", now_s=0.0015)  # queues behind the three lines, not at 1.5 ms
    assert wire.next_line_arrival_s() == pytest.approx(0.002)
    assert wire.pending_bytes == 55


def test_outbound_wire_pipelines_delay() -> None:
    wire = OutboundWire(byte_time_s=0.001, delay_s=0.002)
    assert wire.schedule(3, emitted_s=0.0) == pytest.approx(0.005)
    assert wire.schedule(3, emitted_s=0.0) == pytest.approx(0.008)  # waits for the wire, not for the delay
    assert wire.schedule(3, emitted_s=1.0) == pytest.approx(1.005)


def test_corruptor_flips_exactly_one_bit_deterministically() -> None:
    lines = [numbered(n, f"G1 X{n}") for n in range(1, 200)]
    first = LineCorruptor(0.5, random.Random(7))
    second = LineCorruptor(0.5, random.Random(7))
    out = first.feed(b"".join(lines[:50])) + first.feed(b"".join(lines[50:]))
    assert out == second.feed(b"".join(lines))
    assert 60 < first.corrupted < 140
    flipped = sum(bin(a ^ b).count("1") for a, b in zip(out, b"".join(lines), strict=True))
    assert flipped == first.corrupted
