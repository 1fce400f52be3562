"""A vase for spiral (vase) mode: one solid body, the slicer makes it a single-wall shell with a floor.

The profile runs bottom → belly → top with no kinks: from the foot to the belly (at
:data:`BELLY_AT` of the height) the width follows a quarter sine, from the belly to the rim a quarter
cosine, so the slope is zero at the belly and the curve is smooth (C¹) everywhere. ``twist_deg`` turns
the outline linearly with height (bottom 0°, rim ``twist_deg``). A solid body has no cavity, so the
slicer's vase mode never meets an internal surface.

Dimension rule (one part, ``vase``): z = ``height``; with no twist (or a round outline) the x/y extent is
the widest of ``bottom_width``, ``belly_width`` and ``top_width`` under the outline rule (round and
square: x = y = that width; hexagonal: y = width, x = width * 2 / sqrt(3)). A twisted square or hexagon
turns its corners out of the axes, so only its height and widths at the foot and rim hold.
"""

from __future__ import annotations

import math

import numpy as np
from manifold3d import CrossSection, Manifold

from cloud.designs.geometry.layout import arrange
from cloud.designs.geometry.mesh import DesignMesh
from cloud.designs.geometry.outline import outline, segments_for
from cloud.designs.spec import Outline, VaseSpec

BELLY_AT = 0.4
LAYER_STEP_MM = 1.0
MIN_RINGS = 48
MAX_RINGS = 240


def build_vase(spec: VaseSpec) -> DesignMesh:
    return arrange([("vase", body(spec))])


def profile_width(spec: VaseSpec, z_mm: np.ndarray) -> np.ndarray:
    """(n,) float64 across-flats width of the vase at heights ``z_mm`` (n,)."""
    t = np.clip(np.asarray(z_mm, dtype=np.float64) / spec.height, 0.0, 1.0)
    b, m, top = spec.bottom_width, spec.belly_width, spec.top_width
    low = b + (m - b) * np.sin(t / BELLY_AT * (math.pi / 2.0))
    high = m + (top - m) * (1.0 - np.cos((t - BELLY_AT) / (1.0 - BELLY_AT) * (math.pi / 2.0)))
    width: np.ndarray = np.where(t <= BELLY_AT, low, high)
    return width


def body(spec: VaseSpec) -> Manifold:
    widest = max(spec.bottom_width, spec.belly_width, spec.top_width)
    segments = segments_for(widest) if spec.outline is Outline.ROUND else None
    unit = CrossSection([outline(spec.outline, 1.0, segments)])
    rings = int(min(MAX_RINGS, max(MIN_RINGS, math.ceil(spec.height / LAYER_STEP_MM))))
    column = Manifold.extrude(unit, spec.height, n_divisions=rings - 1)

    def shape(points: np.ndarray) -> np.ndarray:
        z = points[:, 2]
        w = profile_width(spec, z)
        turn = np.radians(spec.twist_deg) * (z / spec.height)
        c, s = np.cos(turn), np.sin(turn)
        x, y = points[:, 0] * w, points[:, 1] * w
        return np.column_stack([c * x - s * y, s * x + c * y, z])

    return column.warp_batch(shape)
