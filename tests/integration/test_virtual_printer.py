"""The virtual printer on a real pty, opened the way the host opens ``/dev/ttyACM0`` (pyserial)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import serial

from firmware_bridge.protocol.framing import frame
from firmware_bridge.virtual import VirtualPrinter
from tests.fixtures.printer import PrinterProcess, PtyHost

pytestmark = pytest.mark.integration

Spawn = Callable[..., PrinterProcess]


@contextmanager
def port(path: str, timeout_s: float = 2.0) -> Iterator[serial.Serial]:
    link = serial.Serial(path, baudrate=250000, timeout=timeout_s)
    try:
        yield link
    finally:
        link.close()


def ask(link: serial.Serial, data: bytes) -> list[bytes]:
    """Send ``data``; lines back up to and including the first ``ok``."""
    link.write(data)
    lines: list[bytes] = []
    while not lines or not lines[-1].startswith(b"ok"):
        line = link.readline()
        assert line.endswith(b"\n"), f"timed out after {lines!r}"
        lines.append(line.rstrip(b"\n"))
    return lines


def line_of_25_bytes(n: int) -> bytes:
    for pad in range(1, 20):
        line = frame(n, "G1 X" + "1" * pad)
        if len(line) == 25:
            return line
    raise AssertionError(n)


def test_resend_after_checksum_error_and_out_of_order_line(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "0")
    with port(printer.path) as link:
        assert ask(link, frame(0, "M110 N0")) == [b"ok"]
        assert ask(link, frame(1, "G1 X1")) == [b"ok"]
        assert ask(link, b"N2 G1 X2*0\n") == [b"Error:checksum mismatch, Last Line: 1", b"Resend: 2", b"ok"]
        assert ask(link, frame(3, "G1 X3")) == [
            b"Error:Line Number is not Last Line Number+1, Last Line: 1",
            b"Resend: 2",
            b"ok",
        ]
        assert ask(link, frame(2, "G1 X2")) == [b"ok"]
        assert ask(link, frame(3, "G1 X3")) == [b"ok"]
    stats = printer.stats()
    assert stats["checksum_errors"] == 1 and stats["line_number_errors"] == 1
    assert stats["resend_requests"] == 2
    assert stats["moves_executed"] == 3 and stats["duplicates"] == 0
    assert stats["position"]["x"] == 3.0


def test_rx_overflow_then_emergency_stop_while_m109_blocks(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "250000", "--thermal-tau-s", "60")
    with port(printer.path) as link:
        assert ask(link, frame(0, "M110 N0")) == [b"ok"]
        link.write(frame(1, "M109 S250"))  # blocks the command buffer for minutes (tau 60 s)
        flood = b"".join(frame(n, f"G1 X{n}.5 Y{n}.25 E0.0{n % 10}") for n in range(2, 102))
        link.write(flood)
        time.sleep(len(flood) * 10 / 250000 + 0.2)
        stats = printer.stats()
        assert stats["rx_overflow_bytes"] >= len(flood) - 128 - 4 * 40
        assert stats["rx_bytes"] == 128
        started = time.monotonic()
        link.write(b"M112\n")  # outside the window, RX full: the emergency parser still hears it
        assert link.readline() == b"Error:Printer halted. kill() called!\n"
        assert time.monotonic() - started < 0.5
    stats = printer.stats()
    assert stats["killed"] is True
    assert stats["temps"]["tool0"]["target"] == 0.0


def test_ack_delay_is_what_was_configured(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "0", "--ack-delay-ms", "20")
    with port(printer.path) as link:
        ask(link, b"M105\n")
        samples = []
        for _ in range(15):
            started = time.perf_counter()
            ask(link, b"M105\n")
            samples.append(time.perf_counter() - started)
    assert 0.019 <= statistics.median(samples) <= 0.030


def test_ack_delay_is_pipelined(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "0", "--ack-delay-ms", "50")
    with port(printer.path) as link:
        started = time.perf_counter()
        link.write(b"G1 X1\nG1 X2\nG1 X3\nG1 X4\n")
        assert [link.readline() for _ in range(4)] == [b"ok\n"] * 4
        elapsed = time.perf_counter() - started
    assert 0.049 <= elapsed < 0.09  # four replies in flight together, not 4 x 50 ms


def test_baud_model_caps_line_rate(virtual_printer_process: Spawn) -> None:
    """25-byte lines at 250000 baud (1 ms each) cannot arrive faster than ~1,000 a second."""
    printer = virtual_printer_process("--baud", "250000")
    lines = [line_of_25_bytes(n) for n in range(1, 1001)]
    assert {len(line) for line in lines} == {25}
    with port(printer.path) as link:
        assert ask(link, frame(0, "M110 N0")) == [b"ok"]
        sent = acked = 0
        in_flight: list[int] = []
        started = time.perf_counter()
        while acked < len(lines):
            while sent < len(lines) and len(in_flight) < 4 and sum(in_flight) + 25 <= 127:
                link.write(lines[sent])
                in_flight.append(25)
                sent += 1
            assert link.readline() == b"ok\n"
            in_flight.pop(0)
            acked += 1
        rate = len(lines) / (time.perf_counter() - started)
    assert 700 < rate <= 1010
    stats = printer.stats()
    assert stats["moves_executed"] == 1000 and stats["duplicates"] == 0 and stats["resend_requests"] == 0


def test_formats(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "0", "--advanced-ok")
    with port(printer.path) as link:
        assert ask(link, b"M105\n") == [b"ok T:22.00 /0.00 B:22.00 /0.00 @:0 B@:0"]
        assert ask(link, b"G1 X10 Y20 Z0.3 E5\n") == [b"ok P16 B3"]
        assert ask(link, b"M114\n") == [
            b"X:10.00 Y:20.00 Z:0.30 E:5.00 Count X:800 Y:1600 Z:120",
            b"ok P16 B3",
        ]
        m115 = ask(link, b"M115\n")
        assert m115[0].startswith(b"FIRMWARE_NAME:Marlin 2.1.2.1 (3D Pot virtual)")
        assert b"Cap:EMERGENCY_PARSER:1" in m115 and b"Cap:ADVANCED_OK:1" in m115


def test_reset_emits_start(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "0")
    with port(printer.path) as link:
        assert ask(link, frame(0, "M110 N0")) == [b"ok"]
        assert ask(link, frame(1, "G1 X5")) == [b"ok"]
        assert printer.control("reset") == {"ok": True}
        assert link.readline() == b"start\n"
        assert link.readline() == b"echo:Marlin 2.1.2.1\n"
        link.reset_input_buffer()
        assert ask(link, frame(1, "M114")) == [b"X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0", b"ok"]


def test_unplug_fails_reads_and_replug_works_at_the_same_link(
    virtual_printer_process: Spawn, tmp_path: Path
) -> None:
    link_path = str(tmp_path / "ttyVIRTUAL")
    printer = virtual_printer_process("--baud", "0", "--link", link_path)
    assert printer.path == link_path
    assert os.readlink(link_path).startswith("/dev/pts/")
    with port(link_path) as link:
        assert ask(link, b"M105\n")[0].startswith(b"ok T:")
        assert printer.control("unplug") == {"ok": True}
        assert not os.path.lexists(link_path)
        started = time.monotonic()
        with pytest.raises(serial.SerialException):
            link.read(1)
            link.read(1)
        assert time.monotonic() - started < 1.0
    answer = printer.control("replug")
    assert answer == {"ok": True, "path": link_path}
    assert os.readlink(link_path).startswith("/dev/pts/")  # the kernel may hand out the same number
    with port(link_path) as link:
        assert ask(link, b"M105\n")[0].startswith(b"ok T:")


def test_runaway_halts(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "0")
    with port(printer.path) as link:
        assert ask(link, b"M104 S200\n") == [b"ok"]
        assert printer.control("runaway") == {"ok": True}
        assert link.readline() == b"Error:Thermal Runaway, system stopped! Heater_ID: 0\n"
        assert link.readline() == b"Error:Printer halted. kill() called!\n"
        link.write(b"M105\n")
        assert link.readline() == b""  # killed: no answer


def test_heater_fault_control_word(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "0")
    with port(printer.path, timeout_s=5.0) as link:
        assert ask(link, b"M109 S210\n")[-1] == b"ok"  # about 3 s with tau 2 s
        answer = printer.control("heater_fault tool0 stuck_on")
        assert answer["ok"] is True and answer["fault"] == "stuck_on"
        time.sleep(0.5)  # 210 → 241 °C: the firmware still reports its target and @:0
        report = ask(link, b"M105\n")[-1].decode()
        assert report.startswith("ok T:") and float(report.split()[1][2:]) > 225.0
        stats = printer.stats()
        assert stats["killed"] is False and stats["m112_received_s"] is None
        assert stats["temps"]["tool0"]["fault"] == "stuck_on"
        link.write(b"M112\n")
        assert link.readline() == b"Error:Printer halted. kill() called!\n"
    stats = printer.stats()
    assert stats["killed"] is True
    assert 0.4 < stats["m112_received_s"] - answer["fault_injected_s"] < 3.0
    assert stats["fault_injected_s"] == answer["fault_injected_s"]
    assert stats["temps"]["tool0"]["target"] == 0.0
    assert printer.control("heater_fault bed melted")["ok"] is False
    assert printer.control("heater_fault tool7 open") == {"ok": False, "error": "no such heater: 'tool7'"}


def test_corruption_is_counted_both_ways(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "0", "--corrupt-ratio", "0.2", "--seed", "3")
    with port(printer.path, timeout_s=0.2) as link:
        for n in range(1, 101):
            link.write(frame(n, f"G1 X{n}"))
            while link.readline().startswith((b"Error", b"Resend")):
                pass
    stats = printer.stats()
    assert 5 < stats["corrupted_in"] < 40 and 5 < stats["corrupted_out"] < 60
    line_errors = sum(
        stats[key]
        for key in ("checksum_errors", "line_number_errors", "no_checksum_errors", "no_line_number_errors")
    )
    assert line_errors > 0 and stats["resend_requests"] == line_errors


def test_quit_and_sigterm_print_final_stats(virtual_printer_process: Spawn) -> None:
    printer = virtual_printer_process("--baud", "0")
    final = printer.stop()
    assert final["killed"] is False and "moves_executed" in final
    assert printer.popen.returncode == 0
    other = subprocess.run(
        [sys.executable, "-m", "threedpot", "virtual-printer"],
        input=b"stats\nquit\n",
        capture_output=True,
        timeout=10,
        check=True,
    )
    lines = other.stdout.decode().splitlines()
    assert lines[0].startswith("/dev/pts/") and len(lines) == 3


async def test_in_process_fixture(virtual_printer: VirtualPrinter) -> None:
    host = await PtyHost.open(virtual_printer.path)
    try:
        await host.send(frame(0, "M110 N0") + frame(1, "G1 X7 Y8"))
        assert [await host.readline(), await host.readline()] == [b"ok", b"ok"]
        await host.send(b"M114\n")
        assert (await host.read_until(b"ok"))[0].startswith(b"X:7.00 Y:8.00")
        virtual_printer.unplug()
        with pytest.raises(EOFError):
            await host.readline(timeout_s=1.0)
    finally:
        host.close()
    stats = virtual_printer.stats()
    assert stats["moves_executed"] == 1 and stats["plugged"] is False
    host = await PtyHost.open(virtual_printer.replug())
    try:
        await host.send(b"M105\n")
        assert (await host.readline()).startswith(b"ok T:")
    finally:
        host.close()
