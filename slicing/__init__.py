"""The 3D Pot slicer: mesh in, G-code out.

    from slicing import load_profile, slice_file
    profile = load_profile(overrides={"print": {"perimeters": 3}})
    result = slice_file(Path("part.stl"), Path("part.gcode"), profile)

Modules, in pipeline order: `mesh_io` (STL/OBJ/3MF) → `repair` (merge, winding, holes, placement) →
`sections` (all layers at once) → `perimeters` (+ `gapfill`) → `skin` → `infill` → `toolpath` (print order) →
`planner` (travel, retraction, speeds) → `estimate` (time) → `gcode_writer` (+ `thumbnail`); `pipeline`
runs them over layer ranges in a process pool. `gcode_reader` reads G-code back for checks. Every error
for bad input is a `SliceError` (see `slicing.errors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slicing.errors import SliceError
from slicing.pipeline import SliceResult, slice_file, slice_mesh
from slicing.profiles import Profile, load_profile

if TYPE_CHECKING:
    from slicing.service import CloudSlicer, cloud_slicer

__all__ = [
    "CloudSlicer",
    "Profile",
    "SliceError",
    "SliceResult",
    "cloud_slicer",
    "load_profile",
    "slice_file",
    "slice_mesh",
]


def __getattr__(name: str) -> Any:
    # The cloud's entry points load `slicing.service` (and asyncio with it, ~10 ms) on first use, so
    # `python -m slicing` does not pay for them at start-up.
    if name in ("CloudSlicer", "cloud_slicer"):
        from slicing import service  # noqa: PLC0415 - cloud only, see above

        return getattr(service, name)
    raise AttributeError(f"module 'slicing' has no attribute {name!r}")
