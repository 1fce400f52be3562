"""Perimeters: closed loops inset from a layer's outline, one island at a time, and the gaps they leave.

Loop ``k`` of an island is the outline shrunk by ``(k + 1/2) x width`` (offset from the outline each time,
so errors do not accumulate), opened by `LOOP_OPEN` x width: a loop that would enclose a strip narrower
than twice that is dropped there, so a wall narrower than about two line widths prints as one gap-fill
line of its own width instead of two overlapping loops (or nothing). What the loops cannot cover — the
band ``k`` widths in where loop ``k`` has no room, and the parts of the inner region narrower than one
line — are the island's *gaps*, filled with variable-width lines (`slicing.gapfill`). The inner region,
opened the same way, is where skin and infill go.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slicing import polygons
from slicing.polygons import Region

LOOP_OPEN = 0.4
"""Opening radius of a loop's polygon, x line width: walls under (1 + 2 x 0.4) widths get one line."""
INNER_OPEN = 0.5
"""Opening radius of the inner region, x line width: strips of it narrower than a line are gap fill."""


@dataclass(frozen=True, slots=True)
class IslandWalls:
    """One island of a layer: ``loops[k]`` are the closed paths of perimeter ``k`` (0 = outer),
    ``inner`` the region inside the innermost perimeter's inner edge, ``outline`` the island itself,
    ``gaps`` the areas no loop or infill covers (for gap fill)."""

    outline: Region
    loops: list[Region]
    inner: Region
    gaps: Region = field(default_factory=list)


def layer_region(loops: list[polygons.IntPath]) -> Region:
    """Clean a layer's raw section loops into a region (non-zero union drops overlaps and slivers)."""
    return polygons.union(loops)


def _inner(region: Region, count: int, width_mm: float) -> Region:
    r = INNER_OPEN * width_mm
    return polygons.offset2(region, -(count * width_mm + r), r)


IslandMemo = dict[tuple[object, ...], "IslandWalls"]
"""`walls` of single islands by their exact paths (and inner region's, and the settings)."""


def region_key(region: Region) -> tuple[bytes, ...]:
    """A region's exact paths as a dict key: equal keys, equal int64 paths in the same order."""
    return tuple(p.tobytes() for p in region)


def walls(
    section: Region,
    count: int,
    width_mm: float,
    *,
    gaps: bool = True,
    inner: Region | None = None,
    memo: IslandMemo | None = None,
) -> list[IslandWalls]:
    """Perimeters of every island of ``section`` (and, with ``gaps``, what they leave uncovered).

    A loop that vanishes (a feature narrower than its inset) ends that island's perimeters; the island
    then has no inner region, and what is left inside the last loop is gap. ``inner``: the section's
    `inner_region` when the caller has it already (it is split by island instead of computed again).
    ``memo``: an island whose paths (and inner region's) are the same as one's met before gets that
    one's walls (a straight post beside a part whose sections differ from layer to layer).
    """
    found = polygons.islands(section)
    inner_of = polygons.assign(inner, found) if inner is not None else None
    out: list[IslandWalls] = []
    for k, island in enumerate(found):
        given = inner_of[k] if inner_of is not None else None
        if memo is None:
            out.append(_island_walls(island, count, width_mm, gaps, given))
            continue
        key = (region_key(island), None if given is None else region_key(given), count, width_mm, gaps)
        if key not in memo:
            memo[key] = _island_walls(island, count, width_mm, gaps, given)
        out.append(memo[key])
    return out


def _island_walls(island: Region, count: int, w: float, gaps: bool, given: Region | None) -> IslandWalls:
    """`walls` of one island; ``given``: its inner region, if the caller has it."""
    r = LOOP_OPEN * w
    loops: list[Region] = []
    uncovered: Region = []
    band = island  # the area k widths in, loop k's to fill
    for k in range(count):
        core = polygons.inset_paths(island, -((k + 0.5) * w + r))
        if not core:
            break
        grow = polygons.Offsets(core)  # the core's two or three offsets, handed to pyclipper once
        loops.append(grow.grown(r))
        if gaps:
            uncovered += _left_over(band, grow.grown(r + 0.5 * w), w)
            band = grow.grown(r - 0.5 * w)
    island_inner: Region = []
    if len(loops) == count:
        island_inner = given if given is not None else _inner(island, count, w)
        if gaps and band:
            uncovered += _left_over(band, island_inner, w)
    elif gaps:
        uncovered += band
    return IslandWalls(island, loops, island_inner, uncovered)


def _left_over(band: Region, covered: Region, width_mm: float) -> Region:
    """``band - covered`` (``covered`` lies inside ``band``), skipping the clipper call when the areas
    say nothing worth a gap-fill line is left (the usual case: a convex or gently curved island)."""
    if polygons.area_mm2(band) - polygons.area_mm2(covered) < 0.25 * width_mm * width_mm:
        return []
    return polygons.difference(band, covered)


def inner_region(section: Region, count: int, width_mm: float) -> Region:
    """The union of every island's inner region, without building the loops (for skin neighbours)."""
    return _inner(section, count, width_mm)
