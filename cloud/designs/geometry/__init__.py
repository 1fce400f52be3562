"""Watertight, printable models of the studio's parametric families, and whether they print.

Public API::

    build(spec) -> DesignMesh              # placed on the bed, parts side by side, centred on x/y = 0
    check_printability(spec, mesh, ...) -> Printability
    GeometryError(ValueError)              # a spec that validates but cannot be built, said plainly

One module per family holds its construction and its dimension rule (module docstring); ``outline``
the plan shapes, ``layout`` the placing of parts, ``mesh`` the result type and its STL/3MF export.
"""

from __future__ import annotations

from cloud.designs.geometry.box import build_box
from cloud.designs.geometry.errors import GeometryError
from cloud.designs.geometry.mesh import DesignMesh
from cloud.designs.geometry.pen_holder import build_pen_holder
from cloud.designs.geometry.phone_stand import build_phone_stand
from cloud.designs.geometry.planter import build_planter
from cloud.designs.geometry.printability import Printability, PrintIssue, check_printability
from cloud.designs.geometry.vase import build_vase
from cloud.designs.geometry.wall_bracket import build_wall_bracket
from cloud.designs.spec import (
    BoxSpec,
    DesignSpec,
    PenHolderSpec,
    PhoneStandSpec,
    PlanterSpec,
    VaseSpec,
    WallBracketSpec,
)

__all__ = [
    "DesignMesh",
    "GeometryError",
    "PrintIssue",
    "Printability",
    "build",
    "check_printability",
]


def build(spec: DesignSpec) -> DesignMesh:
    """The model of ``spec``; raises :class:`GeometryError` when the combination cannot exist."""
    if isinstance(spec, PlanterSpec):
        return build_planter(spec)
    if isinstance(spec, VaseSpec):
        return build_vase(spec)
    if isinstance(spec, BoxSpec):
        return build_box(spec)
    if isinstance(spec, PenHolderSpec):
        return build_pen_holder(spec)
    if isinstance(spec, WallBracketSpec):
        return build_wall_bracket(spec)
    if isinstance(spec, PhoneStandSpec):
        return build_phone_stand(spec)
    raise TypeError(f"not a design spec: {type(spec).__name__}")
