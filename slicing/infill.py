"""Fill patterns: straight lines (rectilinear, grid, solid skin) and gyroid curves, clipped to a region.

Lines are anchored to the bed's origin, not to the region, so the same pattern stacks up layer after
layer. Every function returns open paths (k, 2) int64 in clipper units, ordered for printing.
"""

from __future__ import annotations

import math

import numpy as np

from slicing import polygons
from slicing.polygons import IntPath, Region
from slicing.profiles import InfillPattern

GYROID_SAMPLES_PER_PERIOD = 32
GYROID_LENGTH_PER_CELL = 0.3667
"""Length per unit area of our gyroid curves at period 2π, measured (mean over z; ±8 % layer to layer)."""


def _bounds(region: Region) -> tuple[np.ndarray, np.ndarray]:
    stacked = np.concatenate(region)
    return stacked.min(axis=0).astype(np.float64), stacked.max(axis=0).astype(np.float64)


def _clip_lines(
    region: Region, spacing_mm: float, angle_deg: float
) -> tuple[list[IntPath], np.ndarray, np.ndarray, int]:
    """Pieces of straight lines clipped to ``region`` (unordered), the line direction and normal, and
    how many scan lines crossed the region."""
    theta = math.radians(angle_deg)
    d = np.array([math.cos(theta), math.sin(theta)])
    n = np.array([-math.sin(theta), math.cos(theta)])
    if not region or spacing_mm <= 0:
        return [], d, n, 0
    lo, hi = _bounds(region)
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    spacing = spacing_mm * polygons.SCALE
    across = corners @ n
    along = corners @ d
    k = np.arange(math.ceil(across.min() / spacing), math.floor(across.max() / spacing) + 1)
    if len(k) == 0:
        return [], d, n, 0
    c = k * spacing
    t0, t1 = along.min() - spacing, along.max() + spacing
    starts = c[:, None] * n + t0 * d
    ends = c[:, None] * n + t1 * d
    lines = np.round(np.stack([starts, ends], axis=1)).astype(np.int64)  # (k, 2, 2)
    return polygons.clip_open(list(lines), region), d, n, len(k)


def parallel_lines(region: Region, spacing_mm: float, angle_deg: float) -> list[IntPath]:
    """Straight lines ``spacing_mm`` apart at ``angle_deg``, clipped to ``region``, in print order:
    back and forth along the scan lines when each line crosses once, nearest-next otherwise."""
    pieces, d, n, lines = _clip_lines(region, spacing_mm, angle_deg)
    return _scan_order(pieces, d, n) if len(pieces) <= lines else _nearest_order(pieces)


def grid_lines(region: Region, spacing_mm: float) -> list[IntPath]:
    """Two sets of lines at 45° and 135°, each ``spacing_mm`` apart, in one layer."""
    a, da, na, la = _clip_lines(region, spacing_mm, 45.0)
    b, db, nb, lb = _clip_lines(region, spacing_mm, 135.0)
    if len(a) <= la and len(b) <= lb:
        return _scan_order(a, da, na) + _scan_order(b, db, nb)
    return _nearest_order(a + b)


def _scan_order(paths: list[IntPath], d: np.ndarray, n: np.ndarray) -> list[IntPath]:
    """Sort line pieces by scan line, then along it, and alternate direction (boustrophedon)."""
    if len(paths) <= 1:
        return paths
    mids = np.array([(p[0] + p[-1]) / 2 for p in paths])
    across = np.round(mids @ n / 10.0)  # 10 µm bins: pieces of one scan line share a bin
    along = mids @ d
    order = np.lexsort((along, across))
    out: list[IntPath] = []
    flip = False
    last_line = None
    for i in order.tolist():
        p = paths[i]
        if across[i] != last_line:
            flip = not flip
            last_line = across[i]
        forward = (p[-1] - p[0]) @ d >= 0
        out.append(p if forward != flip else p[::-1])
    return out


def gyroid(region: Region, spacing_mm: float, z_mm: float) -> list[IntPath]:
    """Curves of the gyroid's slice at ``z_mm`` whose mean spacing gives the same density as lines
    ``spacing_mm`` apart, clipped to ``region``."""
    if not region or spacing_mm <= 0:
        return []
    lo, hi = _bounds(region)
    lo, hi = lo / polygons.SCALE, hi / polygons.SCALE
    # Lines s apart give 1/s of length per unit area; a gyroid of period P gives L0 x 2π/P: equal them.
    period = 2 * math.pi * GYROID_LENGTH_PER_CELL * spacing_mm
    freq = 2 * math.pi / period
    zz = z_mm * freq
    step = period / GYROID_SAMPLES_PER_PERIOD
    x0 = math.floor(lo[0] / period) * period
    xs = np.arange(x0, hi[0] + step, step)
    a = np.sin(xs * freq)
    b = math.cos(zz)
    c = -math.sin(zz) * np.cos(xs * freq)
    r = np.hypot(a, b)
    valid = np.abs(c) <= r
    base = np.arctan2(b, a)  # a cos(y) + b sin(y) = r cos(y - base) = c
    ac = np.arccos(np.clip(c / np.maximum(r, 1e-12), -1, 1))
    ky = np.arange(math.floor(lo[1] / period) - 1, math.ceil(hi[1] / period) + 2)
    paths: list[np.ndarray] = []
    runs = np.flatnonzero(np.diff(np.r_[0, valid.astype(np.int8), 0]))
    for start, stop in zip(runs[::2].tolist(), runs[1::2].tolist(), strict=True):
        if stop - start < 2:
            continue
        for sign in (1.0, -1.0):
            y = (base[start:stop] + sign * ac[start:stop]) / freq
            y = np.unwrap(y * freq) / freq
            for k in ky.tolist():
                pts = np.column_stack([xs[start:stop], y + k * period])
                paths.append(np.round(pts * polygons.SCALE).astype(np.int64))
    clipped = polygons.clip_open(paths, region)
    return _nearest_order(clipped)


def _nearest_order(paths: list[IntPath]) -> list[IntPath]:
    """Greedy nearest-end ordering: from the end of each piece, the piece with the nearest end next
    (reversed when its far end is nearer). O(n²) numpy work, O(n) Python steps."""
    n = len(paths)
    if n <= 1:
        return paths
    heads = np.array([p[0] for p in paths], dtype=np.float64)
    tails = np.array([p[-1] for p in paths], dtype=np.float64)
    alive = np.arange(n)
    count = n
    pos = heads[0]
    out: list[IntPath] = []
    while count:
        idx = alive[:count]
        dh = ((heads[idx] - pos) ** 2).sum(axis=1)
        dt = ((tails[idx] - pos) ** 2).sum(axis=1)
        ih, it = int(np.argmin(dh)), int(np.argmin(dt))
        slot, reverse = (ih, False) if dh[ih] <= dt[it] else (it, True)
        i = int(idx[slot])
        count -= 1
        alive[slot], alive[count] = alive[count], alive[slot]
        piece = paths[i][::-1] if reverse else paths[i]
        out.append(piece)
        pos = piece[-1].astype(np.float64)
    return out


def sparse(
    region: Region, pattern: InfillPattern, density_pct: float, width_mm: float, layer: int, z_mm: float
) -> list[IntPath]:
    """Sparse infill of ``region`` at ``density_pct`` (0-100) with lines ``width_mm`` wide."""
    if density_pct <= 0 or not region:
        return []
    spacing = width_mm * 100.0 / density_pct
    if pattern is InfillPattern.GRID:
        return grid_lines(region, 2 * spacing)
    if pattern is InfillPattern.RECTILINEAR:
        return parallel_lines(region, spacing, 45.0 if layer % 2 == 0 else 135.0)
    return gyroid(region, spacing, z_mm)


def solid(region: Region, width_mm: float, layer: int) -> list[IntPath]:
    """Solid skin: lines one width apart, crossing at 90° from one layer to the next."""
    return parallel_lines(region, width_mm, 45.0 if layer % 2 == 0 else 135.0)
