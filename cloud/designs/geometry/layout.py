"""Laying the parts of a design out on the bed: each on z = 0, side by side along x, the lot centred."""

from __future__ import annotations

from manifold3d import Manifold

from cloud.designs.geometry.mesh import DesignMesh, PartBounds, from_manifold, part_bounds

PART_GAP_MM = 10.0


def arrange(parts: list[tuple[str, Manifold]], gap_mm: float = PART_GAP_MM) -> DesignMesh:
    """Each part dropped on the bed and centred on y = 0, left to right in order with ``gap_mm`` between,
    the whole layout centred on x = 0."""
    placed: list[tuple[str, Manifold]] = []
    cursor = 0.0
    for name, solid in parts:
        (x0, y0, z0), (x1, y1, _) = part_bounds(solid)
        placed.append((name, solid.translate((cursor - x0, -(y0 + y1) / 2.0, -z0))))
        cursor += (x1 - x0) + gap_mm
    width = cursor - gap_mm
    placed = [(name, solid.translate((-width / 2.0, 0.0, 0.0))) for name, solid in placed]
    bounds: dict[str, PartBounds] = {name: part_bounds(solid) for name, solid in placed}
    whole = Manifold.compose([solid for _, solid in placed]) if len(placed) > 1 else placed[0][1]
    return from_manifold(whole, bounds)
