"""The slicer's command line: `3dpot slice MODEL -o OUT.gcode` (also `python -m slicing MODEL -o OUT.gcode`,
which skips importing the rest of 3D Pot, and typer too when it can: see `slicing.runner`).

Bad input (unreadable or empty mesh, NaN vertices, zero volume, too big for the bed, a bad profile) ends
with one ``error: ...`` line on stderr, exit code 2, and no output file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from slicing.profiles import InfillPattern
from slicing.runner import overrides, run

__all__ = ["command", "main", "overrides"]


def command(
    model: Annotated[Path, typer.Argument(help="STL (ASCII or binary), OBJ or 3MF.", dir_okay=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="G-code file to write.", dir_okay=False)],
    profile: Annotated[
        Path | None, typer.Option("--profile", help="Profile: TOML, JSON or PrusaSlicer .ini.")
    ] = None,
    layer_height: Annotated[float | None, typer.Option(help="Layer height, mm.")] = None,
    first_layer_height: Annotated[float | None, typer.Option(help="First layer height, mm.")] = None,
    perimeters: Annotated[int | None, typer.Option(help="Perimeter loops.")] = None,
    infill_density: Annotated[str | None, typer.Option(help="Sparse infill, percent (20 or 20%).")] = None,
    infill_pattern: Annotated[InfillPattern | None, typer.Option(help="grid, rectilinear or gyroid.")] = None,
    top_layers: Annotated[int | None, typer.Option(help="Solid layers on top surfaces.")] = None,
    bottom_layers: Annotated[int | None, typer.Option(help="Solid layers on bottom surfaces.")] = None,
    nozzle: Annotated[float | None, typer.Option(help="Nozzle diameter, mm (also the line width).")] = None,
    nozzle_temp: Annotated[float | None, typer.Option(help="Nozzle temperature, °C.")] = None,
    bed_temp: Annotated[float | None, typer.Option(help="Bed temperature, °C.")] = None,
    bed: Annotated[str | None, typer.Option(help="Bed size WIDTHxDEPTH in mm, e.g. 220x220.")] = None,
    filament_diameter: Annotated[float | None, typer.Option(help="Filament diameter, mm.")] = None,
    skirt_loops: Annotated[int | None, typer.Option(help="Skirt loops around the first layer.")] = None,
    brim_width: Annotated[float | None, typer.Option(help="Brim width, mm (0 = none).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes (default: one per core).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="End with one JSON line of figures.")] = False,
) -> None:
    """Slice MODEL into G-code at OUTPUT: default profile < --profile FILE < these options."""
    options = {
        "layer_height": layer_height,
        "first_layer_height": first_layer_height,
        "perimeters": perimeters,
        "infill_density": infill_density,
        "infill_pattern": infill_pattern,
        "top_layers": top_layers,
        "bottom_layers": bottom_layers,
        "nozzle": nozzle,
        "nozzle_temp": nozzle_temp,
        "bed_temp": bed_temp,
        "bed": bed,
        "filament_diameter": filament_diameter,
        "skirt_loops": skirt_loops,
        "brim_width": brim_width,
    }
    code = run(model, output, profile, options, workers=workers, json_out=json_out)
    if code:
        raise typer.Exit(code)


def main() -> None:
    """The same command without the rest of the 3dpot CLI (``python -m slicing`` comes here for help and
    for command lines its own quick parser, `slicing.runner.parse`, leaves to typer)."""
    typer.run(command)
