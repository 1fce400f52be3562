"""``3dpot virtual-printer``: a Marlin-like printer on a pty, steered by one-word lines on stdin.

Prints the path to open as its first stdout line. Control lines on stdin (answers: one JSON object per
line on stdout): ``stats``, ``reset``, ``unplug``, ``replug``, ``runaway [tool0|tool1|bed]``,
``heater_fault [tool0|tool1|bed] [stuck_on|open|none]`` (a fault the firmware does not catch; ``none``
clears it), ``quit``. On ``quit``, SIGTERM or SIGINT it prints the final stats and exits 0; EOF on stdin
changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Annotated

import typer

from firmware_bridge.virtual import VirtualPrinter, VirtualPrinterConfig

log = logging.getLogger(__name__)


def command(
    baud: Annotated[int, typer.Option(help="Wire speed, 10 bits a byte; 0 = no wire model.")] = 250_000,
    ack_delay_ms: Annotated[float, typer.Option(help="Latency added to every reply line.")] = 0.0,
    corrupt_ratio: Annotated[
        float, typer.Option(help="Chance a line (either way) gets a bit flipped.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the corruption RNG.")] = 0,
    rx_buffer: Annotated[int, typer.Option(help="Serial receive buffer, bytes (full → dropped).")] = 128,
    bufsize: Annotated[int, typer.Option(help="Command buffer slots (BUFSIZE).")] = 4,
    planner: Annotated[int, typer.Option(help="Planner blocks.")] = 16,
    move_time_scale: Annotated[float, typer.Option(help="Move time = distance/feedrate x this.")] = 0.0,
    advanced_ok: Annotated[bool, typer.Option("--advanced-ok", help="ok N.. P.. B.. replies.")] = False,
    no_emergency_parser: Annotated[
        bool, typer.Option("--no-emergency-parser", help="M112/M108/M410 wait in the queue.")
    ] = False,
    no_autoreport: Annotated[
        bool, typer.Option("--no-autoreport", help="No M155: the host must poll temperatures with M105.")
    ] = False,
    link: Annotated[str | None, typer.Option(help="Keep a symlink here to the current pty.")] = None,
    thermal_tau_s: Annotated[float, typer.Option(help="Heater time constant, seconds.")] = 2.0,
    ambient_c: Annotated[float, typer.Option(help="Ambient temperature, °C.")] = 22.0,
    tools: Annotated[int, typer.Option(help="Hotends: 1 or 2.")] = 1,
    log_level: Annotated[str, typer.Option(help="Logging level (to stderr).")] = "WARNING",
) -> None:
    """Run a virtual Marlin printer on a pty until SIGTERM/SIGINT or ``quit`` on stdin."""
    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        config = VirtualPrinterConfig(
            baud=baud,
            ack_delay_ms=ack_delay_ms,
            corrupt_ratio=corrupt_ratio,
            seed=seed,
            rx_buffer_bytes=rx_buffer,
            bufsize=bufsize,
            planner_blocks=planner,
            move_time_scale=move_time_scale,
            advanced_ok=advanced_ok,
            emergency_parser=not no_emergency_parser,
            autoreport_temp=not no_autoreport,
            link=link,
            thermal_tau_s=thermal_tau_s,
            ambient_c=ambient_c,
            tools=tools,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    asyncio.run(_serve(config))


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _say_json(payload: dict[str, object]) -> None:
    _say(json.dumps(payload, separators=(",", ":")))


async def _serve(config: VirtualPrinterConfig) -> None:
    printer = VirtualPrinter(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with asyncio.TaskGroup() as tg:
        printer_task = tg.create_task(printer.run())
        _say(await printer.started())
        control_task = tg.create_task(_control_channel(printer, stop))
        await stop.wait()
        _say_json(printer.stats())
        control_task.cancel()
        printer_task.cancel()


async def _stdin_reader() -> asyncio.StreamReader | None:
    if sys.stdin is None:
        return None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError):
        # A regular file (``< commands.txt``): it cannot block, read it whole.
        with contextlib.suppress(OSError, ValueError):
            reader.feed_data(sys.stdin.buffer.read())
        reader.feed_eof()
    return reader


async def _control_channel(printer: VirtualPrinter, stop: asyncio.Event) -> None:
    reader = await _stdin_reader()
    while reader is not None:
        raw = await reader.readline()
        if not raw:
            break
        reply = control(printer, raw.decode(errors="replace"), stop)
        if reply is not None:
            _say_json(reply)
    await asyncio.Event().wait()


def control(printer: VirtualPrinter, line: str, stop: asyncio.Event) -> dict[str, object] | None:
    """Act on one control line; the JSON answer (None for ``quit``, whose answer is the final stats)."""
    words = line.split()
    if not words:
        return None
    verb, args = words[0].lower(), words[1:]
    try:
        if verb == "stats":
            return printer.stats()
        if verb == "reset":
            printer.reset()
            return {"ok": True}
        if verb == "unplug":
            printer.unplug()
            return {"ok": True}
        if verb == "replug":
            return {"ok": True, "path": printer.replug()}
        if verb == "runaway":
            printer.inject_runaway(args[0] if args else "tool0")
            return {"ok": True}
        if verb == "heater_fault":
            return _heater_fault(printer, args)
        if verb == "quit":
            stop.set()
            return None
    except KeyError as exc:
        return {"ok": False, "error": f"no such heater: {exc}"}
    return {"ok": False, "error": f"unknown control command: {verb}"}


def _heater_fault(printer: VirtualPrinter, args: list[str]) -> dict[str, object]:
    """``heater_fault [heater] [stuck_on|open|none]``: defaults ``tool0 stuck_on``."""
    heater = args[0] if args else "tool0"
    word = args[1].lower() if len(args) > 1 else "stuck_on"
    mode = None if word == "none" else word
    try:
        printer.inject_heater_fault(heater, mode)
    except ValueError:
        return {"ok": False, "error": f"unknown heater fault: {word} (stuck_on, open or none)"}
    return {"ok": True, "heater": heater, "fault": mode, "fault_injected_s": printer.core.fault_injected_s}
