"""From ordered pieces to moves: travel between pieces (retracting when a travel would leave the part
through its outer wall), layer change, extrusion amounts, speeds per feature, minimum layer time.

Moves are flat arrays (one row a move) so the time estimate and the G-code writer run over them in bulk.
Extrusion is relative (M83); a layer's moves depend only on where the previous layer ended.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from slicing.estimate import move_times
from slicing.mesh_io import FloatArray
from slicing.profiles import Profile
from slicing.toolpath import Feature, Piece

TRAVEL, EXTRUDE, RETRACT, PRIME, LIFT = 0, 1, 2, 3, 4
CROSS_TOLERANCE_MM = 1e-4
_PAIR_BUDGET = 2_000_000  # travel x edge pairs tested at once


@dataclass(frozen=True, slots=True)
class Moves:
    """A layer's moves: ``xyz`` (n, 3) targets mm, ``e`` (n,) relative mm of filament, ``feed`` (n,) mm/s,
    ``kind`` (n,) int8 (TRAVEL, EXTRUDE, RETRACT, PRIME, LIFT), ``feature`` (n,) int8 (`Feature`, -1 none)."""

    xyz: FloatArray
    e: FloatArray
    feed: FloatArray
    kind: npt.NDArray[np.int8]
    feature: npt.NDArray[np.int8]

    def times_s(self, start: FloatArray, profile: Profile) -> FloatArray:
        """(n,) seconds per move, starting from ``start`` (3,)."""
        delta = np.diff(np.vstack([start, self.xyz]), axis=0)
        return move_times(
            delta, self.e, self.feed, profile.printer.max_accel_mm_s2, profile.printer.jerk_mm_s
        )


def crossings(travel: FloatArray, edges: FloatArray) -> npt.NDArray[np.bool_]:
    """Which travels (t, 2, 2) properly cross any of ``edges`` (e, 2, 2); touching an end is no crossing."""
    hits = np.zeros(len(travel), dtype=bool)
    if len(travel) == 0 or len(edges) == 0:
        return hits
    a, b = edges[:, 0], edges[:, 1]
    eab = b - a
    elen = np.maximum(np.hypot(eab[:, 0], eab[:, 1]), 1e-12)
    step = max(1, _PAIR_BUDGET // len(edges))
    for lo in range(0, len(travel), step):
        p = travel[lo : lo + step, 0][:, None, :]
        q = travel[lo : lo + step, 1][:, None, :]
        pq = q - p
        plen = np.maximum(np.hypot(pq[..., 0], pq[..., 1]), 1e-12)
        da = (pq[..., 0] * (a[:, 1] - p[..., 1]) - pq[..., 1] * (a[:, 0] - p[..., 0])) / plen
        db = (pq[..., 0] * (b[:, 1] - p[..., 1]) - pq[..., 1] * (b[:, 0] - p[..., 0])) / plen
        dp = (eab[:, 0] * (p[..., 1] - a[:, 1]) - eab[:, 1] * (p[..., 0] - a[:, 0])) / elen
        dq = (eab[:, 0] * (q[..., 1] - a[:, 1]) - eab[:, 1] * (q[..., 0] - a[:, 0])) / elen
        tol = CROSS_TOLERANCE_MM
        straddle_edge = ((da > tol) & (db < -tol)) | ((da < -tol) & (db > tol))
        straddle_travel = ((dp > tol) & (dq < -tol)) | ((dp < -tol) & (dq > tol))
        hits[lo : lo + step] = (straddle_edge & straddle_travel).any(axis=1)
    return hits


def loop_edges(loops: list[FloatArray]) -> FloatArray:
    """Edges (e, 2, 2) of closed loops given as (k, 2) arrays (first point not repeated)."""
    if not loops:
        return np.zeros((0, 2, 2))
    return np.concatenate([np.stack([p, np.roll(p, -1, axis=0)], axis=1) for p in loops])


def _feature_speed(profile: Profile, first_layer: bool) -> FloatArray:
    p = profile.print
    speeds = np.zeros(len(Feature))
    speeds[Feature.SKIRT] = p.skirt_speed_mm_s
    speeds[Feature.WALL_INNER] = p.perimeter_speed_mm_s
    speeds[Feature.WALL_OUTER] = p.external_perimeter_speed_mm_s
    speeds[Feature.SKIN] = p.solid_infill_speed_mm_s
    speeds[Feature.FILL] = p.infill_speed_mm_s
    speeds[Feature.GAP_FILL] = p.gap_fill_speed_mm_s
    if first_layer:
        speeds = np.minimum(speeds, p.first_layer_speed_mm_s)
    return speeds


def plan_layer(
    pieces: list[Piece],
    z_mm: float,
    height_mm: float,
    start: FloatArray,
    wall_edges: FloatArray,
    profile: Profile,
    first_layer: bool,
) -> tuple[Moves, FloatArray]:
    """Moves of one layer starting at ``start`` (3,), retracted (every layer change retracts), and their
    `Moves.times_s`: the minimum layer time check needs those times, so they are computed once (again only
    when it slows the layer down)."""
    p = profile.print
    width = profile.line_width_mm
    e_per_mm = width * height_mm / profile.filament_area_mm2
    speeds = _feature_speed(profile, first_layer)
    travel_feed = p.travel_speed_mm_s
    z_feed = min(profile.printer.max_feed_z_mm_s, travel_feed)

    if not pieces:
        xyz = np.array([start, [start[0], start[1], z_mm]])
        empty = Moves(
            xyz,
            np.array([-p.retract_mm, 0.0]),
            np.array([p.retract_speed_mm_s, z_feed]),
            np.array([RETRACT, LIFT], dtype=np.int8),
            np.array([-1, -1], dtype=np.int8),
        )
        return empty, empty.times_s(start, profile)
    sizes = np.array([len(pc.points) for pc in pieces])
    pts = np.concatenate([pc.points for pc in pieces])
    first = np.cumsum(sizes) - sizes
    starts = pts[first]
    ends = pts[first + sizes - 1]
    prev_end = np.vstack([start[:2], ends[:-1]])
    lengths = np.hypot(*(starts - prev_end).T)
    retract = lengths >= p.retract_min_travel_mm  # shorter travels never retract: not tested
    if retract.any():
        retract[retract] = crossings(np.stack([prev_end[retract], starts[retract]], axis=1), wall_edges)
    retract[0] = True  # the layer change travel: retracted already, primes after it
    has_travel = lengths > 0
    # Rows per piece: [retract] [travel] [prime] then one extrusion per point after the first.
    n_pre = (retract & (np.arange(len(pieces)) > 0)).astype(np.int64) + has_travel + retract
    rows_per_piece = n_pre + sizes - 1
    offsets = 2 + np.cumsum(rows_per_piece) - rows_per_piece  # 2 rows of layer change first
    total = int(2 + rows_per_piece.sum())
    xyz = np.empty((total, 3))
    xyz[:, 2] = z_mm
    e = np.zeros(total)
    feed = np.empty(total)
    kind = np.empty(total, dtype=np.int8)
    feature = np.full(total, -1, dtype=np.int8)
    xyz[0] = start
    e[0], feed[0], kind[0] = -p.retract_mm, p.retract_speed_mm_s, RETRACT
    xyz[1, :2] = start[:2]
    feed[1], kind[1] = z_feed, LIFT
    slot = offsets.copy()
    pre_retract = retract & (np.arange(len(pieces)) > 0)
    rows = slot[pre_retract]
    xyz[rows, :2] = prev_end[pre_retract]
    e[rows], feed[rows], kind[rows] = -p.retract_mm, p.retract_speed_mm_s, RETRACT
    slot += pre_retract
    rows = slot[has_travel]
    xyz[rows, :2] = starts[has_travel]
    feed[rows], kind[rows] = travel_feed, TRAVEL
    slot += has_travel
    rows = slot[retract]
    xyz[rows, :2] = starts[retract]
    e[rows], feed[rows], kind[rows] = p.retract_mm, p.retract_speed_mm_s, PRIME
    slot += retract
    # Extrusions: every point that is not a piece's first, in order.
    not_first = np.ones(len(pts), dtype=bool)
    not_first[first] = False
    piece_of = np.repeat(np.arange(len(pieces)), sizes)
    rank = np.arange(len(pts)) - first[piece_of]  # 0 for first points
    rows = (slot[piece_of] + rank - 1)[not_first]
    seg = np.diff(pts, axis=0, prepend=pts[:1])[not_first]
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    xyz[rows, :2] = pts[not_first]
    e[rows] = seg_len * e_per_mm
    if any(pc.widths is not None for pc in pieces):
        # Variable-width pieces (gap fill): each segment at the mean of its two ends' widths.
        scale = np.concatenate(
            [pc.widths / width if pc.widths is not None else np.ones(len(pc.points)) for pc in pieces]
        )
        e[rows] *= ((scale + np.roll(scale, 1)) / 2)[not_first]
    feats = np.array([int(pc.feature) for pc in pieces], dtype=np.int8)
    feed[rows] = speeds[feats[piece_of[not_first]]]
    kind[rows] = EXTRUDE
    feature[rows] = feats[piece_of[not_first]]
    keep = ~((kind == EXTRUDE) & (e <= 0))
    if not keep.all():
        xyz, e, feed, kind, feature = xyz[keep], e[keep], feed[keep], kind[keep], feature[keep]
    return _slow_down_timed(Moves(xyz, e, feed, kind, feature), start, profile)


def slow_down(moves: Moves, start: FloatArray, profile: Profile) -> Moves:
    """Stretch extrusion moves so the layer takes at least the minimum layer time (not below the minimum
    print speed); travels keep their speed."""
    return _slow_down_timed(moves, start, profile)[0]


def _slow_down_timed(moves: Moves, start: FloatArray, profile: Profile) -> tuple[Moves, FloatArray]:
    """`slow_down` and the times of the moves it returns."""
    p = profile.print
    times = moves.times_s(start, profile)
    if p.min_layer_time_s <= 0:
        return moves, times
    total = float(times.sum())
    if total >= p.min_layer_time_s or total <= 0:
        return moves, times
    extruding = moves.kind == EXTRUDE
    t_ext = float(times[extruding].sum())
    if t_ext <= 0:
        return moves, times
    factor = max((p.min_layer_time_s - (total - t_ext)) / t_ext, 1.0)
    feed = moves.feed.copy()
    feed[extruding] = np.maximum(
        np.minimum(feed[extruding] / factor, feed[extruding]), p.min_print_speed_mm_s
    )
    feed[extruding] = np.minimum(feed[extruding], moves.feed[extruding])
    slowed = Moves(moves.xyz, moves.e, feed, moves.kind, moves.feature)
    return slowed, slowed.times_s(start, profile)
