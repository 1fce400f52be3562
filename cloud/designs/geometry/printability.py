"""Can it be printed, and what will it cost: wall widths, printer volume, overhangs, material figures.

Pure: takes the spec, the built mesh and the printer's figures, returns a :class:`Printability`.

- Walls measured across the nozzle's path (``wall``, ``thickness``) thinner than two line widths are an
  error naming the parameter; a vase in spiral mode is one line wide by design and is not checked.
- A layout larger than the printer's ``volume_mm`` on any axis is an error naming the axis.
- Overhang: the area of downward-facing surfaces tilted more than 45° from vertical (their outward
  normal within 45° of straight down) that are not on the bed. Above
  :data:`OVERHANG_WARN_MM2` it is a warning (a small hole's crown or slot's ceiling bridges fine).
- Material: the solid volume (an upper bound: the slicer's sparse infill makes thick parts lighter),
  except a vase, which spiral mode prints as one line of wall over a
  :data:`VASE_FLOOR_MM` floor. Filament length is that volume over the filament's cross-section.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from cloud.designs.geometry.mesh import DesignMesh
from cloud.designs.spec import (
    BoxSpec,
    DesignSpec,
    PenHolderSpec,
    PhoneStandSpec,
    PlanterSpec,
    VaseSpec,
    WallBracketSpec,
)

OVERHANG_COS = math.cos(math.radians(45.0))
OVERHANG_WARN_MM2 = 400.0
BED_EPS_MM = 1e-6
VASE_FLOOR_MM = 0.8
AXES = ("X", "Y", "Z")


AnySpec = PlanterSpec | VaseSpec | BoxSpec | PenHolderSpec | WallBracketSpec | PhoneStandSpec
"""Every family's spec as a plain union (``DesignSpec`` is the same union, discriminated by ``family``)."""


class PrintIssue(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    severity: Literal["error", "warning"]
    message: str


class Printability(BaseModel):
    """The verdict: ``ok`` when no issue is an error; figures for the order page."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    issues: list[PrintIssue]
    volume_cm3: float
    mass_g: float
    filament_m: float
    cost: float
    overhang_area_mm2: float


def wall_parameters(spec: DesignSpec) -> dict[str, float]:
    """The spec's horizontal wall widths by parameter name (what the nozzle must fit lines into)."""
    if isinstance(spec, PlanterSpec | BoxSpec | PenHolderSpec):
        return {"wall": spec.wall}
    if isinstance(spec, WallBracketSpec | PhoneStandSpec):
        return {"thickness": spec.thickness}
    return {}


def overhang_area(mesh: DesignMesh) -> float:
    """Area (mm²) of downward faces steeper than 45° from vertical that do not rest on the bed."""
    normals = mesh.face_normals
    down = normals[:, 2] < -OVERHANG_COS
    on_bed = mesh.triangles[:, :, 2].max(axis=1) <= BED_EPS_MM
    return float(mesh.face_areas[down & ~on_bed].sum())


def printed_volume_mm3(spec: DesignSpec, mesh: DesignMesh, line_width_mm: float) -> float:
    """Plastic laid down: the solid, or for a vase its side as one line plus a thin floor."""
    if not isinstance(spec, VaseSpec):
        return mesh.volume_mm3
    normals = mesh.face_normals
    side = np.abs(normals[:, 2]) < 0.999
    bottom = (normals[:, 2] < -0.999) & (mesh.triangles[:, :, 2].max(axis=1) <= BED_EPS_MM)
    areas = mesh.face_areas
    return float(areas[side].sum() * line_width_mm + areas[bottom].sum() * VASE_FLOOR_MM)


def check_printability(
    spec: DesignSpec,
    mesh: DesignMesh,
    *,
    volume_mm: tuple[float, float, float] | None = None,
    line_width_mm: float = 0.45,
    density_g_cm3: float = 1.24,
    price_per_kg: float = 25.0,
    filament_diameter_mm: float = 1.75,
) -> Printability:
    issues: list[PrintIssue] = []
    for name, width in wall_parameters(spec).items():
        if width < 2.0 * line_width_mm - 1e-9:
            issues.append(
                PrintIssue(
                    code="wall_too_thin",
                    severity="error",
                    message=(
                        f"the {name} ({width:g} mm) is thinner than two {line_width_mm:g} mm lines; "
                        f"make the {name} at least {2 * line_width_mm:g} mm"
                    ),
                )
            )
    if volume_mm is not None:
        size = mesh.bounds[1] - mesh.bounds[0]
        hint = "; print the parts one at a time" if len(mesh.parts) > 1 else ""
        for axis, have, room in zip(AXES, size.tolist(), volume_mm, strict=True):
            if have > room + 1e-6:
                issues.append(
                    PrintIssue(
                        code="too_big",
                        severity="error",
                        message=(
                            f"the model is {have:.1f} mm along {axis} but the printer takes {room:g} mm{hint}"
                        ),
                    )
                )
    overhang = overhang_area(mesh)
    if overhang > OVERHANG_WARN_MM2:
        issues.append(
            PrintIssue(
                code="overhang",
                severity="warning",
                message=(
                    f"{overhang:.0f} mm² of surface faces the bed at less than 45° from horizontal; "
                    "it may sag without supports"
                ),
            )
        )
    if not mesh.is_watertight:
        issues.append(
            PrintIssue(code="not_watertight", severity="error", message="the model has holes in its surface")
        )
    volume_mm3 = printed_volume_mm3(spec, mesh, line_width_mm)
    mass_g = volume_mm3 / 1000.0 * density_g_cm3
    filament_mm = volume_mm3 / (math.pi * (filament_diameter_mm / 2.0) ** 2)
    return Printability(
        ok=not any(i.severity == "error" for i in issues),
        issues=issues,
        volume_cm3=round(volume_mm3 / 1000.0, 3),
        mass_g=round(mass_g, 2),
        filament_m=round(filament_mm / 1000.0, 3),
        cost=round(mass_g / 1000.0 * price_per_kg, 2),
        overhang_area_mm2=round(overhang, 1),
    )
