"""`3dpot cloud [--config FILE] [--host H] [--port P]` runs the fleet service; its subcommands operate it:
`3dpot cloud migrate`, `3dpot cloud backup -o FILE`, `3dpot cloud restore FILE [--force]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="cloud",
    help="The fleet cloud: run it (no subcommand), or migrate, back up, restore it.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")]


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    config: ConfigOption = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8080,
) -> None:
    """Run the cloud (embedded defaults: SQLite and keys in data/cloud when no settings are given)."""
    ctx.obj = config
    if ctx.invoked_subcommand is not None:
        return
    from cloud.cli import main  # noqa: PLC0415 - the cloud's imports only when it runs

    argv = ["serve", "--host", host, "--port", str(port)]
    if config is not None:
        argv += ["--config", str(config)]
    raise typer.Exit(main(argv))


def _config(ctx: typer.Context, config: Path | None) -> Path | None:
    return config if config is not None else ctx.obj if isinstance(ctx.obj, Path) else None


@app.command("migrate")
def migrate_command(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Bring the cloud's database to the newest schema revision."""
    from cloud.cli import main  # noqa: PLC0415

    chosen = _config(ctx, config)
    raise typer.Exit(main(["migrate"] + (["--config", str(chosen)] if chosen else [])))


@app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    revision: Annotated[str, typer.Option("--to", help="Revision to go back to (default: one back).")] = "-1",
    config: ConfigOption = None,
) -> None:
    """Downgrade the database for a release rollback (back up first: dropped tables lose their data)."""
    import asyncio  # noqa: PLC0415

    from cloud.db import current_revision, rollback  # noqa: PLC0415
    from cloud.settings import load_settings  # noqa: PLC0415

    settings = load_settings(_config(ctx, config))
    asyncio.run(rollback(settings.database_url, revision))
    typer.echo(f"database is at revision {asyncio.run(current_revision(settings.database_url))}")


@app.command("backup")
def backup_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .tar.gz to write.")],
    config: ConfigOption = None,
) -> None:
    """Back up the database (SQLite or PostgreSQL) and the data folder (secrets, keys, files)."""
    from cloud.operations.backup import BackupError, backup  # noqa: PLC0415
    from cloud.settings import load_settings  # noqa: PLC0415

    try:
        manifest = backup(load_settings(_config(ctx, config)), output)
    except BackupError as exc:
        typer.echo(f"3dpot cloud backup: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"backed up {manifest.dialect} database at revision {manifest.revision} to {output}")


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A backup made by `3dpot cloud backup`.")],
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a database that has users.")] = False,
) -> None:
    """Restore a backup into the configured database and data folder, then migrate to the newest schema."""
    from cloud.operations.backup import BackupError, restore  # noqa: PLC0415
    from cloud.settings import load_settings  # noqa: PLC0415

    try:
        manifest = restore(load_settings(_config(ctx, config)), source, force=force)
    except BackupError as exc:
        typer.echo(f"3dpot cloud restore: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"restored a {manifest.dialect} backup of {manifest.created_at} (revision {manifest.revision})"
    )
