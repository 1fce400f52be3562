"""The `3dpot` console script: one typer app, each command's body lives in `threedpot.commands`."""

from __future__ import annotations

import typer

from threedpot.commands import agent, cloud, demo, print_file, slice, virtual_printer

app = typer.Typer(
    name="3dpot",
    help="3D Pot: edge-first 3D-printer controller with cloud sync.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("virtual-printer")(virtual_printer.command)
app.command("print")(print_file.command)
app.command("slice")(slice.command)
app.command("demo")(demo.command)
app.command("agent")(agent.command)
app.add_typer(cloud.app, name="cloud")


def main() -> None:
    app()
