"""A pen or tool holder: a straight open cup, optionally split into compartments by radial dividers.

Dimension rule (one part, ``holder``): x/y extent of ``width`` across-flats (round and square:
x = y = ``width``; hexagonal: y = ``width``, x = ``width * 2 / sqrt(3)``), z = ``height``. The cavity
starts at z = ``floor``, ``wall`` in from the outside. With ``compartments`` ≥ 2 there are that many
dividers, ``wall`` thick and full height, running from the centre to the wall at equal angles (two
compartments: one straight divider across). Every compartment must hold a circle of
:data:`MIN_COMPARTMENT_MM`.
"""

from __future__ import annotations

import math

from manifold3d import Manifold

from cloud.designs.geometry.errors import GeometryError
from cloud.designs.geometry.layout import arrange
from cloud.designs.geometry.mesh import DesignMesh
from cloud.designs.geometry.outline import box, frustum, inscribed_radius, union
from cloud.designs.spec import PenHolderSpec

MIN_COMPARTMENT_MM = 12.0
MIN_CAVITY_MM = 5.0
OVERCUT_MM = 1.0


def build_pen_holder(spec: PenHolderSpec) -> DesignMesh:
    return arrange([("holder", holder(spec))])


def compartment_size(spec: PenHolderSpec) -> float:
    """Diameter of the largest round thing that fits in one compartment, mm."""
    r = inscribed_radius(spec.outline, spec.width) - spec.wall
    if spec.compartments == 1:
        return 2.0 * r
    s = math.sin(math.pi / spec.compartments)
    return 2.0 * (r * s - spec.wall / 2.0) / (1.0 + s)


def holder(spec: PenHolderSpec) -> Manifold:
    w, h = spec.width, spec.height
    inner = w - 2.0 * spec.wall
    if inner < MIN_CAVITY_MM:
        raise GeometryError(
            f"the wall ({spec.wall:g} mm) leaves no room inside a holder {w:g} mm wide; "
            "make the wall thinner or the holder wider"
        )
    if spec.floor > h - MIN_CAVITY_MM:
        raise GeometryError(
            f"the floor ({spec.floor:g} mm) leaves no room inside a holder {h:g} mm high; "
            "make the floor thinner or the holder taller"
        )
    size = compartment_size(spec)
    if size < MIN_COMPARTMENT_MM:
        raise GeometryError(
            f"{spec.compartments} compartments in a holder {w:g} mm wide are only {max(size, 0):.1f} mm "
            f"across, too narrow for a pen (at least {MIN_COMPARTMENT_MM:g} mm); "
            "use fewer compartments or a wider holder"
        )
    outer = frustum(spec.outline, w, w, 0.0, h)
    cavity = frustum(spec.outline, inner, inner, spec.floor, h + OVERCUT_MM)
    if spec.compartments > 1:
        cavity = cavity - union(dividers(spec))
    return outer - cavity


def dividers(spec: PenHolderSpec) -> list[Manifold]:
    """Radial plates from the centre outwards, ``wall`` thick, reaching past the outer wall."""
    n, t = spec.compartments, spec.wall
    reach = spec.width  # beyond any outline's corner; clipped by the cavity it is cut from
    z0, z1 = spec.floor - OVERCUT_MM, spec.height + 2 * OVERCUT_MM
    if n == 2:
        return [box(-reach, -t / 2.0, z0, reach, t / 2.0, z1)]
    plate = box(0.0, -t / 2.0, z0, reach, t / 2.0, z1)
    hub = Manifold.cylinder(z1 - z0, t / 2.0, circular_segments=16).translate((0.0, 0.0, z0))
    angle0 = 90.0  # a divider towards +y, the rest evenly round
    return [hub] + [plate.rotate((0.0, 0.0, angle0 + 360.0 * k / n)) for k in range(n)]
