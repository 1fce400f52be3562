"""Printer and print profiles: frozen msgspec structs with sane defaults, read from TOML, JSON or a
PrusaSlicer ``.ini`` (its main keys), with command-line overrides on top. A typo is an error (unknown keys
are refused); a bad value is one line (``profile: print.perimeters: Expected `int` >= 1``).

msgspec rather than pydantic here: these were pydantic models, whose import and schema building cost
~60 ms at every slicer start, more than slicing a small part; msgspec adds ~6 ms after numpy.

File shape (TOML; JSON is the same tree)::

    [printer]
    bed_x_mm = 220
    [print]
    layer_height_mm = 0.2
    infill_pattern = "grid"
"""

from __future__ import annotations

import json
import math
import string
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from slicing.errors import ProfileError

DEFAULT_START_GCODE = """\
M140 S{first_layer_bed_c}
M104 S{first_layer_nozzle_c}
M190 S{first_layer_bed_c}
M109 S{first_layer_nozzle_c}
G28
G90
M83
G92 E0
G1 Z2 F3000
G1 X2 Y20 F6000
G1 Z0.3 F3000
G1 X2 Y{prime_end_y_mm} E{prime_e_mm} F1500
G1 X2.4 Y{prime_end_y_mm} F1500
G1 Z1 F3000
"""

DEFAULT_END_GCODE = """\
M104 S0
M140 S0
M107
G1 E-2 F2100
G1 Z{park_z_mm} F3000
G1 X{park_x_mm} Y{park_y_mm} F6000
M84
"""


SOLID_BELOW_AREA_DEFAULT = 70.0
"""mm²; PrusaSlicer's default for ``solid_infill_below_area`` (Cura has no such setting)."""


class Flavour(StrEnum):
    MARLIN = "marlin"
    KLIPPER = "klipper"
    REPRAPFIRMWARE = "reprapfirmware"


class InfillPattern(StrEnum):
    GRID = "grid"
    RECTILINEAR = "rectilinear"
    GYROID = "gyroid"


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A profile section: values converted and checked by ``msgspec.convert`` (lax, so ``"0.2"`` from an
    .ini or the command line reads as 0.2); an unknown key is an error."""


class PrinterProfile(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str = "3D Pot generic 220"
    bed_x_mm: Annotated[float, Meta(gt=0, le=2000)] = 220.0
    bed_y_mm: Annotated[float, Meta(gt=0, le=2000)] = 220.0
    max_z_mm: Annotated[float, Meta(gt=0, le=2000)] = 250.0
    nozzle_mm: Annotated[float, Meta(gt=0.05, le=2.0)] = 0.4
    filament_diameter_mm: Annotated[float, Meta(gt=0.5, le=4.0)] = 1.75
    max_nozzle_c: Annotated[float, Meta(gt=0, le=500)] = 285.0
    max_bed_c: Annotated[float, Meta(ge=0, le=200)] = 110.0
    flavour: Flavour = Flavour.MARLIN
    start_gcode: str = DEFAULT_START_GCODE
    end_gcode: str = DEFAULT_END_GCODE
    max_accel_mm_s2: Annotated[float, Meta(gt=0)] = 1000.0
    """For the time estimate."""
    jerk_mm_s: Annotated[float, Meta(ge=0)] = 8.0
    """Classic jerk, for the estimate."""
    max_feed_mm_s: Annotated[float, Meta(gt=0)] = 200.0
    max_feed_z_mm_s: Annotated[float, Meta(gt=0)] = 12.0


class PrintProfile(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    layer_height_mm: Annotated[float, Meta(gt=0.01, le=1.0)] = 0.2
    first_layer_height_mm: Annotated[float, Meta(gt=0.01, le=1.0)] = 0.2
    line_width_mm: Annotated[float, Meta(gt=0.05, le=3.0)] | None = None
    """Default: the nozzle's diameter."""
    perimeters: Annotated[int, Meta(ge=1, le=20)] = 2
    top_layers: Annotated[int, Meta(ge=0, le=50)] = 3
    bottom_layers: Annotated[int, Meta(ge=0, le=50)] = 3
    infill_density_pct: Annotated[float, Meta(ge=0.0, le=100.0)] = 20.0
    infill_pattern: InfillPattern = InfillPattern.GRID
    infill_overlap_pct: Annotated[float, Meta(ge=0, le=50)] = 10.0
    """Of the line width."""
    solid_infill_below_area_mm2: Annotated[float, Meta(ge=0, le=10_000)] = SOLID_BELOW_AREA_DEFAULT
    """Sparse infill areas smaller than this are printed solid (PrusaSlicer's key)."""
    gap_fill: bool = True
    """Variable-width lines in gaps too narrow for a loop."""
    skirt_loops: Annotated[int, Meta(ge=0, le=20)] = 1
    skirt_distance_mm: Annotated[float, Meta(ge=0, le=50)] = 3.0
    brim_width_mm: Annotated[float, Meta(ge=0, le=50)] = 0.0
    perimeter_speed_mm_s: Annotated[float, Meta(gt=0, le=1000)] = 45.0
    external_perimeter_speed_mm_s: Annotated[float, Meta(gt=0, le=1000)] = 30.0
    infill_speed_mm_s: Annotated[float, Meta(gt=0, le=1000)] = 80.0
    solid_infill_speed_mm_s: Annotated[float, Meta(gt=0, le=1000)] = 60.0
    gap_fill_speed_mm_s: Annotated[float, Meta(gt=0, le=1000)] = 30.0
    first_layer_speed_mm_s: Annotated[float, Meta(gt=0, le=1000)] = 20.0
    skirt_speed_mm_s: Annotated[float, Meta(gt=0, le=1000)] = 30.0
    travel_speed_mm_s: Annotated[float, Meta(gt=0, le=1000)] = 150.0
    retract_mm: Annotated[float, Meta(ge=0, le=20)] = 0.8
    retract_speed_mm_s: Annotated[float, Meta(gt=0, le=200)] = 35.0
    retract_min_travel_mm: Annotated[float, Meta(ge=0, le=50)] = 1.5
    fan_pct: Annotated[float, Meta(ge=0, le=100)] = 100.0
    fan_off_layers: Annotated[int, Meta(ge=0, le=100)] = 1
    """Layers printed with the fan off."""
    min_layer_time_s: Annotated[float, Meta(ge=0, le=600)] = 5.0
    min_print_speed_mm_s: Annotated[float, Meta(gt=0, le=1000)] = 10.0
    nozzle_c: Annotated[float, Meta(ge=0, le=500)] = 210.0
    bed_c: Annotated[float, Meta(ge=0, le=200)] = 60.0
    first_layer_nozzle_c: float | None = None
    first_layer_bed_c: float | None = None


class Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A printer and a print profile, checked against each other."""

    printer: PrinterProfile = msgspec.field(default_factory=PrinterProfile)
    print: PrintProfile = msgspec.field(default_factory=PrintProfile)

    def __post_init__(self) -> None:
        self._limits()  # its ValueError is a msgspec.ValidationError out of msgspec.convert

    def _limits(self) -> None:
        p, pr = self.printer, self.print
        for what, value in (("nozzle", pr.nozzle_c), ("first-layer nozzle", pr.first_layer_nozzle_c)):
            if value is not None and value > p.max_nozzle_c:
                raise ValueError(
                    f"{what} temperature {value:g} °C is above the printer's {p.max_nozzle_c:g} °C"
                )
        for what, value in (("bed", pr.bed_c), ("first-layer bed", pr.first_layer_bed_c)):
            if value is not None and value > p.max_bed_c:
                raise ValueError(f"{what} temperature {value:g} °C is above the printer's {p.max_bed_c:g} °C")
        if (
            pr.layer_height_mm > 0.8 * self.line_width_mm
            or pr.first_layer_height_mm > 0.8 * self.line_width_mm
        ):
            raise ValueError(
                f"layer height must be at most 80% of the line width ({self.line_width_mm:g} mm)"
            )
        for name, template in (("start_gcode", p.start_gcode), ("end_gcode", p.end_gcode)):
            for _, field, _, _ in string.Formatter().parse(template):
                if field is not None and field not in TEMPLATE_FIELDS:
                    raise ValueError(f"{name} uses unknown placeholder {{{field}}}")

    @property
    def line_width_mm(self) -> float:
        return self.print.line_width_mm or self.printer.nozzle_mm

    @property
    def filament_area_mm2(self) -> float:
        return math.pi * (self.printer.filament_diameter_mm / 2) ** 2


TEMPLATE_FIELDS = frozenset(
    {
        "nozzle_c",
        "bed_c",
        "first_layer_nozzle_c",
        "first_layer_bed_c",
        "prime_end_y_mm",
        "prime_e_mm",
        "park_x_mm",
        "park_y_mm",
        "park_z_mm",
        "bed_x_mm",
        "bed_y_mm",
    }
)

# PrusaSlicer .ini key → (section, our key, converter)
_INI_KEYS: dict[str, tuple[str, str, str]] = {
    "layer_height": ("print", "layer_height_mm", "float"),
    "first_layer_height": ("print", "first_layer_height_mm", "float_or_pct_of_layer"),
    "perimeters": ("print", "perimeters", "int"),
    "top_solid_layers": ("print", "top_layers", "int"),
    "bottom_solid_layers": ("print", "bottom_layers", "int"),
    "fill_density": ("print", "infill_density_pct", "pct"),
    "fill_pattern": ("print", "infill_pattern", "pattern"),
    "skirts": ("print", "skirt_loops", "int"),
    "skirt_distance": ("print", "skirt_distance_mm", "float"),
    "brim_width": ("print", "brim_width_mm", "float"),
    "extrusion_width": ("print", "line_width_mm", "width"),
    "perimeter_speed": ("print", "perimeter_speed_mm_s", "float"),
    "external_perimeter_speed": ("print", "external_perimeter_speed_mm_s", "speed"),
    "infill_speed": ("print", "infill_speed_mm_s", "float"),
    "solid_infill_speed": ("print", "solid_infill_speed_mm_s", "speed"),
    "gap_fill_speed": ("print", "gap_fill_speed_mm_s", "float"),
    "first_layer_speed": ("print", "first_layer_speed_mm_s", "float"),
    "solid_infill_below_area": ("print", "solid_infill_below_area_mm2", "float"),
    "gap_fill_enabled": ("print", "gap_fill", "bool"),
    "travel_speed": ("print", "travel_speed_mm_s", "float"),
    "retract_length": ("print", "retract_mm", "float"),
    "retract_speed": ("print", "retract_speed_mm_s", "float"),
    "retract_before_travel": ("print", "retract_min_travel_mm", "float"),
    "slowdown_below_layer_time": ("print", "min_layer_time_s", "float"),
    "min_print_speed": ("print", "min_print_speed_mm_s", "float"),
    "max_fan_speed": ("print", "fan_pct", "float"),
    "disable_fan_first_layers": ("print", "fan_off_layers", "int"),
    "temperature": ("print", "nozzle_c", "float"),
    "first_layer_temperature": ("print", "first_layer_nozzle_c", "float"),
    "bed_temperature": ("print", "bed_c", "float"),
    "first_layer_bed_temperature": ("print", "first_layer_bed_c", "float"),
    "nozzle_diameter": ("printer", "nozzle_mm", "float"),
    "filament_diameter": ("printer", "filament_diameter_mm", "float"),
    "max_print_height": ("printer", "max_z_mm", "float"),
    "bed_shape": ("printer", "bed", "bed_shape"),
    "machine_max_acceleration_extruding": ("printer", "max_accel_mm_s2", "float"),
    "machine_max_jerk_x": ("printer", "jerk_mm_s", "float"),
}
_PRUSA_PATTERNS = {
    "grid": "grid",
    "rectilinear": "rectilinear",
    "gyroid": "gyroid",
    "alignedrectilinear": "rectilinear",
}


def _ini_value(key: str, kind: str, raw: str, layer_height: float) -> Any:
    first = raw.split(",", maxsplit=1)[0].strip()  # per-extruder lists: the first extruder
    if kind == "int":
        return int(float(first))
    if kind == "float":
        return float(first)
    if kind == "pct":
        return float(first.rstrip("%")) if first.endswith("%") else 100.0 * float(first)
    if kind == "float_or_pct_of_layer":
        return layer_height * float(first[:-1]) / 100 if first.endswith("%") else float(first)
    if kind == "speed":  # a percentage of another speed: keep ours
        return None if first.endswith("%") else float(first)
    if kind == "bool":
        return first.lower() in ("1", "true")
    if kind == "width":
        return None if first.endswith("%") or float(first) == 0 else float(first)
    if kind == "pattern":
        if first not in _PRUSA_PATTERNS:
            raise ProfileError(
                f"PrusaSlicer fill_pattern {first!r} is not supported (grid, rectilinear, gyroid)"
            )
        return _PRUSA_PATTERNS[first]
    raise AssertionError(kind)


def read_prusa_ini(text: str) -> dict[str, dict[str, Any]]:
    """The main keys of a PrusaSlicer config bundle (``key = value`` lines) as a profile tree."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    tree: dict[str, dict[str, Any]] = {"printer": {}, "print": {}}
    layer_height = float(pairs.get("layer_height", "0.2"))
    for key, raw in pairs.items():
        if key not in _INI_KEYS or raw == "":
            continue
        section, ours, kind = _INI_KEYS[key]
        try:
            if kind == "bed_shape":
                corners = [tuple(float(v) for v in c.split("x")) for c in raw.split(",")]
                tree["printer"]["bed_x_mm"] = max(c[0] for c in corners) - min(c[0] for c in corners)
                tree["printer"]["bed_y_mm"] = max(c[1] for c in corners) - min(c[1] for c in corners)
                continue
            value = _ini_value(key, kind, raw, layer_height)
        except (ValueError, IndexError):
            raise ProfileError(f"PrusaSlicer key {key} = {raw!r} is not readable") from None
        if value is not None:
            tree[section][ours] = value
    return tree


def read_profile_file(path: Path) -> dict[str, Any]:
    """A profile file as a plain tree (``{"printer": {...}, "print": {...}}``), by suffix."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc}") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix == ".json":
            tree = json.loads(text)
            if not isinstance(tree, dict):
                raise ProfileError(f"{path}: a profile is a JSON object")
            return tree
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(f"{path}: {str(exc).splitlines()[0]}") from None
    if suffix == ".ini":
        return read_prusa_ini(text)
    raise ProfileError(f"{path}: unknown profile format {suffix!r} (use .toml, .json or a PrusaSlicer .ini)")


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def build_profile(*trees: dict[str, Any]) -> Profile:
    """Defaults < each tree in turn (file, then command-line overrides). Raises `ProfileError`."""
    merged: dict[str, Any] = {}
    for tree in trees:
        merged = _merge(merged, tree)
    try:
        return msgspec.convert(merged, Profile, strict=False)
    except msgspec.ValidationError as exc:
        raise ProfileError(f"profile: {_say(str(exc))}") from None


def _say(error: str) -> str:
    """msgspec's ``Expected `int` >= 1 - at `$.print.perimeters``` as ``print.perimeters: Expected …``."""
    message, _, where = error.partition(" - at `$")
    where = where.rstrip("`").lstrip(".")
    unknown = message.removeprefix("Object contains unknown field `")
    if unknown != message:
        where = f"{where}.{unknown.rstrip('`')}".lstrip(".")
        message = "unknown setting (a typo?)"
    return f"{where}: {message}" if where else message


def load_profile(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Profile:
    trees = [read_profile_file(path)] if path else []
    return build_profile(*trees, overrides or {})
