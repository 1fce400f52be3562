"""The one exception of the geometry: a spec that passes validation but cannot be built."""

from __future__ import annotations


class GeometryError(ValueError):
    """A design that cannot exist, said so a person understands why and what to change.

    Raised by :func:`cloud.designs.geometry.build` for combinations the spec's per-field ranges cannot see:
    a wall that fills the whole pot, holes that do not fit in the floor, compartments too narrow for a pen.
    """
