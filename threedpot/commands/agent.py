"""`3dpot agent`: the printer-host daemon (settings: TOML file < env `THREEDPOT_AGENT_*` < these flags)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from edge_agent.enrolment import EnrolmentError, apply_enrolment, enrol, load_enrolment
from edge_agent.settings import AgentSettings, PrinterProfile, load_settings

log = logging.getLogger(__name__)


async def _run(settings: AgentSettings) -> None:
    from edge_agent.agent import Agent  # noqa: PLC0415 - the daemon's imports cost ~50 MB; only here

    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, main.cancel)
    async with Agent(settings) as agent:
        try:
            await agent.run()
        except asyncio.CancelledError:
            log.info("agent %s stopped", settings.printer_id)


def command(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")] = None,
    serial_port: Annotated[str | None, typer.Option("--serial-port", help="e.g. /dev/ttyACM0")] = None,
    baud: Annotated[int | None, typer.Option("--baud")] = None,
    printer_id: Annotated[str | None, typer.Option("--printer-id")] = None,
    mqtt_url: Annotated[str | None, typer.Option("--mqtt-url", help="mqtt://host:port")] = None,
    http_host: Annotated[str | None, typer.Option("--http-host")] = None,
    http_port: Annotated[int | None, typer.Option("--http-port")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="X-Api-Key for slicer uploads.")] = None,
    cloud_public_key: Annotated[
        str | None, typer.Option("--cloud-public-key", help="base64 Ed25519 key that signs job offers.")
    ] = None,
    build_volume: Annotated[
        str | None, typer.Option("--build-volume", help="XxYxZ in mm, e.g. 220x220x250")
    ] = None,
    nozzle: Annotated[float | None, typer.Option("--nozzle", help="nozzle diameter, mm")] = None,
    max_tool_c: Annotated[float | None, typer.Option("--max-tool-c")] = None,
    max_bed_c: Annotated[float | None, typer.Option("--max-bed-c")] = None,
    bufsize: Annotated[int | None, typer.Option("--bufsize", help="firmware command buffer, lines")] = None,
    rx_buffer: Annotated[
        int | None, typer.Option("--rx-buffer", help="firmware serial buffer, bytes")
    ] = None,
    material: Annotated[str | None, typer.Option("--material")] = None,
    enrol_code: Annotated[
        str | None, typer.Option("--enrol", help="Claim code from the cloud: enrol this printer first.")
    ] = None,
    cloud_url: Annotated[str | None, typer.Option("--cloud-url", help="The cloud to enrol with.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the agent next to one printer: durable queue, MQTT, OctoPrint-compatible uploads."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request's full URL at INFO: a job offer's signed download URL carries its
    # signature in the query, a credential until it expires (tests/security/test_secrets_in_logs.py).
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    printer: dict[str, object] = {}
    if build_volume is not None:
        try:
            x, y, z = (float(v) for v in build_volume.lower().split("x"))
        except ValueError:
            raise typer.BadParameter(
                "use XxYxZ in mm, e.g. 220x220x250", param_hint="--build-volume"
            ) from None
        printer["build_volume_mm"] = (x, y, z)
    for key, value in (
        ("nozzle_mm", nozzle),
        ("max_tool_c", max_tool_c),
        ("max_bed_c", max_bed_c),
        ("bufsize", bufsize),
        ("rx_buffer_bytes", rx_buffer),
        ("material", material),
    ):
        if value is not None:
            printer[key] = value
    try:
        settings = load_settings(
            config,
            serial_port=serial_port,
            baud=baud,
            printer_id=printer_id,
            mqtt_url=mqtt_url,
            http_host=http_host,
            http_port=http_port,
            data_dir=data_dir,
            api_key=api_key,
            cloud_public_key=cloud_public_key,
        )
        if printer:
            profile = PrinterProfile.model_validate({**settings.printer.model_dump(), **printer})
            settings = settings.model_copy(update={"printer": profile})
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        typer.echo(f"3dpot agent: bad settings:\n{exc}", err=True)
        raise typer.Exit(2) from None
    try:
        if enrol_code is not None:
            if not cloud_url:
                raise typer.BadParameter("--enrol needs --cloud-url", param_hint="--cloud-url")
            enrol(cloud_url, enrol_code, settings)
        enrolment = load_enrolment(settings.data_dir)
    except EnrolmentError as exc:
        typer.echo(f"3dpot agent: {exc}", err=True)
        raise typer.Exit(2) from None
    if enrolment is not None:
        settings = apply_enrolment(settings, enrolment)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings))
    sys.exit(0)
