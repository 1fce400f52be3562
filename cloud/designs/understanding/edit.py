"""Generic dimensions and features → a family's spec fields (pure).

``size`` (a length said next to the object's name) means: a planter's top width (pots are sold
by diameter), a vase's height, a box's width, depth and height (a cube), a pen holder's height,
a bracket's arm length, a phone stand's width. Changing a planter's top width scales its bottom
width with it, and a vase's belly width its foot and mouth, so the shape keeps its proportions.
"""

from __future__ import annotations

from typing import Any, Final

from cloud.designs.spec import FAMILIES
from cloud.designs.understanding.parse import Relative

FIELDS: Final[dict[str, dict[str, str]]] = {
    "planter": {
        "height": "height", "width": "top_width", "size": "top_width", "top": "top_width",
        "bottom": "bottom_width", "wall": "wall", "thickness": "wall", "floor": "floor",
        "hole": "hole_diameter",
    },
    "vase": {
        "height": "height", "size": "height", "width": "belly_width", "belly": "belly_width",
        "top": "top_width", "bottom": "bottom_width",
    },
    "box": {
        "width": "width", "length": "width", "depth": "depth", "height": "height", "wall": "wall",
        "thickness": "wall",
    },
    "pen_holder": {
        "width": "width", "size": "height", "height": "height", "wall": "wall", "thickness": "wall",
        "floor": "floor",
    },
    "wall_bracket": {
        "width": "width", "length": "arm_length", "depth": "arm_length", "size": "arm_length",
        "height": "height", "thickness": "thickness", "wall": "thickness", "hole": "screw_diameter",
    },
    "phone_stand": {
        "width": "width", "size": "width", "depth": "depth", "height": "height",
        "thickness": "thickness", "wall": "thickness",
    },
}  # fmt: skip
MAIN: Final[dict[str, tuple[str, ...]]] = {
    "planter": ("height", "top_width", "bottom_width"),
    "vase": ("height", "bottom_width", "belly_width", "top_width"),
    "box": ("width", "depth", "height"),
    "pen_holder": ("width", "height"),
    "wall_bracket": ("width", "arm_length", "height"),
    "phone_stand": ("width", "depth", "height"),
}
ESSENTIAL: Final[dict[str, tuple[str, ...]]] = {
    "planter": ("height", "top_width"),
    "vase": ("height",),
    "box": ("width", "depth", "height"),
    "pen_holder": ("height", "width"),
    "wall_bracket": ("arm_length",),
    "phone_stand": (),
}
"""Fields a new design should not silently default: the reply says which defaults it used."""
LINKED: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("planter", "top_width"): ("bottom_width",),
    ("vase", "belly_width"): ("bottom_width", "top_width"),
}
FEATURE_FIELDS: Final[dict[str, dict[str, str]]] = {
    "planter": {"drainage_holes": "drainage_holes", "saucer": "saucer", "outline": "outline"},
    "vase": {"outline": "outline", "twist": "twist_deg"},
    "box": {"lid": "lid"},
    "pen_holder": {"outline": "outline", "compartments": "compartments"},
    "wall_bracket": {"screw_holes": "screw_holes", "drainage_holes": "screw_holes", "gusset": "gusset"},
    "phone_stand": {"cable_slot": "cable_slot", "angle": "angle_deg"},
}
DEFAULT_COUNTS: Final = {"drainage_holes": 4, "screw_holes": 2, "compartments": 3}
DEFAULT_TWIST_DEG: Final = 90.0


def defaults(family: str) -> dict[str, Any]:
    values: dict[str, Any] = FAMILIES[family]().model_dump(mode="json")
    return values


def _round(value: float) -> float:
    return round(value, 1)


def set_field(spec: dict[str, Any], family: str, field: str, value: float, explicit: set[str]) -> None:
    """Set ``field``; fields linked to it follow by the same ratio unless set explicitly too."""
    old = float(spec.get(field, 0.0))
    spec[field] = _round(value)
    explicit.add(field)
    for linked in LINKED.get((family, field), ()):
        if linked not in explicit and old > 0:
            spec[linked] = _round(float(spec[linked]) * value / old)


def apply_absolute(spec: dict[str, Any], family: str, dim: str, value_mm: float, explicit: set[str]) -> bool:
    """Set generic ``dim`` to ``value_mm``; False when the family has no such dimension."""
    if dim == "size" and family == "box":
        for name in ("width", "depth", "height"):
            set_field(spec, family, name, value_mm, explicit)
        return True
    field = FIELDS[family].get(dim)
    if field is None:
        return False
    set_field(spec, family, field, value_mm, explicit)
    return True


def apply_relative(spec: dict[str, Any], family: str, edit: Relative, explicit: set[str]) -> list[str]:
    """Apply a relative edit; the fields it changed (empty when the family has no such dimension)."""
    if edit.dim == "all":
        fields = [f for f in MAIN[family] if not _is_linked(family, f)]
    else:
        field = FIELDS[family].get(edit.dim)
        fields = [field] if field is not None else []
    for field in fields:
        old = float(spec[field])
        set_field(spec, family, field, old * edit.factor + edit.delta_mm, explicit)
    return fields


def _is_linked(family: str, field: str) -> bool:
    return any(field in linked for (fam, _), linked in LINKED.items() if fam == family)


def apply_features(spec: dict[str, Any], family: str, features: dict[str, Any]) -> list[str]:
    """Apply features that fit the family; the ones that do not (to say so)."""
    ignored: list[str] = []
    fields = FEATURE_FIELDS[family]
    for feature, value in features.items():
        field = fields.get(feature)
        if field is None:
            if feature != "outline" or value != "round":
                ignored.append(feature)
            continue
        if feature in DEFAULT_COUNTS:
            if value is True:
                current = int(spec.get(field) or 0)
                spec[field] = current if current > 0 else DEFAULT_COUNTS[feature]
            else:
                spec[field] = int(value)
        elif feature == "twist":
            if value is False:
                spec[field] = 0.0
            elif not spec.get(field):
                spec[field] = DEFAULT_TWIST_DEG
        elif feature == "angle":
            continue  # the angle itself comes with a number of degrees
        else:
            spec[field] = value
    return ignored


def apply_degrees(spec: dict[str, Any], family: str, degrees: list[float]) -> bool:
    if not degrees:
        return True
    if family == "phone_stand":
        spec["angle_deg"] = degrees[-1]
        return True
    if family == "vase":
        spec["twist_deg"] = degrees[-1]
        return True
    return False


def apply_box_sizes(
    spec: dict[str, Any], family: str, sizes_mm: tuple[float, ...], explicit: set[str]
) -> bool:
    """``20 x 30 x 40 mm``: width x depth x height of a box, bracket or stand; width x height otherwise."""
    names = {
        "box": ("width", "depth", "height"),
        "wall_bracket": ("width", "arm_length", "height"),
        "phone_stand": ("width", "depth", "height"),
        "planter": ("top_width", "height"),
        "pen_holder": ("width", "height"),
        "vase": ("belly_width", "height"),
    }[family]
    if len(sizes_mm) > len(names):
        return False
    for field, value in zip(names, sizes_mm, strict=False):
        set_field(spec, family, field, value, explicit)
    return True
