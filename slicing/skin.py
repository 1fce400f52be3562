"""Solid skin: where a layer has no material N layers above (top) or below (bottom).

The standard construction: ``top_i = inner_i - (inner_{i+1} ∩ ... ∩ inner_{i+N})``, the same downward
for bottoms, with layers past either end of the part counting as empty (so the first ``bottom`` and last
``top`` layers are solid throughout). Skin narrower than the walls are thick is then dropped (CuraEngine's
"top/bottom skin removal width"): on a slope of 45° or steeper it is a thin ring that the perimeters of
the layers above already cover. Sparse infill areas smaller than PrusaSlicer's ``solid_infill_below_area``
become solid. What is left of ``inner_i`` is sparse infill.
"""

from __future__ import annotations

from collections.abc import Callable

from slicing import polygons
from slicing.polygons import Region

CoveredMemo = dict[tuple[int, ...], Region]
"""`_covered`'s results by the identities of the inner regions it intersected (the caller keeps those alive
while the memo lives)."""


def _covered(inner_of: Callable[[int], Region | None], layers: range, memo: CoveredMemo | None) -> Region:
    """Intersection of the inner regions of ``layers``; empty as soon as one is missing or empty.

    The layers above one layer are the layers below another (``top`` layers up), so with a ``memo`` each
    run of inner regions is intersected once, in the same order, to the same result."""
    regions: list[Region] = []
    for j in layers:
        region = inner_of(j)
        if not region:
            return []
        regions.append(region)
    key = tuple(id(region) for region in regions)
    if memo is not None and key in memo:
        return memo[key]
    covered: Region | None = None
    for region in regions:
        covered = list(region) if covered is None else polygons.intersection(covered, region)
        if not covered:
            break
    if memo is not None:
        memo[key] = covered or []
    return covered or []


def split(
    layer: int,
    inner_of: Callable[[int], Region | None],
    top_layers: int,
    bottom_layers: int,
    min_width_mm: float,
    solid_below_area_mm2: float = 0.0,
    memo: CoveredMemo | None = None,
) -> tuple[Region, Region]:
    """(solid, sparse) regions of ``layer``; ``inner_of(j)`` gives layer j's inner region (None/[] = empty).

    Solid areas narrower than ``min_width_mm`` are dropped (a morphological opening): the rings of skin
    under steep slopes, whose area the walls above cover. Sparse areas (each island of it) smaller than
    ``solid_below_area_mm2`` become solid, as PrusaSlicer's ``solid_infill_below_area`` does: a pin or
    a narrow rib gets solid plastic rather than a few stray infill lines. ``memo``: see `_covered`, for
    the layers of one pass whose ``inner_of`` gives the same object for the same region.
    """
    inner = inner_of(layer)
    if not inner:
        return [], []
    solid: Region = []
    if top_layers:
        above = _covered(inner_of, range(layer + 1, layer + 1 + top_layers), memo)
        solid = polygons.difference(inner, above)
    if bottom_layers:
        below = _covered(inner_of, range(layer - bottom_layers, layer), memo)
        bottom = polygons.difference(inner, below)
        solid = polygons.union(solid, bottom) if solid else bottom
    if solid and min_width_mm > 0:
        solid = polygons.offset2(solid, -min_width_mm / 2, min_width_mm / 2)
        solid = polygons.intersection(solid, inner)
    sparse = polygons.difference(inner, solid) if solid else list(inner)
    if solid_below_area_mm2 > 0 and sparse:
        small: Region = []
        large: Region = []
        for part in polygons.islands(sparse):
            (small if polygons.area_mm2(part) < solid_below_area_mm2 else large).extend(part)
        if small:
            solid = polygons.union(solid, small) if solid else small
            sparse = large
    return solid, sparse
