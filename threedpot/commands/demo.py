"""`3dpot demo`: the main job on embedded defaults — the whole fleet on one machine.

A broker (Mosquitto if installed, else an embedded one), the cloud on SQLite, three virtual printers
with agents enrolled, a sample job printing; the dashboard URL and a login are printed. Ctrl-C stops
everything. ``--single`` is the smallest demo: one virtual printer printing in this one process.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from firmware_bridge.errors import BridgeError
from firmware_bridge.link import PrinterLink
from firmware_bridge.samples import dense_print
from firmware_bridge.streamer import Outcome, Streamer, StreamResult
from firmware_bridge.virtual import VirtualPrinter, VirtualPrinterConfig
from threedpot.commands.progress_view import progress_bar
from threedpot.demo.broker import EMBEDDED, demo_broker
from threedpot.demo.children import ChildFailed, Children
from threedpot.demo.farm import ADMIN_EMAIL, DemoFarm, run_farm, start_cloud


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


def _banner(farm: DemoFarm, took_s: float) -> str:
    job = farm.sample_job
    printing_on = next((p.name for p in farm.printers if p.pid == job.get("printer_id")), "?")
    lines = [
        "",
        f"3D Pot is running ({took_s:.0f} s to a printing farm):",
        f"  dashboard  {farm.url}/",
        f"  login      {farm.email}",
        f"  password   {farm.password}",
        f"  API docs   {farm.url}/docs",
        f"  broker     {farm.broker}",
        f"  printers   {', '.join(p.name for p in farm.printers)} (virtual Marlin, real move times)",
        f"  printing   {job.get('filename', '?')} on {printing_on}",
        f"  logs       {farm.work_dir / 'logs'}",
        "Press Ctrl-C to stop everything.",
    ]
    return "\n".join(lines)


async def _fleet(printers: int, port: int, work_dir: Path, embedded_broker: bool) -> None:
    started = time.monotonic()
    children = Children(work_dir / "logs")
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        async with demo_broker(children, work_dir, prefer_embedded=embedded_broker) as (mqtt_url, kind):
            typer.echo(f"broker: {kind} at {mqtt_url}", err=True)
            url, password, _ = await start_cloud(
                children, work_dir, mqtt_url, port, shared_subscriptions=kind != EMBEDDED
            )
            typer.echo(f"cloud: {url} (SQLite in {work_dir / 'cloud'})", err=True)
            farm = DemoFarm(url, ADMIN_EMAIL, password, kind, work_dir)
            typer.echo(f"enrolling {printers} virtual printers…", err=True)
            await run_farm(children, farm, printers)
            typer.echo(_banner(farm, time.monotonic() - started))
            while True:
                children.check_alive()
                await asyncio.sleep(1.0)
    finally:
        typer.echo("stopping agents, printers, cloud and broker…", err=True)
        await asyncio.shield(children.stop_all())


def _run_fleet(printers: int, port: int, data_dir: Path | None, keep: bool, embedded_broker: bool) -> None:
    work_dir = data_dir if data_dir is not None else Path(tempfile.mkdtemp(prefix="3dpot-demo-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(_fleet(printers, port, work_dir.resolve(), embedded_broker))
    except ChildFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("stopped cleanly.", err=True)
    finally:
        if data_dir is None and not keep:
            shutil.rmtree(work_dir, ignore_errors=True)


def command(
    printers: Annotated[int, typer.Option(min=1, max=20, help="Virtual printers in the farm.")] = 3,
    port: Annotated[int, typer.Option(help="The dashboard's port (another free one if taken).")] = 8080,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the demo's database, files and logs here (default: a temp dir).")
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the temp dir after Ctrl-C.")] = False,
    embedded_broker: Annotated[
        bool, typer.Option(help="Use the embedded broker even when Mosquitto is installed.")
    ] = False,
    single: Annotated[
        bool, typer.Option(help="The smallest demo: one virtual printer printing in this process.")
    ] = False,
    moves: Annotated[int, typer.Option(help="--single: extrusion moves in the sample part.")] = 4000,
    speed: Annotated[
        float, typer.Option(help="--single: printer motion time scale (1 = real time, 0 = instant).")
    ] = 0.1,
) -> None:
    """Run the whole fleet on this machine: broker, cloud, virtual printers with agents, a sample print."""
    if not single:
        _run_fleet(printers, port, data_dir, keep, embedded_broker)
        return
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
