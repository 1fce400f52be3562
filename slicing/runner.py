"""The slicer's command without its parser: options → profile → slice → figures on stdout/stderr.

`slicing.cli` (typer, for ``3dpot slice`` and for help) and ``python -m slicing`` share `run`. ``python -m
slicing`` reads its command line with `parse` (argparse, standard library) because importing typer, click
and rich cost ~40 ms at every start, more than slicing a small part; anything `parse` is not sure of (help,
a bad value, an unknown option, a directory as a path) goes to the typer command instead, so help and
usage errors read the same either way. `tests/unit/test_slicing_parts.py` checks that both parsers know
the same options and read them to the same values.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from slicing.errors import ProfileError, SliceError
from slicing.pipeline import SliceResult, slice_file
from slicing.profiles import InfillPattern, Profile, load_profile


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


PROFILE_OPTIONS: dict[str, tuple[str, str, type]] = {
    "layer_height": ("print", "layer_height_mm", float),
    "first_layer_height": ("print", "first_layer_height_mm", float),
    "perimeters": ("print", "perimeters", int),
    "infill_density": ("print", "infill_density_pct", str),
    "infill_pattern": ("print", "infill_pattern", InfillPattern),
    "top_layers": ("print", "top_layers", int),
    "bottom_layers": ("print", "bottom_layers", int),
    "nozzle": ("printer", "nozzle_mm", float),
    "nozzle_temp": ("print", "nozzle_c", float),
    "bed_temp": ("print", "bed_c", float),
    "bed": ("printer", "bed", str),
    "filament_diameter": ("printer", "filament_diameter_mm", float),
    "skirt_loops": ("print", "skirt_loops", int),
    "brim_width": ("print", "brim_width_mm", float),
}
"""Command-line option → (profile section, key, value type), in the typer command's order."""


def overrides(**options: Any) -> dict[str, dict[str, Any]]:
    """Command-line options → a profile tree (only the options given)."""
    tree: dict[str, dict[str, Any]] = {"printer": {}, "print": {}}
    for option, value in options.items():
        if value is None:
            continue
        if option == "bed":
            tree["printer"]["bed_x_mm"], tree["printer"]["bed_y_mm"] = _bed(value)
        elif option == "infill_density":
            tree["print"]["infill_density_pct"] = _density(value)
        else:
            section, key, _ = PROFILE_OPTIONS[option]
            tree[section][key] = value.value if isinstance(value, InfillPattern) else value
    return tree


def run(
    model: Path,
    output: Path,
    profile: Path | None,
    options: dict[str, Any],
    *,
    workers: int | None,
    json_out: bool,
) -> int:
    """Slice ``model`` into ``output``; returns the exit code (0, 2 for bad input, 130 interrupted)."""
    try:
        settings = load_profile(profile, overrides(**options))
        if sys.stderr.isatty() and not json_out:
            result = _slice_with_bar(model, output, settings, workers)
        else:
            result = slice_file(model, output, settings, workers=workers)
    except SliceError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr, flush=True)
        return 130
    figures = {
        "layers": result.layers,
        "filament_mm": round(result.filament_mm, 2),
        "time_s": round(result.time_s, 1),
        "bounds": result.bounds.round(3).tolist(),
        "timings_s": {k: round(v, 4) for k, v in result.timings_s.items()},
    }
    if json_out:
        print(json.dumps(figures), flush=True)
    else:
        hours, rest = divmod(round(result.time_s), 3600)
        print(
            f"{output}: {result.layers} layers, {result.filament_mm / 1000:.2f} m of filament, "
            f"about {hours}h {rest // 60:02d}m",
            file=sys.stderr,
            flush=True,
        )
    return 0


def _slice_with_bar(model: Path, output: Path, settings: Profile, workers: int | None) -> SliceResult:
    # rich is imported only for a terminal: a pipe or --json run shows no bar and skips its import.
    from rich.console import Console  # noqa: PLC0415 - see above
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[bold]slicing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("layers"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(model.name, total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return slice_file(model, output, settings, workers=workers, progress=on_progress)


class _Unsure(Exception):
    """The fast parser leaves this command line to typer."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Unsure(message)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class _Formatter(argparse.HelpFormatter):
    """A fixed width: argparse's default asks shutil for the terminal's (~1.5 ms to import shutil), and this
    parser never prints help (typer does)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=100)


def _parser() -> _Parser:
    parser = _Parser(prog="slicing", add_help=False, allow_abbrev=False, formatter_class=_Formatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--profile", type=Path)
    for option, (_, _, kind) in PROFILE_OPTIONS.items():
        choices = list(InfillPattern) if kind is InfillPattern else None
        parser.add_argument("--" + option.replace("_", "-"), type=kind, choices=choices)
    parser.add_argument("--workers", type=_positive_int)
    parser.add_argument("--json", dest="json_out", action="store_true")
    return parser


def parse(argv: list[str]) -> dict[str, Any] | None:
    """The typer command's keyword arguments for ``argv``, or None when typer should read it."""
    if any(a in ("-h", "--help") or a.startswith("--help") for a in argv):
        return None
    try:
        values = vars(_parser().parse_args(argv))
    except (_Unsure, ValueError):
        return None
    if values["model"].is_dir() or values["output"].is_dir():
        return None  # typer's dir_okay=False message
    return values


def main(argv: list[str] | None = None) -> None:
    """``python -m slicing``: the command line read by argparse, or by the typer command when unsure."""
    values = parse(sys.argv[1:] if argv is None else argv)
    if values is None:
        from slicing.cli import main as typer_main  # noqa: PLC0415 - typer only when it has to read it

        typer_main()
        return
    options = {k: values.pop(k) for k in PROFILE_OPTIONS}
    code = run(
        values["model"],
        values["output"],
        values["profile"],
        options,
        workers=values["workers"],
        json_out=values["json_out"],
    )
    if code:
        sys.exit(code)
