"""G-code text: one layer's moves (run by run, bulk string formatting), the header with the figures
printer screens read (``;TIME:``, ``; filament used [mm] =``, thumbnail block), start and end scripts.

Marker conventions follow Cura (``;LAYER:n``, ``;TYPE:WALL-OUTER``) which printer firmwares, OctoPrint
plugins and viewers recognise, plus PrusaSlicer's ``; filament used [mm] =`` line.
"""

from __future__ import annotations

import base64
import itertools
import math
from collections.abc import Iterable

import numpy as np

from slicing.planner import EXTRUDE, LIFT, PRIME, RETRACT, TRAVEL, Moves
from slicing.profiles import Profile
from slicing.toolpath import TYPE_NAMES, Feature

THUMBNAIL_LINE = 78


def layer_text(index: int, z_mm: float, moves: Moves, fan_command: str | None) -> str:
    """The G-code of one layer, starting with its ``;LAYER:`` marker."""
    out = [f";LAYER:{index}", f";Z:{z_mm:.3f}"]
    if fan_command:
        out.append(fan_command)
    n = len(moves.kind)
    if n == 0:
        return "\n".join(out) + "\n"
    kind, feed, feature = moves.kind, moves.feed, moves.feature
    change = np.flatnonzero((kind[1:] != kind[:-1]) | (feed[1:] != feed[:-1]) | (feature[1:] != feature[:-1]))
    bounds = np.r_[0, change + 1, n].tolist()
    xyz, e = moves.xyz, moves.e
    last_type = ""
    for lo, hi in itertools.pairwise(bounds):
        k = int(kind[lo])
        f_mm_min = feed[lo] * 60.0
        count = hi - lo
        if k == EXTRUDE:
            name = TYPE_NAMES[Feature(int(feature[lo]))]
            if name != last_type:
                out.append(f";TYPE:{name}")
                last_type = name
            values = np.column_stack([xyz[lo:hi, :2], e[lo:hi]]).ravel().tolist()
            text = ("G1 X%.3f Y%.3f E%.5f\n" * count) % tuple(values)
            out.append(text[: text.index("\n")] + f" F{f_mm_min:.0f}" + text[text.index("\n") : -1])
        elif k == TRAVEL:
            values = xyz[lo:hi, :2].ravel().tolist()
            text = ("G0 X%.3f Y%.3f\n" * count) % tuple(values)
            out.append(text[: text.index("\n")] + f" F{f_mm_min:.0f}" + text[text.index("\n") : -1])
        elif k in (RETRACT, PRIME):
            out.extend([f"G1 E{c:.5f} F{f_mm_min:.0f}" for c in e[lo:hi].tolist()])
        elif k == LIFT:
            out.append(f"G0 Z{xyz[hi - 1, 2]:.3f} F{f_mm_min:.0f}")
    return "\n".join(out) + "\n"


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
