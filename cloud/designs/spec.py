"""What the studio can make: one pydantic model per parametric family, all lengths in millimetres.

This is the contract between the understanding engines (built-in and LLM), the geometry
(``cloud.designs.geometry``) and the API. Bounds here are the sanity limits: a value outside them is
refused with the reason (a 5 m pot, a 0.1 mm wall), never silently clamped.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Sizes a desktop printer can make at all; the chosen printer's volume is checked separately.
MAX_SIZE_MM = 400.0
MIN_SIZE_MM = 5.0
MIN_WALL_MM = 0.8  # two 0.4 mm lines
MAX_WALL_MM = 20.0

Length = Annotated[float, Field(ge=MIN_SIZE_MM, le=MAX_SIZE_MM)]
Wall = Annotated[float, Field(ge=MIN_WALL_MM, le=MAX_WALL_MM)]


class Outline(StrEnum):
    ROUND = "round"
    SQUARE = "square"
    HEXAGONAL = "hexagonal"


class _Family(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanterSpec(_Family):
    """A planter pot: tapered (``top_width`` ≥ ``bottom_width``), open top, optional drainage and saucer.

    Widths are the outer diameter (round) or across-flats (square, hexagonal)."""

    family: Literal["planter"] = "planter"
    outline: Outline = Outline.ROUND
    height: Length = 100.0
    top_width: Length = 100.0
    bottom_width: Length = 75.0
    wall: Wall = 2.0
    floor: Wall = 2.4
    drainage_holes: Annotated[int, Field(ge=0, le=24)] = 0
    hole_diameter: Annotated[float, Field(ge=2.0, le=20.0)] = 6.0
    saucer: bool = False
    saucer_height: Annotated[float, Field(ge=5.0, le=60.0)] = 12.0
    saucer_gap: Annotated[float, Field(ge=1.0, le=30.0)] = 6.0  # saucer inner edge beyond the pot foot


class VaseSpec(_Family):
    """A vase friendly to spiral (vase) mode: a solid body with a floor, sliced with one wall."""

    family: Literal["vase"] = "vase"
    outline: Outline = Outline.ROUND
    height: Length = 150.0
    bottom_width: Length = 70.0
    belly_width: Length = 95.0
    top_width: Length = 60.0
    twist_deg: Annotated[float, Field(ge=-360.0, le=360.0)] = 0.0


class BoxSpec(_Family):
    """A box with a lid that fits over it with ``fit_clearance`` per side."""

    family: Literal["box"] = "box"
    width: Length = 80.0
    depth: Length = 60.0
    height: Length = 40.0
    wall: Wall = 2.0
    corner_radius: Annotated[float, Field(ge=0.0, le=50.0)] = 3.0
    lid: bool = True
    lid_height: Annotated[float, Field(ge=3.0, le=100.0)] = 10.0
    fit_clearance: Annotated[float, Field(ge=0.05, le=1.0)] = 0.2


class PenHolderSpec(_Family):
    """A pen or tool holder: an open cup, optionally split into compartments."""

    family: Literal["pen_holder"] = "pen_holder"
    outline: Outline = Outline.ROUND
    width: Length = 70.0
    height: Length = 100.0
    wall: Wall = 2.0
    floor: Wall = 2.4
    compartments: Annotated[int, Field(ge=1, le=6)] = 1


class WallBracketSpec(_Family):
    """An L-shaped wall bracket: a back plate with screw holes, a shelf arm, an optional gusset."""

    family: Literal["wall_bracket"] = "wall_bracket"
    width: Length = 30.0
    arm_length: Length = 100.0
    height: Length = 100.0
    thickness: Wall = 5.0
    screw_holes: Annotated[int, Field(ge=0, le=4)] = 2
    screw_diameter: Annotated[float, Field(ge=2.0, le=10.0)] = 4.5
    gusset: bool = True


class PhoneStandSpec(_Family):
    """A phone stand: a base, a back rest leaning at ``angle_deg`` from horizontal, a lip for the phone."""

    family: Literal["phone_stand"] = "phone_stand"
    width: Length = 80.0
    depth: Length = 90.0
    height: Length = 100.0
    angle_deg: Annotated[float, Field(ge=45.0, le=85.0)] = 65.0
    phone_thickness: Annotated[float, Field(ge=5.0, le=25.0)] = 12.0
    thickness: Wall = 4.0
    cable_slot: bool = True


DesignSpec = Annotated[
    PlanterSpec | VaseSpec | BoxSpec | PenHolderSpec | WallBracketSpec | PhoneStandSpec,
    Field(discriminator="family"),
]

FAMILIES: dict[str, type[_Family]] = {
    "planter": PlanterSpec,
    "vase": VaseSpec,
    "box": BoxSpec,
    "pen_holder": PenHolderSpec,
    "wall_bracket": WallBracketSpec,
    "phone_stand": PhoneStandSpec,
}
