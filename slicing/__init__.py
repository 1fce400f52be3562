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

if TYPE_CHECKING:
    from slicing.errors import SliceError
    from slicing.pipeline import SliceResult, slice_file, slice_mesh
    from slicing.profiles import Profile, load_profile
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

_HOME = {
    "SliceError": "slicing.errors",
    "SliceResult": "slicing.pipeline",
    "slice_file": "slicing.pipeline",
    "slice_mesh": "slicing.pipeline",
    "Profile": "slicing.profiles",
    "load_profile": "slicing.profiles",
    "CloudSlicer": "slicing.service",
    "cloud_slicer": "slicing.service",
}


def __getattr__(name: str) -> Any:
    # Every name is loaded on first use. `python -m slicing` imports this package before its __main__, which
    # must run before numpy loads (see slicing/__main__.py); the cloud's entry points (`slicing.service`,
    # asyncio with it, ~10 ms) are not paid for by the command line.
    if name in _HOME:
        import importlib  # noqa: PLC0415 - see above

        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'slicing' has no attribute {name!r}")
