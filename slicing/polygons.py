"""Polygon booleans and offsets on integer coordinates (pyclipper), the one seam to the clipping library.

A *region* is a list of closed paths, each (k, 2) int64 in `SCALE` units per mm, outer boundaries
counter-clockwise and holes clockwise, read with the non-zero rule. An *open path* is (k, 2) int64 too.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import numpy.typing as npt
import pyclipper

SCALE = 1000
"""Clipper units per mm (1 µm)."""

IntPath = npt.NDArray[np.int64]
Region = list[IntPath]

_MITER_LIMIT = 2.0
_ARC_TOLERANCE = 0.01 * SCALE


def to_int(points_mm: npt.NDArray[np.float64]) -> IntPath:
    """(k, 2) float64 mm → (k, 2) int64 clipper units."""
    return np.round(points_mm * SCALE).astype(np.int64)


def to_mm(path: IntPath) -> npt.NDArray[np.float64]:
    return path.astype(np.float64) / SCALE


RawPath = list[list[int]]
"""A path as pyclipper takes and gives it: ``[[x, y], ...]`` of Python ints."""


def _raw(region: list[IntPath]) -> list[RawPath]:
    """Paths for pyclipper. Its AddPaths reads a Python list ~10x faster than an (k, 2) int64 array
    (element by element, each a NumPy scalar), enough to pay for ``tolist`` several times over."""
    return [p.tolist() for p in region]


def _array(path: RawPath) -> IntPath:
    """``np.array(path, dtype=np.int64)`` at half the cost (no nested-sequence discovery)."""
    return np.fromiter(chain.from_iterable(path), np.int64, 2 * len(path)).reshape(-1, 2)


def _paths(result: list[RawPath]) -> Region:
    return [_array(p) for p in result if len(p) >= 3]


def _open_paths(result: list[RawPath]) -> list[IntPath]:
    return [_array(p) for p in result if len(p) >= 2]


def _boolean(subject: Region, clip: Region, op: int) -> Region:
    if not subject:
        return []
    pc = pyclipper.Pyclipper()
    pc.AddPaths(_raw(subject), pyclipper.PT_SUBJECT, True)
    if clip:
        pc.AddPaths(_raw(clip), pyclipper.PT_CLIP, True)
    return _paths(pc.Execute(op, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO))


def union(region: Region, other: Region | None = None) -> Region:
    """Union (also cleans self-intersections and overlaps of one region)."""
    try:
        return _boolean(region, other or [], pyclipper.CT_UNION)
    except pyclipper.ClipperException:  # every path degenerate
        return []


def difference(region: Region, minus: Region) -> Region:
    if not minus:
        return list(region)
    return _boolean(region, minus, pyclipper.CT_DIFFERENCE)


def intersection(region: Region, other: Region) -> Region:
    if not region or not other:
        return []
    return _boolean(region, other, pyclipper.CT_INTERSECTION)


def offset(region: Region, delta_mm: float, *, round_joins: bool = False) -> Region:
    """Grow (delta > 0) or shrink (delta < 0) a region by ``delta_mm``; mitred corners unless round."""
    if not region:
        return []
    if delta_mm == 0:
        return list(region)
    return _paths(_raw_offset(_raw(region), delta_mm, round_joins))


def _raw_offset(raw: list[RawPath], delta_mm: float, round_joins: bool = False) -> list[RawPath]:
    off = pyclipper.PyclipperOffset(_MITER_LIMIT, _ARC_TOLERANCE)
    off.AddPaths(raw, pyclipper.JT_ROUND if round_joins else pyclipper.JT_MITER, pyclipper.ET_CLOSEDPOLYGON)
    result: list[RawPath] = off.Execute(delta_mm * SCALE)
    return result


def offset2(region: Region, first_mm: float, then_mm: float) -> Region:
    """``offset(offset(region, first_mm), then_mm)`` (mitred), the region in between left in pyclipper's
    form (no arrays made of it and lists made of them again): an opening, an inset rounded off, …"""
    return Offsets(inset_paths(region, first_mm)).grown(then_mm)


def inset_paths(region: Region, delta_mm: float) -> list[RawPath]:
    """`offset` (mitred) as pyclipper gives it: paths of 3 points or more, lists of [x, y]."""
    if not region or delta_mm == 0:
        return _raw(region)
    return [p for p in _raw_offset(_raw(region), delta_mm) if len(p) >= 3]


class Offsets:
    """Mitred offsets of one region given as `inset_paths` gave it: handed to pyclipper once for all of
    them. ``Offsets(inset_paths(r, a)).grown(b)`` is ``offset(offset(r, a), b)``."""

    def __init__(self, paths: list[RawPath]) -> None:
        self._paths = paths
        self._off = pyclipper.PyclipperOffset(_MITER_LIMIT, _ARC_TOLERANCE)
        if paths:
            self._off.AddPaths(paths, pyclipper.JT_MITER, pyclipper.ET_CLOSEDPOLYGON)

    def grown(self, delta_mm: float) -> Region:
        if not self._paths:
            return []
        if delta_mm == 0:
            return _paths(self._paths)
        # ClipperOffset.Execute starts afresh every time (it clears its output and offsets the paths
        # added again; fixing their orientation, done each time, changes nothing the second time).
        return _paths(self._off.Execute(delta_mm * SCALE))


def clip_open(paths: list[IntPath], region: Region) -> list[IntPath]:
    """The parts of open ``paths`` inside ``region``."""
    if not paths or not region:
        return []
    pc = pyclipper.Pyclipper()
    pc.AddPaths(_raw(paths), pyclipper.PT_SUBJECT, False)
    pc.AddPaths(_raw(region), pyclipper.PT_CLIP, True)
    tree = pc.Execute2(pyclipper.CT_INTERSECTION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
    return _open_paths(pyclipper.OpenPathsFromPolyTree(tree))


def islands(region: Region) -> list[Region]:
    """Split a region into islands: each an outer boundary followed by its holes."""
    if not region:
        return []
    pc = pyclipper.Pyclipper()
    pc.AddPaths(_raw(region), pyclipper.PT_SUBJECT, True)
    tree = pc.Execute2(pyclipper.CT_UNION, pyclipper.PFT_NONZERO, pyclipper.PFT_NONZERO)
    out: list[Region] = []
    stack = list(tree.Childs)
    while stack:
        node = stack.pop()
        if len(node.Contour) < 3:
            continue
        island = [_array(node.Contour)]
        for hole in node.Childs:
            if len(hole.Contour) >= 3:
                island.append(_array(hole.Contour))
            stack.extend(hole.Childs)
        out.append(island)
    return out


def assign(region: Region, outlines: list[Region]) -> list[Region]:
    """Split ``region`` (lying inside the islands ``outlines``) by island: each of its parts goes to the
    island whose outline holds its first vertex (the innermost one, for an island standing in another's
    hole). One clipper call, not one intersection per island."""
    out: list[Region] = [[] for _ in outlines]
    if not region or not outlines:
        return out
    if len(outlines) == 1:
        return [list(region)]
    boxes = np.array([[*o[0].min(axis=0), *o[0].max(axis=0)] for o in outlines])
    areas = [abs(area_mm2(o[:1])) for o in outlines]
    raw: dict[int, list[RawPath]] = {}  # each outline's paths for PointInPolygon, converted when first used
    for part in islands(region):
        x, y = (int(v) for v in part[0][0])
        near = np.flatnonzero(
            (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
        )
        holders = []
        for i in near.tolist():
            paths = raw[i] if i in raw else raw.setdefault(i, _raw(outlines[i]))
            if pyclipper.PointInPolygon((x, y), paths[0]) != 0 and not any(
                pyclipper.PointInPolygon((x, y), hole) == 1 for hole in paths[1:]
            ):
                holders.append(i)
        if holders:
            out[min(holders, key=lambda i: areas[i])].extend(part)
    return out


def area_mm2(region: Region) -> float:
    """Signed area (holes negative) in mm²."""
    return float(sum(path_areas_mm2(region)))


def path_areas_mm2(region: Region) -> list[float]:
    """Signed area of each path in mm² (shoelace formula)."""
    out = []
    for p in region:
        x, y = p[:, 0].astype(np.float64), p[:, 1].astype(np.float64)
        twice = x[:-1] @ y[1:] - x[1:] @ y[:-1] + x[-1] * y[0] - x[0] * y[-1]
        out.append(0.5 * float(twice) / (SCALE * SCALE))
    return out


def simplify(points_mm: npt.NDArray[np.float64], tolerance_mm: float) -> npt.NDArray[np.float64]:
    """Drop vertices of a closed loop (k, 2) whose removal moves the outline less than ``tolerance_mm``.

    One vectorised pass over every vertex against its two neighbours (not iterated to a fixpoint), so
    long runs of near-collinear points shrink by about half per pass; two passes are used.
    """
    pts = points_mm
    for _ in range(2):
        if len(pts) <= 8:
            return pts
        prev, nxt = np.roll(pts, 1, axis=0), np.roll(pts, -1, axis=0)
        chord = nxt - prev
        length = np.hypot(chord[:, 0], chord[:, 1])
        cross = np.abs(chord[:, 0] * (pts[:, 1] - prev[:, 1]) - chord[:, 1] * (pts[:, 0] - prev[:, 0]))
        dist = np.where(length > 1e-9, cross / np.maximum(length, 1e-9), 0.0)
        drop = dist < tolerance_mm
        drop[1::2] = False  # never two neighbours in one pass
        pts = pts[~drop]
    return pts
