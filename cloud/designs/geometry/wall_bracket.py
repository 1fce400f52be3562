"""An L-shaped wall bracket, printed lying on its side so the layers run along the L (its strong way).

The profile (back plate, shelf arm, optional triangular gusset in the inside corner) lies on the bed and
is extruded ``width`` upwards. Screw holes run through the back plate, horizontally as printed, spread
evenly over the part of the plate clear of the arm and gusset.

Dimension rule (one part, ``bracket``): x = ``arm_length`` (the arm, including the plate's thickness),
y = ``height`` (the back plate), z = ``width``. Plate and arm are ``thickness`` thick; the gusset's legs
are :data:`GUSSET_SHARE` of the shorter of arm and plate, measured from the inside corner.
"""

from __future__ import annotations

import numpy as np
from manifold3d import CrossSection, Manifold

from cloud.designs.geometry.errors import GeometryError
from cloud.designs.geometry.layout import arrange
from cloud.designs.geometry.mesh import DesignMesh
from cloud.designs.geometry.outline import segments_for, union
from cloud.designs.spec import WallBracketSpec

GUSSET_SHARE = 0.4
HOLE_MARGIN_MM = 2.0
OVERCUT_MM = 1.0


def build_wall_bracket(spec: WallBracketSpec) -> DesignMesh:
    return arrange([("bracket", bracket(spec))])


def _gusset_leg(spec: WallBracketSpec) -> float:
    inside = min(spec.arm_length, spec.height) - spec.thickness
    return GUSSET_SHARE * inside if spec.gusset else 0.0


def profile(spec: WallBracketSpec) -> CrossSection:
    """The L in the x/y plane: plate along y at x ∈ [0, t], arm along x at y ∈ [0, t]."""
    t, arm, h = spec.thickness, spec.arm_length, spec.height
    if t > min(arm, h) - 2.0:
        raise GeometryError(
            f"a {t:g} mm thick bracket leaves nothing of a {min(arm, h):g} mm "
            f"{'arm' if arm <= h else 'back plate'}; make it thinner or longer"
        )
    pts = [(0.0, 0.0), (arm, 0.0), (arm, t)]
    g = _gusset_leg(spec)
    pts += [(t + g, t), (t, t + g)] if g > 0 else [(t, t)]
    pts += [(t, h), (0.0, h)]
    return CrossSection([np.array(pts, dtype=np.float64)])


def screw_holes(spec: WallBracketSpec) -> list[Manifold]:
    """Horizontal cutters along x through the plate, centred on the width."""
    n, d = spec.screw_holes, spec.screw_diameter
    if n == 0:
        return []
    if d + 2.0 * HOLE_MARGIN_MM > spec.width:
        raise GeometryError(
            f"a {d:g} mm screw hole does not fit across a {spec.width:g} mm wide bracket; "
            f"use screws under {spec.width - 2 * HOLE_MARGIN_MM:g} mm or a wider bracket"
        )
    lo = spec.thickness + _gusset_leg(spec) + HOLE_MARGIN_MM + d / 2.0
    hi = spec.height - HOLE_MARGIN_MM - d / 2.0
    pitch = (hi - lo) / (n - 1) if n > 1 else 0.0
    if hi < lo or (n > 1 and pitch < d + HOLE_MARGIN_MM):
        raise GeometryError(
            f"{n} screw holes of {d:g} mm do not fit on the back plate clear of the arm"
            f"{' and gusset' if spec.gusset else ''}; use fewer holes or a taller plate"
        )
    ys = [(lo + hi) / 2.0] if n == 1 else [lo + k * pitch for k in range(n)]
    length = spec.thickness + 2 * OVERCUT_MM
    pin = Manifold.cylinder(length, d / 2.0, circular_segments=segments_for(d))
    pin = pin.rotate((0.0, 90.0, 0.0)).translate((-OVERCUT_MM, 0.0, spec.width / 2.0))
    return [pin.translate((0.0, y, 0.0)) for y in ys]


def bracket(spec: WallBracketSpec) -> Manifold:
    solid = Manifold.extrude(profile(spec), spec.width)
    holes = screw_holes(spec)
    return solid - union(holes) if holes else solid
