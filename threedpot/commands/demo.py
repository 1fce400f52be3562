"""`3dpot demo`: the main job on embedded defaults — a virtual printer printing a sample part.

Everything runs in this one process: the virtual Marlin on a pty, the serial link, the streamer.
Later work grows this into the whole fleet (broker, cloud, several agents); the shape stays.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from firmware_bridge.errors import BridgeError
from firmware_bridge.link import PrinterLink
from firmware_bridge.samples import dense_print
from firmware_bridge.streamer import Outcome, Streamer, StreamResult
from firmware_bridge.virtual import VirtualPrinter, VirtualPrinterConfig
from threedpot.commands.progress_view import progress_bar


async def _demo(moves: int, move_time_scale: float, show_bar: bool) -> StreamResult:
    printer = VirtualPrinter(
        VirtualPrinterConfig(baud=250_000, ack_delay_ms=2.0, move_time_scale=move_time_scale)
    )
    with tempfile.TemporaryDirectory(prefix="3dpot-demo-") as tmp:
        path = Path(tmp) / "sample-vase.gcode"
        path.write_text(dense_print(moves))
        async with asyncio.TaskGroup() as tg:
            serving = tg.create_task(printer.run())
            port = await printer.started()
            typer.echo(f"virtual printer (Marlin-like) on {port}; printing {path.name}", err=True)
            try:
                async with PrinterLink(port) as link:
                    with progress_bar(path.name, enabled=show_bar) as on_progress:
                        result = await Streamer(link).stream(path, on_progress=on_progress)
            finally:
                serving.cancel()
    stats = printer.stats()
    typer.echo(
        f"{result.outcome.value}: {result.progress.lines_acked} lines in {result.seconds:.1f}s, "
        f"{stats['moves_executed']} moves executed, final position {stats['position']}",
        err=True,
    )
    return result


def command(
    moves: Annotated[int, typer.Option(help="Extrusion moves in the sample part.")] = 4000,
    speed: Annotated[
        float, typer.Option(help="Printer motion time scale (1 = real time, 0 = instant).")
    ] = 0.1,
) -> None:
    """Print a sample part on a virtual printer, with a progress bar."""
    try:
        result = asyncio.run(_demo(moves, speed, sys.stderr.isatty()))
    except BridgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if result.outcome is not Outcome.COMPLETED:
        typer.echo(f"error: {result.cause}", err=True)
        raise typer.Exit(1)
