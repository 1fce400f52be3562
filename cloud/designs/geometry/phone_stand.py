"""A phone stand, printed lying on its side: the side profile lies on the bed, extruded ``width`` up.

The profile (x from the front lip backwards, y up from the desk): a base slab ``thickness`` thick and
``depth`` long; a back rest of the same thickness whose front face leans back at ``angle_deg`` from the
horizontal and rises to ``height``; a front lip :data:`LIP_MM` high whose inside is ``phone_thickness``
(measured across the leaning phone) in front of the back rest. ``cable_slot`` cuts a
:data:`SLOT_MM` wide gap through lip and base under the phone, in the middle of the width, so a charging
plug drops through to the desk.

Dimension rule (one part, ``stand``): x = ``depth``, y = ``height``, z = ``width`` (as printed).
"""

from __future__ import annotations

import math

import numpy as np
from manifold3d import CrossSection, Manifold

from cloud.designs.geometry.errors import GeometryError
from cloud.designs.geometry.layout import arrange
from cloud.designs.geometry.mesh import DesignMesh
from cloud.designs.geometry.outline import box, union
from cloud.designs.spec import PhoneStandSpec

LIP_MM = 10.0
SLOT_MM = 14.0
SLOT_SIDE_MM = 10.0
PLAY_MM = 0.5
OVERCUT_MM = 1.0


def build_phone_stand(spec: PhoneStandSpec) -> DesignMesh:
    return arrange([("stand", stand(spec))])


def rest_foot(spec: PhoneStandSpec) -> float:
    """x of the back rest's front face where it meets the base (mm from the front)."""
    a = math.radians(spec.angle_deg)
    return spec.thickness + (spec.phone_thickness + PLAY_MM) / math.sin(a)


def profile(spec: PhoneStandSpec) -> list[np.ndarray]:
    """The three overlapping convex polygons of the side profile (base, back rest, lip), (k, 2) mm."""
    t, a = spec.thickness, math.radians(spec.angle_deg)
    if spec.height < t + LIP_MM + 5.0:
        raise GeometryError(
            f"a stand {spec.height:g} mm high has no back rest above its {t:g} mm base and "
            f"{LIP_MM:g} mm lip; make it taller"
        )
    x0 = rest_foot(spec)
    run = (spec.height - t) / math.tan(a)
    back = x0 + run + t * math.sin(a)
    if back > spec.depth:
        raise GeometryError(
            f"the back rest leaning at {spec.angle_deg:g}° to {spec.height:g} mm high reaches "
            f"{back:.1f} mm back, past the {spec.depth:g} mm base; make the base at least "
            f"{math.ceil(back)} mm deep, the stand lower or the angle steeper"
        )
    base = np.array([[0.0, 0.0], [spec.depth, 0.0], [spec.depth, t], [0.0, t]])
    d = np.array([math.cos(a), math.sin(a)])
    n = np.array([math.sin(a), -math.cos(a)])  # from the front face into the rest
    foot = np.array([x0, t])
    top = foot + d * ((spec.height - t) / math.sin(a))
    rest = np.array([foot, foot + t * n, top + t * n, top])
    rest = np.array([[x0 + t * n[0], 0.0], *rest[1:], foot])  # reach down into the base
    lip = np.array([[0.0, 0.0], [t, 0.0], [t, t + LIP_MM], [0.0, t + LIP_MM]])
    return [_ccw(base), _ccw(rest), _ccw(lip)]


def _ccw(poly: np.ndarray) -> np.ndarray:
    x, y = poly[:, 0], poly[:, 1]
    area = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    return poly if area > 0 else poly[::-1].copy()


def stand(spec: PhoneStandSpec) -> Manifold:
    shapes = [Manifold.extrude(CrossSection([p]), spec.width) for p in profile(spec)]
    solid = union(shapes)
    if not spec.cable_slot:
        return solid
    if spec.width < SLOT_MM + 2 * SLOT_SIDE_MM:
        raise GeometryError(
            f"a stand {spec.width:g} mm wide is too narrow for a {SLOT_MM:g} mm cable slot with "
            f"{SLOT_SIDE_MM:g} mm of support each side; make it at least {SLOT_MM + 2 * SLOT_SIDE_MM:g} mm "
            "wide or leave the slot out"
        )
    z0 = (spec.width - SLOT_MM) / 2.0
    cut = box(
        -OVERCUT_MM, -OVERCUT_MM, z0, rest_foot(spec), spec.thickness + LIP_MM + OVERCUT_MM, z0 + SLOT_MM
    )
    return solid - cut
