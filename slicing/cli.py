"""The slicer's command line: `3dpot slice MODEL -o OUT.gcode` (also `python -m slicing MODEL -o OUT.gcode`,
which skips importing the rest of 3D Pot).

Bad input (unreadable or empty mesh, NaN vertices, zero volume, too big for the bed, a bad profile) ends
with one ``error: ...`` line on stderr, exit code 2, and no output file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from slicing import SliceError, load_profile, slice_file
from slicing.errors import ProfileError
from slicing.profiles import InfillPattern


def _bed(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise ProfileError(f"--bed {text!r}: expected WIDTHxDEPTH in mm, e.g. 220x220") from None
    return x, y


def _density(text: str) -> float:
    try:
        return float(text.rstrip("%")) if text.endswith("%") or float(text) > 1 else 100.0 * float(text)
    except ValueError:
        raise ProfileError(f"--infill-density {text!r}: expected a percentage, e.g. 20 or 20%") from None


def overrides(**options: Any) -> dict[str, dict[str, Any]]:
    """Command-line options → a profile tree (only the options given)."""
    printer: dict[str, Any] = {}
    print_: dict[str, Any] = {}
    names = {
        "layer_height": ("print", "layer_height_mm"),
        "first_layer_height": ("print", "first_layer_height_mm"),
        "perimeters": ("print", "perimeters"),
        "top_layers": ("print", "top_layers"),
        "bottom_layers": ("print", "bottom_layers"),
        "infill_pattern": ("print", "infill_pattern"),
        "skirt_loops": ("print", "skirt_loops"),
        "brim_width": ("print", "brim_width_mm"),
        "nozzle_temp": ("print", "nozzle_c"),
        "bed_temp": ("print", "bed_c"),
        "nozzle": ("printer", "nozzle_mm"),
        "filament_diameter": ("printer", "filament_diameter_mm"),
    }
    for option, value in options.items():
        if value is None:
            continue
        if option == "bed":
            printer["bed_x_mm"], printer["bed_y_mm"] = _bed(value)
        elif option == "infill_density":
            print_["infill_density_pct"] = _density(value)
        else:
            section, key = names[option]
            (printer if section == "printer" else print_)[key] = (
                value.value if isinstance(value, InfillPattern) else value
            )
    return {"printer": printer, "print": print_}


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
    try:
        options = overrides(
            layer_height=layer_height,
            first_layer_height=first_layer_height,
            perimeters=perimeters,
            infill_density=infill_density,
            infill_pattern=infill_pattern,
            top_layers=top_layers,
            bottom_layers=bottom_layers,
            nozzle=nozzle,
            nozzle_temp=nozzle_temp,
            bed_temp=bed_temp,
            bed=bed,
            filament_diameter=filament_diameter,
            skirt_loops=skirt_loops,
            brim_width=brim_width,
        )
        settings = load_profile(profile, options)
        show = sys.stderr.isatty() and not json_out
        with Progress(
            TextColumn("[bold]slicing {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("layers"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not show,
        ) as bar:
            task = bar.add_task(model.name, total=None)

            def on_progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = slice_file(model, output, settings, workers=workers, progress=on_progress)
    except SliceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        raise typer.Exit(130) from None
    figures = {
        "layers": result.layers,
        "filament_mm": round(result.filament_mm, 2),
        "time_s": round(result.time_s, 1),
        "bounds": result.bounds.round(3).tolist(),
        "timings_s": {k: round(v, 4) for k, v in result.timings_s.items()},
    }
    if json_out:
        typer.echo(json.dumps(figures))
    else:
        hours, rest = divmod(round(result.time_s), 3600)
        typer.echo(
            f"{output}: {result.layers} layers, {result.filament_mm / 1000:.2f} m of filament, "
            f"about {hours}h {rest // 60:02d}m",
            err=True,
        )


def main() -> None:
    """``python -m slicing``: the same command without the rest of the 3dpot CLI."""
    typer.run(command)
