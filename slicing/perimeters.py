"""Perimeters: closed loops inset from a layer's outline, one island at a time.

Loop ``k`` of an island is the outline shrunk by ``(k + 1/2) x width`` (offset from the outline each time,
so errors do not accumulate); the area left inside the innermost loop, shrunk by one more half width, is
where skin and infill go.
"""

from __future__ import annotations

from dataclasses import dataclass

from slicing import polygons
from slicing.polygons import Region


@dataclass(frozen=True, slots=True)
class IslandWalls:
    """One island of a layer: ``loops[k]`` are the closed paths of perimeter ``k`` (0 = outer),
    ``inner`` the region inside the innermost perimeter's inner edge, ``outline`` the island itself."""

    outline: Region
    loops: list[Region]
    inner: Region


def layer_region(loops: list[polygons.IntPath]) -> Region:
    """Clean a layer's raw section loops into a region (non-zero union drops overlaps and slivers)."""
    return polygons.union(loops)


def walls(section: Region, count: int, width_mm: float) -> list[IslandWalls]:
    """Perimeters of every island of ``section``.

    A loop that vanishes (a feature narrower than its inset) ends that island's perimeters; the island
    then has no inner region, so nothing is printed inside a wall that has no room for it.
    """
    out: list[IslandWalls] = []
    for island in polygons.islands(section):
        loops: list[Region] = []
        for k in range(count):
            ring = polygons.offset(island, -(k + 0.5) * width_mm)
            if not ring:
                break
            loops.append(ring)
        inner = polygons.offset(island, -count * width_mm) if len(loops) == count else []
        out.append(IslandWalls(island, loops, inner))
    return out


def inner_region(section: Region, count: int, width_mm: float) -> Region:
    """The union of every island's inner region, without building the loops (for skin neighbours)."""
    return polygons.offset(section, -count * width_mm)
