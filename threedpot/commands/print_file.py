"""`3dpot print FILE --port PORT`: stream a G-code file to a printer with a progress bar."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from firmware_bridge.errors import BridgeError
from firmware_bridge.flavours import flavour_named
from firmware_bridge.link import PrinterLink
from firmware_bridge.protocol.window import WindowLimits
from firmware_bridge.streamer import Outcome, Streamer, StreamResult
from threedpot.commands.progress_view import progress_bar

MAX_WINDOW_LINES = 64


async def _print(
    path: Path,
    port: str,
    baud: int,
    limits: WindowLimits | None,
    flavour: str | None,
    show_bar: bool,
) -> tuple[StreamResult, PrinterLink]:
    link = PrinterLink(port, baud, limits=limits, flavour=flavour_named(flavour) if flavour else None)
    async with link:
        with progress_bar(path.name, enabled=show_bar) as on_progress:
            result = await Streamer(link).stream(path, on_progress=on_progress)
        return result, link


def command(
    file: Annotated[Path, typer.Argument(help="G-code file to print.", exists=True, dir_okay=False)],
    port: Annotated[str, typer.Option("--port", help="Serial port: /dev/ttyACM0, a pty path.")],
    baud: Annotated[int, typer.Option("--baud", help="Baud rate.")] = 250000,
    json_out: Annotated[bool, typer.Option("--json", help="End with one JSON line of figures.")] = False,
    window: Annotated[
        int | None,
        typer.Option("--window", min=1, max=MAX_WINDOW_LINES, help="Lines in flight (default: firmware's)."),
    ] = None,
    rx_buffer: Annotated[
        int | None, typer.Option("--rx-buffer", min=16, help="Firmware receive buffer, bytes.")
    ] = None,
    flavour: Annotated[
        str | None, typer.Option("--flavour", help="marlin, prusa, reprapfirmware, klipper, repetier.")
    ] = None,
) -> None:
    """Stream FILE to the printer on PORT, with a send-ahead window, resends and a progress bar."""
    limits = None
    if window is not None or rx_buffer is not None:
        limits = WindowLimits(max_lines=window or 4, max_bytes=rx_buffer or 128)
    try:
        result, link = asyncio.run(_print(file, port, baud, limits, flavour, sys.stderr.isatty()))
    except (BridgeError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        raise typer.Exit(130) from None
    progress = result.progress
    stats = link.window.stats
    seconds = max(result.seconds, 1e-9)
    if json_out:
        figures = {
            "lines": progress.lines_acked,
            "resends": stats.resends,
            "seconds": round(result.seconds, 3),
            "lines_per_s": round(progress.lines_acked / seconds, 1),
            "outcome": result.outcome.value,
            "bytes_sent": stats.bytes_sent,
            "resend_requests": stats.resend_requests,
            "probes": stats.probes,
            "garbage_lines": link.stats.garbage_lines,
        }
        typer.echo(json.dumps(figures))
    if result.outcome is not Outcome.COMPLETED:
        typer.echo(f"error: print {result.outcome.value}: {result.cause}", err=True)
        raise typer.Exit(1)
