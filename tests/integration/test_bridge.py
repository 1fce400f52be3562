"""The firmware bridge against the virtual Marlin printer on a real pty: every acceptance case."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import tty
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_bridge.errors import FirmwareHalted, HandshakeFailed, PortDisconnected, PortNotFound
from firmware_bridge.flavours import MARLIN
from firmware_bridge.link import PrinterLink
from firmware_bridge.protocol.window import WindowLimits
from firmware_bridge.samples import count_moves, dense_print
from firmware_bridge.streamer import Outcome, Streamer
from tests.fixtures.printer import MakeVirtualPrinter, PrinterProcess

pytestmark = pytest.mark.integration

SpawnPrinter = Callable[..., PrinterProcess]
_MOVE = re.compile(r"^G1 (?:X(?P<x>[-\d.]+) Y(?P<y>[-\d.]+) E(?P<e>[-\d.]+)|Z(?P<z>[-\d.]+))")


def final_position(text: str) -> dict[str, float]:
    """Where a printer that ran `text` exactly once stands (absolute X/Y/Z/E moves only)."""
    pos = {"x": 0.0, "y": 0.0, "z": 0.0, "e": 0.0}
    for line in text.splitlines():
        m = _MOVE.match(line)
        if m and m.group("x"):
            pos.update(x=float(m.group("x")), y=float(m.group("y")), e=float(m.group("e")))
        elif m:
            pos["z"] = float(m.group("z"))
    return pos


def run_cli(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threedpot", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="module")
def dense_20k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    text = dense_print(20_000, with_header=False)
    path = tmp_path_factory.mktemp("gcode") / "dense-20k.gcode"
    path.write_text(text)
    return path, text


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("window", [None, "64"], ids=["profile-window", "max-window"])
def test_20k_lines_through_1pct_corruption_run_every_move_exactly_once(
    virtual_printer_process: SpawnPrinter, dense_20k: tuple[Path, str], window: str | None
) -> None:
    path, text = dense_20k
    printer = virtual_printer_process(
        "--baud", "250000", "--ack-delay-ms", "2", "--corrupt-ratio", "0.01", "--seed", "7"
    )
    extra = ["--window", window] if window else []
    done = run_cli("print", str(path), "--port", printer.path, "--baud", "250000", "--json", *extra)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    stats = printer.stats()
    assert stats["corrupted_in"] > 50 and stats["corrupted_out"] > 50  # the noise really happened
    assert figures["resends"] > 0
    assert stats["duplicates"] == 0
    assert stats["moves_executed"] == count_moves(text)
    expected = final_position(text)
    assert stats["position"] == pytest.approx(expected, abs=1e-3)
    assert set(figures) >= {"lines", "resends", "seconds", "lines_per_s"}
    assert figures["lines"] == len([ln for ln in text.splitlines() if ln and not ln.startswith(";")])


async def test_handshake_detects_marlin_and_its_capabilities(
    make_virtual_printer: MakeVirtualPrinter,
) -> None:
    printer = await make_virtual_printer()
    async with PrinterLink(printer.path) as link:
        assert link.flavour is MARLIN
        assert link.status.firmware["FIRMWARE_NAME"].startswith("Marlin")
        assert link.has_emergency_parser
        await link.execute("M105")
        assert "tool0" in link.status.temperatures


@pytest.mark.timeout(60)
def test_emergency_stop_reaches_the_printer_within_100ms_while_the_window_is_full(
    virtual_printer_process: SpawnPrinter,
) -> None:
    printer = virtual_printer_process("--baud", "250000", "--ack-delay-ms", "2", "--thermal-tau-s", "30")

    async def scenario() -> float:
        async with PrinterLink(printer.path, limits=WindowLimits(max_lines=8, max_bytes=128)) as link:
            await link.submit("M109 S250")  # blocks the firmware's queue for a long while
            for i in range(50):  # fewer than the link queues before `submit` waits
                await link.submit(f"G1 X{i}.5 Y{i}.25 F3000")
            deadline = time.monotonic() + 5
            while link.window.in_flight < 3 or link.window.pending == 0:
                assert time.monotonic() < deadline, "window never filled"
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # still full: nothing can move behind M109
            assert link.window.pending > 0
            started = time.perf_counter()
            link.emergency("M112")
            while not isinstance(link.failure, FirmwareHalted):
                await asyncio.sleep(0.0005)
            return time.perf_counter() - started

    elapsed_s = asyncio.run(scenario())
    print(f"M112 behind a full window halted the printer in {elapsed_s * 1000:.1f} ms")
    stats = printer.stats()
    assert stats["killed"] is True
    assert elapsed_s < 0.100, f"M112 took {elapsed_s * 1000:.1f} ms to halt the printer"


def test_thermal_runaway_aborts_the_print_and_names_the_cause(
    virtual_printer_process: SpawnPrinter, tmp_path: Path
) -> None:
    path = tmp_path / "long.gcode"
    path.write_text(dense_print(6000, with_header=False))
    printer = virtual_printer_process("--baud", "250000", "--move-time-scale", "0.05")
    proc = subprocess.Popen(
        [sys.executable, "-m", "threedpot", "print", str(path), "--port", printer.path, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)
    assert proc.poll() is None, "print ended before the fault"
    printer.control("runaway tool0")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    reason = err.strip().splitlines()[-1]
    assert "failed" in reason and "Thermal Runaway" in reason and "kill() called" in reason
    assert json.loads(out.strip().splitlines()[-1])["outcome"] == "failed"


async def test_board_reset_mid_print_marks_the_job_interrupted_at_its_last_acknowledged_line(
    make_virtual_printer: MakeVirtualPrinter, tmp_path: Path
) -> None:
    path = tmp_path / "part.gcode"
    text = dense_print(3000, with_header=False)
    path.write_text(text)
    printer = await make_virtual_printer(baud=250_000, move_time_scale=0.02, record_executed=True)
    async with PrinterLink(printer.path) as link:
        streamer = Streamer(link)
        stream = asyncio.ensure_future(streamer.stream(path))
        while streamer.progress is None or streamer.progress.lines_acked < 300:
            await asyncio.sleep(0.01)
        executed_before_reset = list(printer.core.executed)
        printer.reset()
        result = await stream
    assert result.outcome is Outcome.INTERRUPTED
    assert "reset" in result.cause
    file_lines = text.splitlines()
    last = result.progress.last_acked_file_line
    assert 300 <= result.progress.lines_acked < 3000
    # the line we call "last acknowledged" was executed by the printer before it reset
    executed_commands = [cmd for _, cmd in executed_before_reset]
    acked_command = file_lines[last].replace(" ", "")
    assert acked_command in [c.replace(" ", "") for c in executed_commands[-40:]]


def test_unplug_gives_a_clear_error_within_2s_and_the_link_reconnects(
    virtual_printer_process: SpawnPrinter, tmp_path: Path
) -> None:
    link_path = str(tmp_path / "ttyVIRTUAL0")
    printer = virtual_printer_process("--baud", "250000", "--link", link_path, "--move-time-scale", "0.05")
    path = tmp_path / "part.gcode"
    path.write_text(dense_print(4000, with_header=False))

    async def scenario() -> tuple[float, str]:
        link = PrinterLink(link_path)
        async with link:
            streamer = Streamer(link)
            stream = asyncio.ensure_future(streamer.stream(path))
            await asyncio.sleep(1.0)
            started = time.perf_counter()
            await asyncio.to_thread(printer.control, "unplug")
            result = await asyncio.wait_for(stream, timeout=5)
            elapsed = time.perf_counter() - started
            assert isinstance(link.failure, PortDisconnected)
            assert result.outcome is Outcome.INTERRUPTED
        with pytest.raises(PortNotFound):
            await PrinterLink(link_path).open()
        # the same link comes back by itself once the cable is in again
        coming_back = asyncio.ensure_future(link.reconnect(timeout_s=10))
        await asyncio.sleep(0.5)
        assert not coming_back.done()
        await asyncio.to_thread(printer.control, "replug")
        await coming_back
        assert link.connected
        await link.execute("M114")
        assert link.status.position is not None
        link.close()
        return elapsed, result.cause

    elapsed_s, cause = asyncio.run(scenario())
    assert elapsed_s < 2.0
    assert "closed" in cause or "disconnect" in cause.lower()


async def test_busy_keepalives_stop_a_long_heat_up_from_being_probed(
    make_virtual_printer: MakeVirtualPrinter,
) -> None:
    printer = await make_virtual_printer(baud=250_000, thermal_tau_s=3.0)
    async with PrinterLink(printer.path, limits=WindowLimits(probe_after_s=2.5)) as link:
        started = time.monotonic()
        await link.execute("M109 S215")
        took = time.monotonic() - started
        assert took > 3.0, "heat-up too short to prove anything"
        assert link.window.stats.timeouts == 0
        assert link.window.stats.probes == 0
        assert link.status.temperatures["tool0"].actual_c == pytest.approx(215, abs=2)


async def test_pause_resume_and_cancel(make_virtual_printer: MakeVirtualPrinter, tmp_path: Path) -> None:
    path = tmp_path / "part.gcode"
    path.write_text(dense_print(3000))
    printer = await make_virtual_printer(baud=250_000, move_time_scale=0.02, thermal_tau_s=0.5)
    async with PrinterLink(printer.path) as link:
        streamer = Streamer(link)
        stream = asyncio.ensure_future(streamer.stream(path))
        while streamer.progress is None or streamer.progress.lines_acked < 200:
            await asyncio.sleep(0.01)
        paused = await streamer.pause()
        assert paused.position is not None
        assert paused.machine.targets_c == {"bed": 60.0, "tool0": 210.0}
        held = printer.stats()["moves_executed"]
        await asyncio.sleep(0.5)
        assert printer.stats()["moves_executed"] == held, "moves ran while paused"
        await streamer.resume()
        while streamer.progress.lines_acked < 400:
            await asyncio.sleep(0.01)
        streamer.cancel()
        result = await stream
    assert result.outcome is Outcome.CANCELLED
    temps = printer.stats()["temps"]
    assert temps["tool0"]["target"] == 0 and temps["bed"]["target"] == 0
    assert result.progress.lines_acked < 3000


async def test_garbage_and_non_utf8_replies_are_skipped_and_counted() -> None:
    """A firmware that spits noise between its replies, on a real pty opened by the same serial code."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    tty.setraw(slave)
    loop = asyncio.get_running_loop()
    buffer = bytearray()
    noise = [b"\xff\xfe\x80\x81garbage\n", b"\x00\x07\x1b[2J\n", b"\xc3\x28 broken utf-8\n"]

    def on_readable() -> None:
        buffer.extend(os.read(master, 4096))
        while b"\n" in buffer:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            reply = noise.pop() if noise else b""
            if b"M115" in line:
                reply += b"FIRMWARE_NAME:Marlin 2.1.2\n"
            os.write(master, reply + b"ok\n")

    loop.add_reader(master, on_readable)
    try:
        async with PrinterLink(os.ttyname(slave), flavour=MARLIN) as link:
            for i in range(10):
                await link.execute(f"G1 X{i}")
            assert link.stats.garbage_lines == 3
            assert link.failure is None
    finally:
        loop.remove_reader(master)
        os.close(master)
        os.close(slave)


async def test_nobody_answering_is_a_clear_handshake_error() -> None:
    master, slave = os.openpty()
    try:
        with pytest.raises(HandshakeFailed, match="no printer answered"):
            await PrinterLink(os.ttyname(slave), handshake_timeout_s=1.5).open()
    finally:
        os.close(master)
        os.close(slave)


def test_print_to_a_missing_port_fails_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.gcode"
    path.write_text("G28\n")
    done = run_cli("print", str(path), "--port", str(tmp_path / "ttyACM9"), timeout_s=30)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [f"error: no serial device at {tmp_path / 'ttyACM9'}"]
