"""`3dpot cloud [--config FILE] [--host H] [--port P]` and `3dpot cloud-migrate`: the fleet service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def command(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8080,
) -> None:
    """Run the cloud (embedded defaults: SQLite and keys in data/cloud when no settings are given)."""
    from cloud.cli import main  # noqa: PLC0415 - the cloud's imports only when it runs

    argv = ["serve", "--host", host, "--port", str(port)]
    if config is not None:
        argv += ["--config", str(config)]
    raise typer.Exit(main(argv))


def migrate_command(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")] = None,
) -> None:
    """Bring the cloud's database to the newest schema revision."""
    from cloud.cli import main  # noqa: PLC0415

    raise typer.Exit(main(["migrate"] + (["--config", str(config)] if config else [])))
