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
