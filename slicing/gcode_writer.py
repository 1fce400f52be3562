"""G-code text: one layer's moves (run by run, bulk string formatting), the header with the figures
printer screens read (``;TIME:``, ``; filament used [mm] =``, thumbnail block), start and end scripts.

Marker conventions follow Cura (``;LAYER:n``, ``;TYPE:WALL-OUTER``) which printer firmwares, OctoPrint
plugins and viewers recognise, plus PrusaSlicer's ``; filament used [mm] =`` line.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable

import numpy as np

from slicing.planner import EXTRUDE, LIFT, PRIME, RETRACT, TRAVEL, Moves
from slicing.profiles import Profile
from slicing.toolpath import TYPE_NAMES, Feature

THUMBNAIL_LINE = 78


# Row templates by (kind, first row of its run): the values of a row are (x, y, e, z, F) and `_SLOTS` says
# which of them its template prints, so one %-format over the whole layer writes every line.
_X, _Y, _E, _Z, _F = range(5)
_TEMPLATES: dict[tuple[int, bool], tuple[str, tuple[int, ...]]] = {
    (EXTRUDE, True): ("G1 X%.3f Y%.3f E%.5f F%.0f\n", (_X, _Y, _E, _F)),
    (EXTRUDE, False): ("G1 X%.3f Y%.3f E%.5f\n", (_X, _Y, _E)),
    (TRAVEL, True): ("G0 X%.3f Y%.3f F%.0f\n", (_X, _Y, _F)),
    (TRAVEL, False): ("G0 X%.3f Y%.3f\n", (_X, _Y)),
    (RETRACT, True): ("G1 E%.5f F%.0f\n", (_E, _F)),
    (RETRACT, False): ("G1 E%.5f F%.0f\n", (_E, _F)),
    (PRIME, True): ("G1 E%.5f F%.0f\n", (_E, _F)),
    (PRIME, False): ("G1 E%.5f F%.0f\n", (_E, _F)),
}
_LIFT = ("G0 Z%.3f F%.0f\n", (_Z, _F))  # one line per run of lifts, at its last row
_KINDS = 5
_TEXT = [""] * (2 * _KINDS)
_SLOTS = np.zeros((2 * _KINDS, 5), dtype=bool)
for (_kind, _first), (_text, _used) in _TEMPLATES.items():
    _TEXT[2 * _kind + _first] = _text
    _SLOTS[2 * _kind + _first, list(_used)] = True
_LIFT_ROW = 2 * LIFT + 1  # LIFT rows: "first" here marks the last row of the run
_TEXT[_LIFT_ROW] = _LIFT[0]
_SLOTS[_LIFT_ROW, list(_LIFT[1])] = True


def layer_text(index: int, z_mm: float, moves: Moves, fan_command: str | None) -> str:
    """The G-code of one layer, starting with its ``;LAYER:`` marker.

    A run is a stretch of moves of one kind, feed and feature: its first G0/G1 line carries the feed
    (``F``), a ``;TYPE:`` line goes before an extrusion run whose type name differs from the last one, a
    run of lifts is one ``G0 Z`` line. The lines are written by one %-format over the whole layer (row
    templates picked with numpy), not run by run: a layer has thousands of short runs (infill).
    """
    head = f";LAYER:{index}\n;Z:{z_mm:.3f}\n" + (f"{fan_command}\n" if fan_command else "")
    n = len(moves.kind)
    if n == 0:
        return head
    kind, feed, feature = moves.kind, moves.feed, moves.feature
    change = (kind[1:] != kind[:-1]) | (feed[1:] != feed[:-1]) | (feature[1:] != feature[:-1])
    first = np.r_[True, change]
    last = np.r_[change, True]
    row = 2 * kind.astype(np.int64) + np.where(kind == LIFT, last, first)
    values = np.empty((n, 5))
    values[:, :2] = moves.xyz[:, :2]
    values[:, _E] = moves.e
    values[:, _Z] = moves.xyz[:, 2]
    values[:, _F] = feed * 60.0
    templates = [_TEXT[r] for r in row.tolist()]
    last_type = ""
    for lo in np.flatnonzero(first & (kind == EXTRUDE)).tolist():
        name = TYPE_NAMES[Feature(int(feature[lo]))]
        if name != last_type:
            templates[lo] = f";TYPE:{name}\n" + templates[lo]
            last_type = name
    return head + "".join(templates) % tuple(values[_SLOTS[row]].tolist())


def template_values(profile: Profile, top_z_mm: float) -> dict[str, float]:
    p, pr = profile.printer, profile.print
    prime_len = min(80.0, p.bed_y_mm - 40.0)
    prime_e = prime_len * 0.3 * profile.line_width_mm * 1.5 / profile.filament_area_mm2
    return {
        "nozzle_c": pr.nozzle_c,
        "bed_c": pr.bed_c,
        "first_layer_nozzle_c": pr.first_layer_nozzle_c
        if pr.first_layer_nozzle_c is not None
        else pr.nozzle_c,
        "first_layer_bed_c": pr.first_layer_bed_c if pr.first_layer_bed_c is not None else pr.bed_c,
        "prime_end_y_mm": round(20.0 + prime_len, 3),
        "prime_e_mm": round(prime_e, 4),
        "park_x_mm": 0.0,
        "park_y_mm": round(p.bed_y_mm - 10.0, 3),
        "park_z_mm": round(min(p.max_z_mm, top_z_mm + 10.0), 3),
        "bed_x_mm": p.bed_x_mm,
        "bed_y_mm": p.bed_y_mm,
    }


def render_template(template: str, values: dict[str, float]) -> str:
    text = template.format_map({k: f"{v:g}" for k, v in values.items()})
    return text if text.endswith("\n") else text + "\n"


def thumbnail_block(png: bytes, width: int, height: int) -> str:
    """PrusaSlicer's thumbnail comment block (base64 PNG, 78 characters a line)."""
    data = base64.b64encode(png).decode("ascii")
    lines = [f"; thumbnail begin {width}x{height} {len(data)}"]
    lines += [f"; {data[i : i + THUMBNAIL_LINE]}" for i in range(0, len(data), THUMBNAIL_LINE)]
    lines.append("; thumbnail end")
    return "\n".join(lines) + "\n;\n"


def header(
    profile: Profile,
    layers: int,
    time_s: float,
    filament_mm: float,
    bounds: np.ndarray,
    thumbnails: Iterable[str] = (),
) -> str:
    """Comment header: flavour, figures, extruding bounding box (Cura's MINX..MAXZ keys)."""
    grams = filament_mm * profile.filament_area_mm2 / 1000.0 * 1.24
    lines = [
        ";FLAVOR:Marlin",
        f";TIME:{math.ceil(time_s)}",
        f";Filament used: {filament_mm / 1000.0:.5f}m",
        f";Layer height: {profile.print.layer_height_mm:g}",
        f";MINX:{bounds[0, 0]:.3f}",
        f";MINY:{bounds[0, 1]:.3f}",
        f";MINZ:{bounds[0, 2]:.3f}",
        f";MAXX:{bounds[1, 0]:.3f}",
        f";MAXY:{bounds[1, 1]:.3f}",
        f";MAXZ:{bounds[1, 2]:.3f}",
        ";Generated with 3D Pot slicer",
        f"; filament used [mm] = {filament_mm:.2f}",
        f"; filament used [cm3] = {filament_mm * profile.filament_area_mm2 / 1000.0:.2f}",
        f"; filament used [g] = {grams:.2f}",
        f"; estimated printing time (normal mode) = {format_duration(time_s)}",
        f";LAYER_COUNT:{layers}",
    ]
    return "\n".join(lines) + "\n" + "".join(thumbnails)


def format_duration(seconds: float) -> str:
    s = round(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d}d"] if d else []
    parts += [f"{h}h"] if h or d else []
    parts += [f"{m}m"] if m or h or d else []
    return " ".join([*parts, f"{s}s"])
