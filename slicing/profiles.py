"""Printer and print profiles: frozen dataclasses with sane defaults, read from TOML, JSON or a PrusaSlicer
``.ini`` (its main keys), with command-line overrides on top. A typo is an error (unknown keys are refused).

Values are checked and converted the way pydantic's lax mode does, with its messages (``print.perimeters:
Input should be greater than or equal to 1``): these were pydantic models, whose import and schema building
cost ~65 ms at every slicer start (more than slicing a small part), for 50 plain fields.

File shape (TOML; JSON is the same tree)::

    [printer]
    bed_x_mm = 220
    [print]
    layer_height_mm = 0.2
    infill_pattern = "grid"
"""

from __future__ import annotations

import dataclasses
import json
import math
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

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


class InvalidSetting(ValueError):
    """A setting that does not check out: ``loc`` (``print.perimeters``, empty for the whole profile)."""

    def __init__(self, loc: str, msg: str) -> None:
        super().__init__(f"{loc}: {msg}" if loc else msg)
        self.loc = loc
        self.msg = msg


def Field(  # noqa: N802 - reads like the pydantic declarations it replaces
    default: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    description: str = "",
) -> Any:
    """A setting with limits (checked in `_Section.__post_init__`)."""
    return dataclasses.field(default=default, metadata={"gt": gt, "ge": ge, "le": le, "doc": description})


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _to_float(value: Any) -> float:
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise InvalidSetting(
                "", "Input should be a valid number, unable to parse string as a number"
            ) from None
    raise InvalidSetting("", "Input should be a valid number")


def _to_int(value: Any) -> int:
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                number = float(value.strip())
            except ValueError:
                number = math.nan
            if not number.is_integer():
                raise InvalidSetting(
                    "", "Input should be a valid integer, unable to parse string as an integer"
                ) from None
            return int(number)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidSetting("", "Input should be a finite number")
        if not value.is_integer():
            raise InvalidSetting("", "Input should be a valid integer, got a number with a fractional part")
        return int(value)
    raise InvalidSetting("", "Input should be a valid integer")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, str | int | float):
        raise InvalidSetting("", "Input should be a valid boolean, unable to interpret input")
    raise InvalidSetting("", "Input should be a valid boolean")


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidSetting("", "Input should be a valid string")
    return value


def _to_enum(kind: type[StrEnum]) -> Callable[[Any], Any]:
    names = [f"'{m.value}'" for m in kind]
    expected = f"Input should be {', '.join(names[:-1])} or {names[-1]}"

    def convert(value: Any) -> StrEnum:
        if isinstance(value, kind):
            return value
        if isinstance(value, str) and value in kind._value2member_map_:
            return kind(value)
        raise InvalidSetting("", expected)

    return convert


def _check_limits(value: float, meta: Mapping[str, Any]) -> None:
    # pydantic's order: le before ge/gt (NaN fails "less than or equal" first).
    le, ge, gt = meta["le"], meta["ge"], meta["gt"]
    if le is not None and not value <= le:
        raise InvalidSetting("", f"Input should be less than or equal to {le:g}")
    if ge is not None and not value >= ge:
        raise InvalidSetting("", f"Input should be greater than or equal to {ge:g}")
    if gt is not None and not value > gt:
        raise InvalidSetting("", f"Input should be greater than {gt:g}")


class _Section:
    """A profile section: every field converted and checked on construction; `from_mapping` refuses
    unknown keys."""

    __slots__ = ()
    _converters: dict[str, tuple[Callable[[Any], Any], bool, Mapping[str, Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._converters = {}

    @classmethod
    def _prepare(cls) -> None:
        """Converters from the field annotations (strings: ``float``, ``int | None``, an enum's name)."""
        simple: dict[str, Callable[[Any], Any]] = {
            "float": _to_float,
            "int": _to_int,
            "bool": _to_bool,
            "str": _to_str,
            "Flavour": _to_enum(Flavour),
            "InfillPattern": _to_enum(InfillPattern),
        }
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            kind = str(f.type)
            optional = kind.endswith(" | None")
            cls._converters[f.name] = (simple[kind.removesuffix(" | None")], optional, f.metadata)

    def __post_init__(self) -> None:
        if not self._converters:
            self._prepare()
        for name, (convert, optional, meta) in self._converters.items():
            value = getattr(self, name)
            if value is None and optional:
                continue
            try:
                value = convert(value)
                if meta and isinstance(value, int | float) and not isinstance(value, bool):
                    _check_limits(value, meta)
            except InvalidSetting as exc:
                raise InvalidSetting(name, exc.msg) from None
            object.__setattr__(self, name, value)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        section = cls(**{k: v for k, v in values.items() if k in known})
        for key in values:
            if key not in known:
                raise InvalidSetting(str(key), "Extra inputs are not permitted")
        return section


@dataclass(frozen=True, slots=True)
class PrinterProfile(_Section):
    name: str = "3D Pot generic 220"
    bed_x_mm: float = Field(default=220.0, gt=0, le=2000)
    bed_y_mm: float = Field(default=220.0, gt=0, le=2000)
    max_z_mm: float = Field(default=250.0, gt=0, le=2000)
    nozzle_mm: float = Field(default=0.4, gt=0.05, le=2.0)
    filament_diameter_mm: float = Field(default=1.75, gt=0.5, le=4.0)
    max_nozzle_c: float = Field(default=285.0, gt=0, le=500)
    max_bed_c: float = Field(default=110.0, ge=0, le=200)
    flavour: Flavour = Flavour.MARLIN
    start_gcode: str = DEFAULT_START_GCODE
    end_gcode: str = DEFAULT_END_GCODE
    max_accel_mm_s2: float = Field(default=1000.0, gt=0, description="For the time estimate.")
    jerk_mm_s: float = Field(default=8.0, ge=0, description="Classic jerk, for the estimate.")
    max_feed_mm_s: float = Field(default=200.0, gt=0)
    max_feed_z_mm_s: float = Field(default=12.0, gt=0)


@dataclass(frozen=True, slots=True)
class PrintProfile(_Section):
    layer_height_mm: float = Field(default=0.2, gt=0.01, le=1.0)
    first_layer_height_mm: float = Field(default=0.2, gt=0.01, le=1.0)
    line_width_mm: float | None = Field(default=None, gt=0.05, le=3.0, description="Default: nozzle.")
    perimeters: int = Field(default=2, ge=1, le=20)
    top_layers: int = Field(default=3, ge=0, le=50)
    bottom_layers: int = Field(default=3, ge=0, le=50)
    infill_density_pct: float = Field(default=20.0, ge=0.0, le=100.0)
    infill_pattern: InfillPattern = InfillPattern.GRID
    infill_overlap_pct: float = Field(default=10.0, ge=0, le=50, description="Of the line width.")
    solid_infill_below_area_mm2: float = Field(
        default=SOLID_BELOW_AREA_DEFAULT,
        ge=0,
        le=10_000,
        description="Sparse infill areas smaller than this are printed solid (PrusaSlicer's key).",
    )
    gap_fill: bool = Field(default=True, description="Variable-width lines in gaps too narrow for a loop.")
    skirt_loops: int = Field(default=1, ge=0, le=20)
    skirt_distance_mm: float = Field(default=3.0, ge=0, le=50)
    brim_width_mm: float = Field(default=0.0, ge=0, le=50)
    perimeter_speed_mm_s: float = Field(default=45.0, gt=0, le=1000)
    external_perimeter_speed_mm_s: float = Field(default=30.0, gt=0, le=1000)
    infill_speed_mm_s: float = Field(default=80.0, gt=0, le=1000)
    solid_infill_speed_mm_s: float = Field(default=60.0, gt=0, le=1000)
    gap_fill_speed_mm_s: float = Field(default=30.0, gt=0, le=1000)
    first_layer_speed_mm_s: float = Field(default=20.0, gt=0, le=1000)
    skirt_speed_mm_s: float = Field(default=30.0, gt=0, le=1000)
    travel_speed_mm_s: float = Field(default=150.0, gt=0, le=1000)
    retract_mm: float = Field(default=0.8, ge=0, le=20)
    retract_speed_mm_s: float = Field(default=35.0, gt=0, le=200)
    retract_min_travel_mm: float = Field(default=1.5, ge=0, le=50)
    fan_pct: float = Field(default=100.0, ge=0, le=100)
    fan_off_layers: int = Field(default=1, ge=0, le=100, description="Layers printed with the fan off.")
    min_layer_time_s: float = Field(default=5.0, ge=0, le=600)
    min_print_speed_mm_s: float = Field(default=10.0, gt=0, le=1000)
    nozzle_c: float = Field(default=210.0, ge=0, le=500)
    bed_c: float = Field(default=60.0, ge=0, le=200)
    first_layer_nozzle_c: float | None = None
    first_layer_bed_c: float | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """A printer and a print profile, checked against each other."""

    printer: PrinterProfile = dataclasses.field(default_factory=PrinterProfile)
    print: PrintProfile = dataclasses.field(default_factory=PrintProfile)

    def __post_init__(self) -> None:
        try:
            self._limits()
        except ValueError as exc:
            raise InvalidSetting("", f"Value error, {exc}") from None

    @classmethod
    def from_mapping(cls, tree: Mapping[str, Any]) -> Profile:
        """A profile from a tree ``{"printer": {...}, "print": {...}}``. Raises `InvalidSetting`."""
        sections: dict[str, Any] = {}
        for name, kind in (("printer", PrinterProfile), ("print", PrintProfile)):
            if name not in tree:
                continue
            value = tree[name]
            if isinstance(value, kind):
                sections[name] = value
            elif isinstance(value, Mapping):
                try:
                    sections[name] = kind.from_mapping(value)
                except InvalidSetting as exc:
                    raise InvalidSetting(f"{name}.{exc.loc}", exc.msg) from None
            else:
                raise InvalidSetting(
                    name, f"Input should be a valid dictionary or instance of {kind.__name__}"
                )
        for key in tree:
            if key not in ("printer", "print"):
                raise InvalidSetting(str(key), "Extra inputs are not permitted")
        return cls(**sections)

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
        return Profile.from_mapping(merged)
    except InvalidSetting as exc:
        raise ProfileError(f"profile: {exc.loc + ': ' if exc.loc else ''}{exc.msg}") from None


def load_profile(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Profile:
    trees = [read_profile_file(path)] if path else []
    return build_profile(*trees, overrides or {})
