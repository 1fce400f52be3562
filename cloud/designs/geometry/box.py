"""A box with rounded vertical corners and a lid that fits over it.

Dimension rule (parts ``box`` and, with ``lid``, ``lid``):

- ``box``: x = ``width``, y = ``depth``, z = ``height``; walls and floor ``wall`` thick; outer corners
  rounded with ``corner_radius`` (inner corners with ``corner_radius - wall``, sharp when that is ≤ 0).
  Printed opening up.
- ``lid``: a cap whose inside is the box's outline grown by ``fit_clearance`` per side and whose wall
  and top are ``wall`` thick: x = ``width + 2 * (wall + fit_clearance)``, y = ``depth + 2 * (wall +
  fit_clearance)``, z = ``lid_height``. Printed upside down (top on the bed, opening up), beside the box.
"""

from __future__ import annotations

import math

import numpy as np
from manifold3d import CrossSection, Manifold

from cloud.designs.geometry.errors import GeometryError
from cloud.designs.geometry.layout import arrange
from cloud.designs.geometry.mesh import DesignMesh
from cloud.designs.geometry.outline import segments_for
from cloud.designs.spec import BoxSpec

MIN_CAVITY_MM = 5.0
OVERCUT_MM = 1.0


def build_box(spec: BoxSpec) -> DesignMesh:
    parts = [("box", body(spec))]
    if spec.lid:
        parts.append(("lid", lid(spec)))
    return arrange(parts)


def rounded_rect(width_mm: float, depth_mm: float, radius_mm: float) -> CrossSection:
    """A ``width_mm`` by ``depth_mm`` rectangle centred on the origin, corners rounded by ``radius_mm``."""
    hx, hy = width_mm / 2.0, depth_mm / 2.0
    if radius_mm <= 0:
        return CrossSection([np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])])
    quarter = max(2, segments_for(2.0 * radius_mm) // 4)
    points: list[np.ndarray] = []
    for cx, cy, start in ((hx, hy, 0.0), (-hx, hy, 90.0), (-hx, -hy, 180.0), (hx, -hy, 270.0)):
        a = np.radians(start + np.linspace(0.0, 90.0, quarter + 1))
        ox, oy = cx - math.copysign(radius_mm, cx), cy - math.copysign(radius_mm, cy)
        points.append(np.column_stack([ox + radius_mm * np.cos(a), oy + radius_mm * np.sin(a)]))
    return CrossSection([np.concatenate(points)])


def _check(spec: BoxSpec) -> None:
    if spec.corner_radius * 2.0 > min(spec.width, spec.depth):
        raise GeometryError(
            f"the corner radius ({spec.corner_radius:g} mm) is more than half the box's "
            f"{min(spec.width, spec.depth):g} mm side; use at most {min(spec.width, spec.depth) / 2:g} mm"
        )
    inner = min(spec.width, spec.depth) - 2.0 * spec.wall
    if inner < MIN_CAVITY_MM:
        raise GeometryError(
            f"the wall ({spec.wall:g} mm) leaves no room inside a box {min(spec.width, spec.depth):g} mm "
            "across; make the wall thinner or the box bigger"
        )
    if spec.height < spec.wall + MIN_CAVITY_MM:
        raise GeometryError(
            f"a box {spec.height:g} mm high with a {spec.wall:g} mm floor has no room inside; "
            "make it taller or the wall thinner"
        )


def body(spec: BoxSpec) -> Manifold:
    _check(spec)
    outline = rounded_rect(spec.width, spec.depth, spec.corner_radius)
    outer = Manifold.extrude(outline, spec.height)
    w = spec.wall
    hollow = rounded_rect(spec.width - 2 * w, spec.depth - 2 * w, max(spec.corner_radius - w, 0.0))
    cavity = Manifold.extrude(hollow, spec.height).translate((0.0, 0.0, spec.wall))
    return outer - cavity


def lid(spec: BoxSpec) -> Manifold:
    _check(spec)
    if spec.lid_height < spec.wall + 1.0:
        raise GeometryError(
            f"the lid ({spec.lid_height:g} mm high) is no deeper than its top ({spec.wall:g} mm); "
            "make the lid taller or the wall thinner"
        )
    c = spec.fit_clearance
    inside = rounded_rect(spec.width + 2.0 * c, spec.depth + 2.0 * c, spec.corner_radius + c)
    r_out = spec.corner_radius + c + spec.wall
    outside = rounded_rect(spec.width + 2.0 * (c + spec.wall), spec.depth + 2.0 * (c + spec.wall), r_out)
    cap = Manifold.extrude(outside, spec.lid_height)
    cavity = Manifold.extrude(inside, spec.lid_height).translate((0.0, 0.0, spec.wall))
    return cap - cavity
