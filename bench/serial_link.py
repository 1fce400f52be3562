"""Serial link benchmark: our send window against one line in flight, same virtual printer, one run.

    make bench            (or: .venv/bin/python -m bench.serial_link --moves 5000)

Two regimes, both with 2 ms of reply latency (a USB round trip):
  * UART at 250000 baud (a USB-serial bridge chip): the wire is the physical limit, so our figure
    is bytes/s as a share of what 250000 baud 8N1 carries (25,000 bytes/s);
  * native USB (no baud limit): latency is the only limit, so the window's gain shows whole.
Each host streams the same dense file; the virtual printer's counters prove every move ran once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import one_line_host
from firmware_bridge import gcode_file
from firmware_bridge.link import PrinterLink
from firmware_bridge.protocol.window import WindowLimits
from firmware_bridge.samples import count_moves, dense_print
from firmware_bridge.streamer import Outcome, Streamer
from firmware_bridge.virtual.process import PrinterProcess

BAUD = 250_000
NOISE_RATIO = 0.01
LATENCY_MS = 2.0
REGIMES = (
    ("uart-250000", f"UART {BAUD} baud, {LATENCY_MS:g} ms latency", BAUD),
    ("native-usb", f"native USB (no wire limit), {LATENCY_MS:g} ms latency", 0),
)


@dataclass(frozen=True, slots=True)
class Figures:
    host: str
    lines: int
    seconds: float
    lines_per_s: float
    bytes_per_s: float
    cpu_s_per_1000_lines: float
    moves_executed: int
    duplicates: int


async def _ours(port: str, path: Path, max_lines: int) -> tuple[int, int, float, float]:
    link = PrinterLink(port, BAUD, limits=WindowLimits(max_lines=max_lines, max_bytes=128))
    async with link:
        streamer = Streamer(link)
        bytes0 = link.window.stats.bytes_sent
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = await streamer.stream(path)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if result.outcome is not Outcome.COMPLETED:
            raise RuntimeError(f"stream {result.outcome.value}: {result.cause}")
        return result.progress.lines_acked, link.window.stats.bytes_sent - bytes0, seconds, cpu


def _figures(
    host: str, run: tuple[int, int, float, float], before: dict[str, Any], after: dict[str, Any]
) -> Figures:
    lines, sent, seconds, cpu = run
    return Figures(
        host=host,
        lines=lines,
        seconds=round(seconds, 3),
        lines_per_s=round(lines / seconds, 1),
        bytes_per_s=round(sent / seconds, 1),
        cpu_s_per_1000_lines=round(cpu / lines * 1000, 4),
        moves_executed=after["moves_executed"] - before["moves_executed"],
        duplicates=after["duplicates"],
    )


def run_regime(baud: int, path: Path, max_lines: int) -> tuple[Figures, Figures]:
    commands = [c.command for c in gcode_file.read(path)]
    flags = ["--baud", str(baud), "--ack-delay-ms", str(LATENCY_MS)]
    with PrinterProcess(*flags) as printer:
        before = printer.control("stats")
        base = one_line_host.stream(printer.path, BAUD, commands)
        middle = printer.control("stats")
        lines, sent, seconds, cpu = asyncio.run(_ours(printer.path, path, max_lines))
        after = printer.control("stats")
    base_run = (base.lines, base.bytes_sent, base.seconds, base.cpu_seconds)
    baseline = _figures("one line in flight", base_run, before, middle)
    ours = _figures("3D Pot window", (lines, sent, seconds, cpu), middle, after)
    return baseline, ours


def run_noisy(path: Path, max_lines: int, ratio: float) -> Figures:
    """Ours alone through bit flips (a one-line host has no answer to a lost ok but a long timeout)."""
    flags = [
        "--baud",
        str(BAUD),
        "--ack-delay-ms",
        str(LATENCY_MS),
        "--corrupt-ratio",
        str(ratio),
        "--seed",
        "7",
    ]
    with PrinterProcess(*flags) as printer:
        before = printer.control("stats")
        lines, sent, seconds, cpu = asyncio.run(_ours(printer.path, path, max_lines))
        after = printer.control("stats")
    return _figures("3D Pot window", (lines, sent, seconds, cpu), before, after)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--moves", type=int, default=5000, help="extrusion moves in the file")
    parser.add_argument("--window", type=int, default=64, help="our line cap (bytes stay bounded)")
    parser.add_argument("--out", type=Path, default=Path(".bench/serial_link.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dense.gcode"
        text = dense_print(args.moves, with_header=False)
        path.write_text(text)
        expected_moves = count_moves(text)
        regimes: dict[str, object] = {}
        report = {"moves_in_file": expected_moves, "regimes": regimes}
        print(f"serial link benchmark: {expected_moves} moves, {LATENCY_MS:g} ms reply latency")
        for key, title, baud in REGIMES:
            baseline, ours = run_regime(baud, path, args.window)
            ratio = ours.lines_per_s / baseline.lines_per_s
            wire_share = ours.bytes_per_s / (BAUD / 10) if baud else None
            print(f"\n{title}")
            print(f"  {'host':<20} {'lines/s':>9} {'bytes/s':>9} {'CPU s/1000':>11} {'moves':>7} {'dups':>5}")
            for f in (baseline, ours):
                print(
                    f"  {f.host:<20} {f.lines_per_s:>9.0f} {f.bytes_per_s:>9.0f} "
                    f"{f.cpu_s_per_1000_lines:>11.4f} {f.moves_executed:>7} {f.duplicates:>5}"
                )
                if f.moves_executed != expected_moves or f.duplicates:
                    raise SystemExit(f"{f.host}: {f.moves_executed} moves run, expected {expected_moves}")
            print(f"  ratio (ours / one line in flight): {ratio:.2f}x")
            if wire_share is not None:
                print(f"  our bytes/s as a share of {BAUD} baud 8N1: {wire_share:.1%}")
            regimes[key] = {
                "title": title,
                "baseline": asdict(baseline),
                "ours": asdict(ours),
                "ratio": round(ratio, 2),
                "wire_share": round(wire_share, 3) if wire_share is not None else None,
            }
        noisy = run_noisy(path, args.window, NOISE_RATIO)
        print(f"\nUART {BAUD} baud, {LATENCY_MS:g} ms latency, {NOISE_RATIO:.0%} of lines with a flipped bit")
        print(
            f"  3D Pot window: {noisy.lines_per_s:.0f} lines/s, {noisy.moves_executed} moves run, "
            f"{noisy.duplicates} run twice"
        )
        if noisy.moves_executed != expected_moves or noisy.duplicates:
            raise SystemExit("noisy run lost or repeated moves")
        regimes["uart-250000-noisy"] = {"title": f"{NOISE_RATIO:.0%} corruption", "ours": asdict(noisy)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nfigures written to {args.out}")


if __name__ == "__main__":
    main()
