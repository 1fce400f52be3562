"""Plan-view outlines (round, square, hexagonal) and the few solid primitives every family builds from.

Widths are across-flats: the diameter of a round outline, the side of a square, the distance between
two opposite sides of a hexagon. A hexagon has its flats facing ±y, so its extent is ``width`` along y
and ``width * 2 / sqrt(3)`` (across corners) along x. Round outlines have a multiple of 4 segments with a
vertex on each axis, so their bounding box is exactly the diameter, and enough of them that no chord
strays more than :data:`CHORD_TOLERANCE_MM` from the true circle.
"""

from __future__ import annotations

import math

import numpy as np
from manifold3d import CrossSection, Manifold, OpType

from cloud.designs.spec import Outline

CHORD_TOLERANCE_MM = 0.05
MIN_SEGMENTS = 48
MAX_SEGMENTS = 256


def segments_for(diameter_mm: float) -> int:
    """Segments of a round outline of ``diameter_mm``: a multiple of 4, sagitta ≤ the chord tolerance."""
    r = max(diameter_mm / 2.0, CHORD_TOLERANCE_MM * 2)
    n = math.ceil(math.pi / math.acos(1.0 - CHORD_TOLERANCE_MM / r))
    n = max(MIN_SEGMENTS, min(MAX_SEGMENTS, n))
    return -(-n // 4) * 4


def outline(kind: Outline, width_mm: float, segments: int | None = None) -> np.ndarray:
    """(k, 2) float64 counter-clockwise polygon of across-flats ``width_mm``, centred on the origin."""
    if kind is Outline.SQUARE:
        h = width_mm / 2.0
        return np.array([[-h, -h], [h, -h], [h, h], [-h, h]], dtype=np.float64)
    if kind is Outline.HEXAGONAL:
        r = width_mm / math.sqrt(3.0)
        a = np.radians(np.arange(6) * 60.0)
        return np.column_stack([r * np.cos(a), r * np.sin(a)])
    n = segments or segments_for(width_mm)
    a = np.arange(n) * (2.0 * math.pi / n)
    return np.column_stack([width_mm / 2.0 * np.cos(a), width_mm / 2.0 * np.sin(a)])


def inscribed_radius(kind: Outline, width_mm: float) -> float:
    """Radius of the largest circle inside the outline (half the across-flats width for all three)."""
    del kind  # across-flats makes it the same for every outline
    return width_mm / 2.0


def extent(kind: Outline, width_mm: float) -> tuple[float, float]:
    """Bounding-box size (x, y) of the outline of across-flats ``width_mm``."""
    if kind is Outline.HEXAGONAL:
        return width_mm * 2.0 / math.sqrt(3.0), width_mm
    return width_mm, width_mm


def frustum(kind: Outline, bottom_mm: float, top_mm: float, z0_mm: float, z1_mm: float) -> Manifold:
    """A straight or tapered prism: the outline ``bottom_mm`` wide at ``z0_mm``, ``top_mm`` at ``z1_mm``."""
    segments = segments_for(max(bottom_mm, top_mm))
    section = CrossSection([outline(kind, bottom_mm, segments)])
    scale = top_mm / bottom_mm
    solid = Manifold.extrude(section, z1_mm - z0_mm, scale_top=(scale, scale))
    return solid.translate((0.0, 0.0, z0_mm))


def cylinder(
    diameter_mm: float, z0_mm: float, z1_mm: float, x_mm: float = 0.0, y_mm: float = 0.0
) -> Manifold:
    """A round hole cutter or peg from ``z0_mm`` to ``z1_mm`` centred on (``x_mm``, ``y_mm``)."""
    solid = Manifold.cylinder(z1_mm - z0_mm, diameter_mm / 2.0, circular_segments=segments_for(diameter_mm))
    return solid.translate((x_mm, y_mm, z0_mm))


def box(x0: float, y0: float, z0: float, x1: float, y1: float, z1: float) -> Manifold:
    """An axis-aligned block between two corners (mm)."""
    return Manifold.cube((x1 - x0, y1 - y0, z1 - z0)).translate((x0, y0, z0))


def union(solids: list[Manifold]) -> Manifold:
    """The boolean union of ``solids`` (an empty manifold for none)."""
    if not solids:
        return Manifold()
    if len(solids) == 1:
        return solids[0]
    return Manifold.batch_boolean(solids, OpType.Add)
