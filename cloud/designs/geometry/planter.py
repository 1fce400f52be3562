"""A planter pot: a tapered open cup with an optional ring of drainage holes and an optional saucer.

Dimension rule (parts ``pot`` and, with ``saucer``, ``saucer``; widths across-flats, see ``outline``):

- ``pot``: x/y extent of ``top_width`` (round and square: x = y = ``top_width``; hexagonal:
  y = ``top_width``, x = ``top_width * 2 / sqrt(3)``), z = ``height``. The foot is ``bottom_width`` wide.
- The cavity starts at z = ``floor``; its side is ``wall`` in from the outside, measured horizontally.
- Drainage holes go through the floor: one in the centre, or ``drainage_holes`` on a ring that keeps
  :data:`HOLE_MARGIN_MM` of floor between every hole and the wall and between neighbouring holes.
- ``saucer``: a straight dish, inner width ``bottom_width + 2 * saucer_gap``, so its extent is
  ``bottom_width + 2 * (saucer_gap + wall)`` (same outline rule), z = ``saucer_height``; wall and floor
  as the pot's. It is laid beside the pot.
"""

from __future__ import annotations

import math

from manifold3d import Manifold

from cloud.designs.geometry.errors import GeometryError
from cloud.designs.geometry.layout import arrange
from cloud.designs.geometry.mesh import DesignMesh
from cloud.designs.geometry.outline import cylinder, frustum, inscribed_radius, union
from cloud.designs.spec import PlanterSpec

HOLE_MARGIN_MM = 1.5
MIN_CAVITY_MM = 5.0
OVERCUT_MM = 1.0


def build_planter(spec: PlanterSpec) -> DesignMesh:
    parts = [("pot", pot(spec))]
    if spec.saucer:
        parts.append(("saucer", saucer(spec)))
    return arrange(parts)


def pot(spec: PlanterSpec) -> Manifold:
    h, top, bottom = spec.height, spec.top_width, spec.bottom_width
    if bottom > top:
        raise GeometryError(
            f"the pot is wider at the foot ({bottom:g} mm) than at the top ({top:g} mm); a planter must "
            "widen upwards or be straight, so make the top at least as wide as the bottom"
        )
    if spec.floor > h - MIN_CAVITY_MM:
        raise GeometryError(
            f"the floor ({spec.floor:g} mm) leaves no room inside a pot {h:g} mm high; make the pot "
            f"at least {spec.floor + MIN_CAVITY_MM:g} mm high or the floor thinner"
        )

    def width_at(z: float) -> float:
        return bottom + (top - bottom) * z / h

    inner_floor = width_at(spec.floor) - 2.0 * spec.wall
    if inner_floor < MIN_CAVITY_MM:
        raise GeometryError(
            f"the wall ({spec.wall:g} mm) leaves no room inside a foot {bottom:g} mm wide; "
            "make the wall thinner or the pot wider"
        )
    outer = frustum(spec.outline, bottom, top, 0.0, h)
    top_cut = h + OVERCUT_MM
    cavity = frustum(spec.outline, inner_floor, width_at(top_cut) - 2.0 * spec.wall, spec.floor, top_cut)
    body = outer - cavity
    holes = drainage_holes(spec, inner_floor)
    return body - union(holes) if holes else body


def drainage_holes(spec: PlanterSpec, inner_floor_mm: float) -> list[Manifold]:
    """Cutters through the floor: one centred, or a ring of ``drainage_holes``."""
    n, d = spec.drainage_holes, spec.hole_diameter
    if n == 0:
        return []
    room = inscribed_radius(spec.outline, inner_floor_mm) - HOLE_MARGIN_MM
    if d / 2.0 > room:
        raise GeometryError(
            f"a {d:g} mm drainage hole does not fit in the floor, which is {inner_floor_mm:.1f} mm across "
            f"inside the wall; use holes under {2 * room:.1f} mm"
        )
    z0, z1 = -OVERCUT_MM, spec.floor + OVERCUT_MM
    if n == 1:
        return [cylinder(d, z0, z1)]
    ring = room - d / 2.0
    spacing = 2.0 * ring * math.sin(math.pi / n)
    if ring <= 0 or spacing < d + HOLE_MARGIN_MM:
        fit = _holes_that_fit(room, d)
        raise GeometryError(
            f"{n} drainage holes of {d:g} mm do not fit in a floor {inner_floor_mm:.1f} mm across; "
            f"use at most {fit} holes, smaller holes or a wider foot"
        )
    angles = [2.0 * math.pi * k / n for k in range(n)]
    return [cylinder(d, z0, z1, ring * math.cos(a), ring * math.sin(a)) for a in angles]


def _holes_that_fit(room_mm: float, hole_mm: float) -> int:
    ring = room_mm - hole_mm / 2.0
    if ring <= 0:
        return 1
    ratio = (hole_mm + HOLE_MARGIN_MM) / (2.0 * ring)
    return max(1, math.floor(math.pi / math.asin(ratio))) if ratio < 1 else 1


def saucer(spec: PlanterSpec) -> Manifold:
    inner = spec.bottom_width + 2.0 * spec.saucer_gap
    outer = inner + 2.0 * spec.wall
    if spec.saucer_height < spec.floor + 1.0:
        raise GeometryError(
            f"the saucer ({spec.saucer_height:g} mm high) is no deeper than its floor ({spec.floor:g} mm); "
            "make the saucer taller or the floor thinner"
        )
    dish = frustum(spec.outline, outer, outer, 0.0, spec.saucer_height)
    return dish - frustum(spec.outline, inner, inner, spec.floor, spec.saucer_height + OVERCUT_MM)
