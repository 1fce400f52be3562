"""Gap fill: one line of variable width along the middle of areas too narrow for another perimeter or for
infill (between perimeters, inside the innermost one, or a whole wall thinner than two line widths).

The middle of a narrow area is found from its boundary, without a Voronoi diagram: the boundary is
sampled every ``step``; from each sample a ray goes inward along the normal to the first boundary edge
it meets. The midpoint of that chord is a point of the centre line and the chord (tilted by half the
angle between the two sides) its width. Each stretch of centre line is seen twice, once from either
side; the sample whose hit lies further along the boundary (or on a later ring) keeps it, so every
stretch is kept exactly once. Kept midpoints, in boundary order, are chained into polylines (broken
where consecutive ones lie far apart, then joined end to end where they meet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slicing import polygons
from slicing.mesh_io import FloatArray
from slicing.polygons import Region

_CHUNK = 64
"""Samples ray-cast together against the edges near them."""


@dataclass(frozen=True, slots=True)
class GapLine:
    """A centre line: ``points`` (k, 2) mm (a closed one repeats its first point last) and the
    extrusion width at each point, ``widths`` (k,) mm."""

    points: FloatArray
    widths: FloatArray

    @property
    def length_mm(self) -> float:
        return float(np.hypot(*np.diff(self.points, axis=0).T).sum())


def _rings(region: Region) -> list[FloatArray]:
    return [polygons.to_mm(p) for p in region if len(p) >= 3]


def centre_lines(region: Region, min_width_mm: float, max_width_mm: float, step_mm: float) -> list[GapLine]:
    """Centre lines of the parts of ``region`` between ``min_width_mm`` and ``max_width_mm`` wide.

    Wider parts (infill's business) and narrower ones (slivers no line can print) get nothing.
    """
    rings = _rings(region)
    if not rings:
        return []
    # Edges of every ring; the region lies on the left of each (outer CCW, holes CW).
    a = np.concatenate(rings)
    b = np.concatenate([np.roll(r, -1, axis=0) for r in rings])
    ring_of_edge = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
    seg = b - a
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    ok = seg_len > 1e-9
    a, b, seg, seg_len, ring_of_edge = a[ok], b[ok], seg[ok], seg_len[ok], ring_of_edge[ok]
    if len(a) < 3:
        return []
    tangent = seg / seg_len[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    # Arc position of each edge's start along its ring.
    cum = np.cumsum(seg_len) - seg_len
    ring_start = np.zeros(len(rings))
    firsts = np.flatnonzero(np.r_[True, ring_of_edge[1:] != ring_of_edge[:-1]])
    ring_start[ring_of_edge[firsts]] = cum[firsts]
    arc0 = cum - ring_start[ring_of_edge]

    # Samples: the middles of equal pieces of each edge, at most ``step_mm`` long.
    per_edge = np.maximum(1, np.ceil(seg_len / step_mm)).astype(np.int64)
    edge_of = np.repeat(np.arange(len(a)), per_edge)
    rank = np.arange(len(edge_of)) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    frac = (rank + 0.5) / per_edge[edge_of]
    pts = a[edge_of] + seg[edge_of] * frac[:, None]
    dirs = normal[edge_of]
    arc = arc0[edge_of] + frac * seg_len[edge_of]
    ring = ring_of_edge[edge_of]

    n = len(pts)
    hit_t = np.full(n, np.inf)
    hit_edge = np.zeros(n, dtype=np.int64)
    hit_u = np.zeros(n)
    reach = 1.5 * max_width_mm
    lo_e, hi_e = np.minimum(a, b), np.maximum(a, b)
    for start in range(0, n, _CHUNK):
        p = pts[start : start + _CHUNK]
        d = dirs[start : start + _CHUNK]
        box_lo, box_hi = p.min(axis=0) - reach, p.max(axis=0) + reach
        near = np.flatnonzero(
            (hi_e[:, 0] >= box_lo[0])
            & (lo_e[:, 0] <= box_hi[0])
            & (hi_e[:, 1] >= box_lo[1])
            & (lo_e[:, 1] <= box_hi[1])
        )
        if len(near) == 0:
            continue
        ea, es = a[near], seg[near]
        # p + t d = ea + u es  →  t = (ea - p) x es / (d x es),  u = (ea - p) x d / (d x es)
        ap = ea[None, :, :] - p[:, None, :]
        denom = d[:, None, 0] * es[None, :, 1] - d[:, None, 1] * es[None, :, 0]
        safe = np.where(np.abs(denom) > 1e-12, denom, np.inf)
        t = (ap[..., 0] * es[None, :, 1] - ap[..., 1] * es[None, :, 0]) / safe
        u = (ap[..., 0] * d[:, None, 1] - ap[..., 1] * d[:, None, 0]) / safe
        own = near[None, :] == edge_of[start : start + _CHUNK, None]
        valid = (t > 1e-6) & (u >= 0.0) & (u <= 1.0) & ~own & (t <= reach)
        t = np.where(valid, t, np.inf)
        best = np.argmin(t, axis=1)
        rows = np.arange(len(p))
        hit_t[start : start + len(p)] = t[rows, best]
        hit_edge[start : start + len(p)] = near[best]
        hit_u[start : start + len(p)] = u[rows, best]

    found = np.isfinite(hit_t)
    # Width across the gap: the chord tilted by half the angle between the two sides' normals.
    cos_between = np.clip(-(dirs * normal[hit_edge]).sum(axis=1), -1.0, 1.0)
    width = np.where(found, hit_t, 0.0) * np.sqrt((1.0 + cos_between) / 2.0)
    hit_ring = ring_of_edge[hit_edge]
    hit_arc = arc0[hit_edge] + hit_u * seg_len[hit_edge]
    first_side = np.where(hit_ring == ring, arc < hit_arc, ring < hit_ring)
    keep = found & first_side & (width >= min_width_mm) & (width <= max_width_mm) & (cos_between > 0.0)
    if not keep.any():
        return []
    mids = pts[keep] + dirs[keep] * (hit_t[keep] / 2)[:, None]
    widths = width[keep]
    return _chain(mids, widths, max(2.0 * step_mm, max_width_mm))


def _chain(mids: FloatArray, widths: FloatArray, join_mm: float) -> list[GapLine]:
    """Polylines through ``mids`` in order, broken at jumps over ``join_mm``, then joined end to end."""
    jump = np.hypot(*np.diff(mids, axis=0).T) > join_mm
    cuts = np.flatnonzero(jump) + 1
    runs = [(p, w) for p, w in zip(np.split(mids, cuts), np.split(widths, cuts), strict=True) if len(p) >= 1]
    merged: list[tuple[FloatArray, FloatArray]] = []
    while runs:
        pts, wid = runs.pop(0)
        grew = True
        while grew:
            grew = False
            for i, (q, qw) in enumerate(runs):
                ends = [
                    (float(np.hypot(*(q[0] - pts[-1]))), "tail-head"),
                    (float(np.hypot(*(q[-1] - pts[-1]))), "tail-tail"),
                    (float(np.hypot(*(q[-1] - pts[0]))), "head-tail"),
                    (float(np.hypot(*(q[0] - pts[0]))), "head-head"),
                ]
                dist, how = min(ends)
                if dist > join_mm:
                    continue
                if how == "tail-head":
                    pts, wid = np.vstack([pts, q]), np.r_[wid, qw]
                elif how == "tail-tail":
                    pts, wid = np.vstack([pts, q[::-1]]), np.r_[wid, qw[::-1]]
                elif how == "head-tail":
                    pts, wid = np.vstack([q, pts]), np.r_[qw, wid]
                else:
                    pts, wid = np.vstack([q[::-1], pts]), np.r_[qw[::-1], wid]
                runs.pop(i)
                grew = True
                break
        merged.append((pts, wid))
    out: list[GapLine] = []
    for run_pts, run_wid in merged:
        if len(run_pts) < 2:
            continue
        length = float(np.hypot(*np.diff(run_pts, axis=0).T).sum())
        closing = float(np.hypot(*(run_pts[-1] - run_pts[0])))
        closed = closing <= join_mm and length > 3 * join_mm
        pts, wid = run_pts, run_wid
        if closed:
            pts, wid = np.vstack([pts, pts[:1]]), np.r_[wid, wid[:1]]
        pts, wid = _simplify_open(*_corners(pts, wid, closed, join_mm))
        out.append(GapLine(pts, wid))
    return out


def _corners(pts: FloatArray, wid: FloatArray, closed: bool, join_mm: float) -> tuple[FloatArray, FloatArray]:
    """Where a chain jumps over dropped samples (at a corner of the gap, whose rays run down the other
    leg), put back the corner: the meeting point of the two neighbouring segments' lines."""
    if len(pts) < 4:
        return pts, wid
    seg = np.hypot(*np.diff(pts, axis=0).T)
    typical = float(np.median(seg))
    long = np.flatnonzero(seg > 1.6 * typical)
    if len(long) == 0:
        return pts, wid
    out_p: list[FloatArray] = []
    out_w: list[float] = []
    last = len(pts) - 1
    for i in range(len(pts)):
        out_p.append(pts[i])
        out_w.append(float(wid[i]))
        if i not in set(long.tolist()):
            continue
        # Segment i runs pts[i] → pts[i+1]; its neighbours are (i-1 → i) and (i+1 → i+2).
        before = i - 1 if i >= 1 else (last - 1 if closed else -1)
        after = i + 2 if i + 2 <= last else (1 if closed else -1)
        if before < 0 or after < 0:
            continue
        p0, d0 = pts[i], pts[i] - pts[before]
        p1, d1 = pts[i + 1], pts[after] - pts[i + 1]
        denom = d0[0] * d1[1] - d0[1] * d1[0]
        if abs(denom) < 1e-9 * max(float(np.hypot(*d0) * np.hypot(*d1)), 1e-12):
            continue
        q = p1 - p0
        t = (q[0] * d1[1] - q[1] * d1[0]) / denom
        corner = p0 + t * d0
        if t > 0 and np.hypot(*(corner - p0)) <= join_mm and np.hypot(*(corner - p1)) <= join_mm:
            out_p.append(corner)
            out_w.append(float(min(wid[i], wid[i + 1])))
    return np.array(out_p), np.array(out_w)


def _simplify_open(
    pts: FloatArray, widths: FloatArray, tol_mm: float = 0.01
) -> tuple[FloatArray, FloatArray]:
    """Drop inner points that lie within ``tol_mm`` of their neighbours' chord and whose width is
    within ``tol_mm`` of their neighbours' mean (two vectorised passes, never two neighbours at once)."""
    for _ in range(3):
        if len(pts) <= 2:
            break
        prev, cur, nxt = pts[:-2], pts[1:-1], pts[2:]
        chord = nxt - prev
        length = np.hypot(chord[:, 0], chord[:, 1])
        cross = np.abs(chord[:, 0] * (cur[:, 1] - prev[:, 1]) - chord[:, 1] * (cur[:, 0] - prev[:, 0]))
        dist = np.where(length > 1e-9, cross / np.maximum(length, 1e-9), 0.0)
        flat = np.abs(widths[1:-1] - (widths[:-2] + widths[2:]) / 2) < tol_mm
        drop = np.r_[False, (dist < tol_mm) & flat, False]
        drop[2::2] = False
        pts, widths = pts[~drop], widths[~drop]
    return pts, widths


def gap_lines(gaps: Region, width_mm: float, min_fraction: float, max_width_mm: float) -> list[GapLine]:
    """Gap-fill lines of the narrow areas ``gaps`` (the union of an island's gaps), for line width
    ``width_mm``: gaps narrower than ``min_fraction`` x width are left empty."""
    if not gaps:
        return []
    min_area = 0.25 * width_mm * width_mm
    # Most gaps are slivers left by offsetting curves; drop the paths too small to matter (a tiny hole
    # dropped only adds its area to the gap around it).
    big = [p for p, a in zip(gaps, polygons.path_areas_mm2(gaps), strict=True) if abs(a) >= min_area]
    if not big:
        return []
    out: list[GapLine] = []
    for part in polygons.islands(big) if len(big) > 1 else [big]:
        if polygons.area_mm2(part) < min_area:
            continue
        for line in centre_lines(part, min_fraction * width_mm, max_width_mm, width_mm / 2):
            if line.length_mm >= width_mm / 2:
                out.append(line)
    return out
