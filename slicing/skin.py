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


def _covered(inner_of: Callable[[int], Region | None], layers: range) -> Region:
    """Intersection of the inner regions of ``layers``; empty as soon as one is missing or empty."""
    covered: Region | None = None
    for j in layers:
        region = inner_of(j)
        if not region:
            return []
        covered = list(region) if covered is None else polygons.intersection(covered, region)
        if not covered:
            return []
    return covered or []


def split(
    layer: int,
    inner_of: Callable[[int], Region | None],
    top_layers: int,
    bottom_layers: int,
    min_width_mm: float,
    solid_below_area_mm2: float = 0.0,
) -> tuple[Region, Region]:
    """(solid, sparse) regions of ``layer``; ``inner_of(j)`` gives layer j's inner region (None/[] = empty).

    Solid areas narrower than ``min_width_mm`` are dropped (a morphological opening): the rings of skin
    under steep slopes, whose area the walls above cover. Sparse areas (each island of it) smaller than
    ``solid_below_area_mm2`` become solid, as PrusaSlicer's ``solid_infill_below_area`` does: a pin or
    a narrow rib gets solid plastic rather than a few stray infill lines.
    """
    inner = inner_of(layer)
    if not inner:
        return [], []
    solid: Region = []
    if top_layers:
        above = _covered(inner_of, range(layer + 1, layer + 1 + top_layers))
        solid = polygons.difference(inner, above)
    if bottom_layers:
        below = _covered(inner_of, range(layer - bottom_layers, layer))
        bottom = polygons.difference(inner, below)
        solid = polygons.union(solid, bottom) if solid else bottom
    if solid and min_width_mm > 0:
        solid = polygons.offset(polygons.offset(solid, -min_width_mm / 2), min_width_mm / 2)
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
