"""Cutting a mesh by horizontal planes, all planes at once, with numpy (no Python loop per triangle).

Each triangle is paired with every plane it crosses; each pair gives one segment that runs from the
edge where the triangle goes down through the plane to the edge where it comes back up, so with faces
wound outward the loops run counter-clockwise around material (clockwise around holes). Segments are
chained through the mesh edge they share: the end edge of one is the start edge of the next, which
turns chaining into following a permutation, done for all layers at once by pointer jumping.

A vertex exactly on a plane counts as above it, so every crossing is well defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slicing.mesh_io import FloatArray, IntArray, Mesh
from slicing.repair import unique_rows


@dataclass(frozen=True, slots=True)
class Sections:
    """Closed loops of every layer, flat: loop ``k`` is ``points[starts[k]:starts[k + 1]]``.

    ``points`` (n, 2) float64 mm; ``starts`` (loops + 1,) int64; ``loop_layer`` (loops,) int64, sorted.
    """

    points: FloatArray
    starts: IntArray
    loop_layer: IntArray
    layers: int

    def layer_loops(self, layer: int) -> list[FloatArray]:
        """The loops of one layer, each (k, 2) float64, open form (last point != first)."""
        lo, hi = np.searchsorted(self.loop_layer, [layer, layer + 1])
        return [self.points[self.starts[k] : self.starts[k + 1]] for k in range(lo, hi)]


def plane_heights(
    top_z_mm: float, layer_height_mm: float, first_layer_mm: float
) -> tuple[FloatArray, FloatArray]:
    """Print heights (top of each layer) and slicing planes (middle of each layer) below ``top_z_mm``.

    Returns (print_z, plane_z), both (layers,) float64.
    """
    count = int(np.floor((top_z_mm - first_layer_mm) / layer_height_mm + 0.5)) + 1 if top_z_mm > 0 else 0
    print_z = first_layer_mm + layer_height_mm * np.arange(max(count, 0), dtype=np.float64)
    plane_z = print_z - np.where(np.arange(len(print_z)) == 0, first_layer_mm, layer_height_mm) / 2
    keep = plane_z < top_z_mm
    return print_z[keep], plane_z[keep]


def _edge_table(faces: IntArray) -> tuple[IntArray, IntArray]:
    """Undirected edges (e, 2) int64 (low index first), each face's edge ids (m, 3); edge k: corner k→k+1."""
    directed = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2)
    key = np.sort(directed, axis=1)
    first, inverse = unique_rows(key)
    return key[first], inverse.reshape(-1, 3)


def _jump_to_cycles(nxt: IntArray) -> IntArray:
    """Close open chains (``nxt == -1`` at a tail) back to their head so ``nxt`` is a permutation."""
    tails = nxt < 0
    if not tails.any():
        return nxt
    n = len(nxt)
    has_pred = np.zeros(n, dtype=bool)
    has_pred[nxt[~tails]] = True
    heads = np.flatnonzero(~has_pred)
    end = np.where(tails, np.arange(n), nxt)
    for _ in range(int(np.ceil(np.log2(n + 1))) + 1):
        end = end[end]
    closed = nxt.copy()
    closed[end[heads]] = heads
    return closed


def _order_cycles(nxt: IntArray) -> tuple[IntArray, IntArray]:
    """For a permutation ``nxt`` (n,): elements in cycle order (n,) and each cycle's start offset (c + 1,).

    Pointer jumping: every element learns its cycle's smallest index (the leader), then each cycle is cut
    just before its leader and ranked as a list; O(n log L) numpy work for cycles of length <= L.
    """
    leader = np.arange(len(nxt))
    jump = nxt.copy()
    while not np.array_equal(leader, leader[nxt]):
        leader = np.minimum(leader, leader[jump])
        jump = jump[jump]
    succ = np.where(nxt == leader, -1, nxt)
    to_end = _rank_lists(succ)
    order = np.lexsort((-to_end, leader))
    starts = np.r_[0, np.flatnonzero(np.diff(leader[order])) + 1, len(nxt)]
    return order, starts


def _rank_lists(succ: IntArray) -> IntArray:
    """Distance to the end of its list (``succ == -1`` ends one) for every element (n,) int64."""
    idx = np.arange(len(succ))
    end = succ < 0
    dist = np.where(end, 0, 1).astype(np.int64)
    ptr = np.where(end, idx, succ)
    while True:
        following = ptr[ptr]
        if np.array_equal(following, ptr):
            return dist
        dist = dist + dist[ptr]
        ptr = following


def slice_mesh(mesh: Mesh, plane_z: FloatArray) -> Sections:
    """Loops of ``mesh`` at every height of ``plane_z`` (layers,) float64 ascending."""
    vertices, faces = mesh.vertices, mesh.faces
    z = vertices[:, 2]
    edges, face_edges = _edge_table(faces)
    fz = z[faces]
    lo = np.searchsorted(plane_z, fz.min(axis=1), side="right")
    hi = np.searchsorted(plane_z, fz.max(axis=1), side="right")
    count = hi - lo
    face_of = np.repeat(np.arange(len(faces)), count)
    if len(face_of) == 0:
        return Sections(
            np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), len(plane_z)
        )
    offsets = np.cumsum(count) - count
    layer = lo[face_of] + (np.arange(len(face_of)) - offsets[face_of])
    order = np.argsort(layer, kind="stable")
    face_of, layer = face_of[order], layer[order]

    above = fz[face_of] >= plane_z[layer][:, None]  # (p, 3)
    after = np.roll(above, -1, axis=1)
    down = above & ~after  # edge k goes from above to below: the segment starts here
    up = ~above & after
    start_edge = face_edges[face_of, np.argmax(down, axis=1)]
    end_edge = face_edges[face_of, np.argmax(up, axis=1)]

    n_edges = len(edges)
    key_start = layer * n_edges + start_edge
    key_end = layer * n_edges + end_edge
    by_start = np.argsort(key_start, kind="stable")
    pos = np.searchsorted(key_start[by_start], key_end)
    pos = np.minimum(pos, len(by_start) - 1)
    matched = key_start[by_start[pos]] == key_end
    nxt = np.where(matched, by_start[pos], -1)
    # Non-manifold edges can give an element two predecessors; drop the extra links (chains then close).
    pred_count = np.bincount(nxt[nxt >= 0], minlength=len(nxt))
    if (pred_count > 1).any():
        seen = np.zeros(len(nxt), dtype=bool)
        first_link = np.unique(nxt, return_index=True)[1]
        seen[first_link] = True
        nxt = np.where(seen | (nxt < 0), nxt, -1)
        nxt[np.isin(np.arange(len(nxt)), first_link, invert=True)] = -1
    nxt = _jump_to_cycles(nxt)
    cyc_order, cyc_starts = _order_cycles(nxt)

    # Crossing point of each segment's start edge, computed from the edge's canonical direction.
    e = edges[start_edge[cyc_order]]
    a, b = vertices[e[:, 0]], vertices[e[:, 1]]
    plane = plane_z[layer[cyc_order]]
    dz = b[:, 2] - a[:, 2]
    t = np.divide(plane - a[:, 2], dz, out=np.zeros_like(dz), where=dz != 0)
    points = a[:, :2] + t[:, None] * (b[:, :2] - a[:, :2])
    loop_layer = layer[cyc_order[cyc_starts[:-1]]]
    return Sections(points, cyc_starts.astype(np.int64), loop_layer.astype(np.int64), len(plane_z))
