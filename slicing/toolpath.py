"""What a layer prints, in order: skirt/brim, then island by island (nearest first) its perimeters from
the inside out, its gap fill, its solid skin and its sparse infill.

Perimeters go inner first, outer last: the outer wall is laid against walls already printed, so it comes
out where the outline is (better dimensions and surface than outer-first, at the cost of overhangs that
lean on the outer wall); it is also what PrusaSlicer and Cura do by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from slicing import polygons
from slicing.gapfill import GapLine
from slicing.mesh_io import FloatArray
from slicing.perimeters import IslandWalls
from slicing.polygons import IntPath, Region


class Feature(IntEnum):
    SKIRT = 0
    WALL_INNER = 1
    WALL_OUTER = 2
    SKIN = 3
    FILL = 4
    GAP_FILL = 5


TYPE_NAMES = {
    Feature.SKIRT: "SKIRT",
    Feature.WALL_INNER: "WALL-INNER",
    Feature.WALL_OUTER: "WALL-OUTER",
    Feature.SKIN: "SKIN",
    Feature.FILL: "FILL",
    Feature.GAP_FILL: "SKIN",
}
"""Cura's names; gap fill is ``SKIN`` as in CuraEngine 4, which prints its gap fill with the skin."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One extrusion run: ``points`` (k, 2) float64 mm, a closed loop repeats its first point at the end;
    ``widths`` (k,) mm the line width at each point when it varies (gap fill), else None (the profile's)."""

    feature: Feature
    points: FloatArray
    widths: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class IslandFill:
    """Open paths (clipper units) of one island's skin and sparse infill, already in print order, and
    its gap-fill lines (any order)."""

    skin: list[IntPath]
    fill: list[IntPath]
    gaps: list[GapLine] = field(default_factory=list)


def _loop_from(path_mm: FloatArray, near: FloatArray) -> FloatArray:
    """A closed loop (k, 2) rotated to start at its vertex nearest ``near``, first point repeated last."""
    i = int(np.argmin(((path_mm - near) ** 2).sum(axis=1)))
    return np.concatenate((path_mm[i:], path_mm[: i + 1]))  # np.roll by -i, then its first point again


def _nearest_loops(loops: Region, pos: FloatArray, feature: Feature, out: list[Piece]) -> FloatArray:
    """Append ``loops`` greedily nearest-first; returns the new position."""
    left = [polygons.to_mm(p) for p in loops]
    while left:
        if len(left) == 1:  # the usual case: nothing to choose from
            loop = _loop_from(left.pop(), pos)
            out.append(Piece(feature, loop))
            end: FloatArray = loop[-1]
            return end
        dists = [float(((p - pos) ** 2).sum(axis=1).min()) for p in left]
        loop = _loop_from(left.pop(int(np.argmin(dists))), pos)
        out.append(Piece(feature, loop))
        pos = loop[-1]
    return pos


def _gap_pieces(lines: list[GapLine], pos: FloatArray, out: list[Piece]) -> FloatArray:
    """Gap-fill lines nearest-first from ``pos``, each from its nearer end (closed ones from their
    nearest point)."""
    left = list(lines)
    while left:
        dists = []
        for line in left:
            d = ((line.points - pos) ** 2).sum(axis=1)
            closed = bool(np.allclose(line.points[0], line.points[-1]))
            dists.append(float(d.min()) if closed else float(min(d[0], d[-1])))
        line = left.pop(int(np.argmin(dists)))
        pts, wid = line.points, line.widths
        if np.allclose(pts[0], pts[-1]) and len(pts) > 2:
            i = int(np.argmin(((pts[:-1] - pos) ** 2).sum(axis=1)))
            pts = np.vstack([np.roll(pts[:-1], -i, axis=0), np.roll(pts[:-1], -i, axis=0)[:1]])
            wid = np.r_[np.roll(wid[:-1], -i), np.roll(wid[:-1], -i)[:1]]
        elif ((pts[-1] - pos) ** 2).sum() < ((pts[0] - pos) ** 2).sum():
            pts, wid = pts[::-1], wid[::-1]
        out.append(Piece(Feature.GAP_FILL, pts, wid))
        pos = pts[-1]
    return pos


def _open_pieces(paths: list[IntPath], feature: Feature, pos: FloatArray, out: list[Piece]) -> FloatArray:
    if not paths:
        return pos
    first, last = paths[0][0] / polygons.SCALE, paths[-1][-1] / polygons.SCALE
    # The caller ordered them; run the whole list backwards if that starts nearer.
    if ((last - pos) ** 2).sum() < ((first - pos) ** 2).sum():
        paths = [p[::-1] for p in reversed(paths)]
    for p in paths:
        out.append(Piece(feature, polygons.to_mm(p)))
    end: FloatArray = out[-1].points[-1]
    return end


def layer_pieces(
    walls: list[IslandWalls],
    fills: list[IslandFill],
    skirt: Region,
    start_xy: FloatArray,
) -> list[Piece]:
    """Order one layer's extrusions from ``start_xy`` (2,) float64 mm."""
    out: list[Piece] = []
    pos = _nearest_loops(skirt, start_xy, Feature.SKIRT, out) if skirt else start_xy
    anchors = [polygons.to_mm(w.outline[0]) for w in walls]
    left = list(range(len(walls)))
    while left:
        dists = [float(((anchors[i] - pos) ** 2).sum(axis=1).min()) for i in left]
        i = left.pop(int(np.argmin(dists)))
        island = walls[i]
        for depth in range(len(island.loops) - 1, -1, -1):
            feature = Feature.WALL_OUTER if depth == 0 else Feature.WALL_INNER
            pos = _nearest_loops(island.loops[depth], pos, feature, out)
        pos = _gap_pieces(fills[i].gaps, pos, out)
        pos = _open_pieces(fills[i].skin, Feature.SKIN, pos, out)
        pos = _open_pieces(fills[i].fill, Feature.FILL, pos, out)
    return out
