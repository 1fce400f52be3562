"""Mesh repair and placement: merge vertices, drop degenerate faces, fix winding, fill small holes,
orient outward, then put the model on the bed (min Z = 0, centred).

All functions are pure: they take a `Mesh` and return a new one, or raise a `MeshError`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from slicing.errors import BadVertices, DoesNotFit, EmptyMesh, ZeroVolume
from slicing.mesh_io import FloatArray, IntArray, Mesh

MERGE_TOLERANCE_MM = 1e-5
MAX_HOLE_EDGES = 64
"""Holes bounded by at most this many edges are filled; bigger ones are left (and may fail later)."""


@dataclass(frozen=True, slots=True)
class RepairReport:
    merged_vertices: int = 0
    dropped_faces: int = 0
    flipped_faces: int = 0
    filled_holes: int = 0
    open_edges_left: int = 0
    inverted: bool = False


def unique_rows(rows: IntArray) -> tuple[IntArray, IntArray]:
    """Unique rows of (n, k) int64 (k <= 3) by lexsort, much faster than ``np.unique(axis=0)``.

    Returns (index of one occurrence of each unique row (u,), the unique id of every row (n,)).
    """
    order = np.lexsort(rows.T[::-1])
    ordered = rows[order]
    new = np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)]
    group = np.cumsum(new) - 1
    inverse = np.empty(len(rows), dtype=np.int64)
    inverse[order] = group
    return order[new], inverse


def check_finite(mesh: Mesh, name: str = "model") -> None:
    if len(mesh.faces) == 0:
        raise EmptyMesh(f"{name}: the mesh has no triangles")
    if not np.isfinite(mesh.vertices).all():
        bad = int((~np.isfinite(mesh.vertices)).any(axis=1).sum())
        raise BadVertices(f"{name}: {bad} vertices have NaN or infinite coordinates")


def merge_vertices(mesh: Mesh, tolerance_mm: float = MERGE_TOLERANCE_MM) -> Mesh:
    """Vertices closer than ``tolerance_mm`` (on a grid) become one; unused vertices are dropped."""
    keys = np.round(mesh.vertices / tolerance_mm).astype(np.int64)
    first, inverse = unique_rows(keys)
    return Mesh(mesh.vertices[first], inverse[mesh.faces])


def drop_degenerate(mesh: Mesh) -> Mesh:
    """Remove faces with a repeated corner, zero area, or that duplicate another face."""
    f = mesh.faces
    ok = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    tri = mesh.vertices[f]
    area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    ok &= area2 > 1e-12
    f = f[ok]
    unique, _ = unique_rows(np.sort(f, axis=1))
    return Mesh(mesh.vertices, f[np.sort(unique)])


def _edges(faces: IntArray) -> tuple[IntArray, IntArray]:
    """Directed face edges (3m, 2) in face order, and the undirected edge id of each (3m,)."""
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    _, edge_id = unique_rows(np.sort(directed, axis=1))
    return directed, edge_id


def fix_winding(mesh: Mesh) -> tuple[Mesh, int]:
    """Make neighbouring faces agree on orientation (breadth-first over shared edges).

    Returns the mesh and how many faces were flipped. A consistent mesh returns at once.
    """
    directed, edge_id = _edges(mesh.faces)
    _, counts = np.unique(directed[:, 0] * (len(mesh.vertices) + 1) + directed[:, 1], return_counts=True)
    if (counts == 1).all():
        return mesh, 0
    m = len(mesh.faces)
    order = np.argsort(edge_id, kind="stable")
    sorted_ids = edge_id[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_ids)) + 1]
    ends = np.r_[starts[1:], len(order)]
    pairs = starts[(ends - starts) == 2]
    fa, fb = order[pairs] // 3, order[pairs + 1] // 3
    same_dir = directed[order[pairs], 0] == directed[order[pairs + 1], 0]  # same direction: disagree
    adj: list[list[tuple[int, bool]]] = [[] for _ in range(m)]
    for a, b, s in zip(fa.tolist(), fb.tolist(), same_dir.tolist(), strict=True):
        adj[a].append((b, s))
        adj[b].append((a, s))
    flip = np.zeros(m, dtype=bool)
    seen = np.zeros(m, dtype=bool)
    for seed in range(m):
        if seen[seed]:
            continue
        seen[seed] = True
        queue = deque([seed])
        while queue:
            face = queue.popleft()
            for other, disagree in adj[face]:
                if not seen[other]:
                    seen[other] = True
                    flip[other] = flip[face] ^ disagree
                    queue.append(other)
    faces = mesh.faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    return Mesh(mesh.vertices, faces), int(flip.sum())


def fill_holes(mesh: Mesh, max_edges: int = MAX_HOLE_EDGES) -> tuple[Mesh, int, int]:
    """Close boundary loops of at most ``max_edges`` edges with a fan: (mesh, filled, open edges left)."""
    directed, edge_id = _edges(mesh.faces)
    counts = np.bincount(edge_id)
    boundary = directed[counts[edge_id] == 1]
    if len(boundary) == 0:
        return mesh, 0, 0
    nxt: dict[int, int] = {}
    for a, b in boundary.tolist():
        nxt[b] = a  # the hole runs against the faces around it
    new_faces: list[list[int]] = []
    filled = left = 0
    visited: set[int] = set()
    for start in list(nxt):
        if start in visited:
            continue
        loop = [start]
        visited.add(start)
        node = nxt.get(start)
        while node is not None and node != start and node not in visited and len(loop) <= max_edges:
            loop.append(node)
            visited.add(node)
            node = nxt.get(node)
        if node == start and 3 <= len(loop) <= max_edges:
            new_faces.extend([loop[0], loop[k], loop[k + 1]] for k in range(1, len(loop) - 1))
            filled += 1
        else:
            left += len(loop)
    if not new_faces:
        return mesh, 0, left
    faces = np.concatenate([mesh.faces, np.array(new_faces, dtype=np.int64)])
    return Mesh(mesh.vertices, faces), filled, left


def repair(mesh: Mesh, name: str = "model") -> tuple[Mesh, RepairReport]:
    """Everything repairable, in order; raises `EmptyMesh`, `BadVertices` or `ZeroVolume` otherwise."""
    check_finite(mesh, name)
    raw_vertices, raw_faces = len(mesh.vertices), len(mesh.faces)
    mesh = drop_degenerate(merge_vertices(mesh))
    if len(mesh.faces) == 0:
        raise EmptyMesh(f"{name}: every triangle is degenerate (zero area)")
    mesh, flipped = fix_winding(mesh)
    mesh, filled, left = fill_holes(mesh)
    volume = mesh.volume_mm3()
    inverted = volume < 0
    if inverted:
        mesh = Mesh(mesh.vertices, mesh.faces[:, ::-1].copy())
        volume = -volume
    extent = np.ptp(mesh.vertices, axis=0)
    if volume <= max(1e-3, 1e-9 * float(np.prod(np.maximum(extent, 1e-3)))):
        raise ZeroVolume(f"{name}: the mesh encloses no volume (flat or open); nothing to print")
    report = RepairReport(
        merged_vertices=raw_vertices - len(mesh.vertices),
        dropped_faces=raw_faces - len(mesh.faces) + 2 * filled,
        flipped_faces=flipped,
        filled_holes=filled,
        open_edges_left=left,
        inverted=inverted,
    )
    if flipped or filled or left or inverted:
        # Imported here: logging costs ~2 ms at every start of `python -m slicing`, a sound mesh logs nothing.
        import logging  # noqa: PLC0415 - see above

        logging.getLogger(__name__).info("repaired %s: %s", name, report)
    return mesh, report


def place(mesh: Mesh, bed_mm: tuple[float, float], max_z_mm: float, margin_mm: float = 0.0) -> Mesh:
    """Translate so min Z = 0 and the XY bounding box is centred on the bed.

    ``margin_mm`` is room needed around the model (skirt/brim). Raises `DoesNotFit`.
    """
    low, high = mesh.bounds
    size = high - low
    need_x, need_y = size[0] + 2 * margin_mm, size[1] + 2 * margin_mm
    if need_x > bed_mm[0] or need_y > bed_mm[1] or size[2] > max_z_mm:
        raise DoesNotFit(
            f"model is {size[0]:.1f} x {size[1]:.1f} x {size[2]:.1f} mm"
            f"{f' (+{margin_mm:.1f} mm skirt/brim around)' if margin_mm else ''}; "
            f"the bed is {bed_mm[0]:.0f} x {bed_mm[1]:.0f} x {max_z_mm:.0f} mm"
        )
    centre = np.array([bed_mm[0] / 2, bed_mm[1] / 2])
    shift: FloatArray = np.array([*(centre - (low[:2] + high[:2]) / 2), -low[2]])
    return Mesh(mesh.vertices + shift, mesh.faces)
