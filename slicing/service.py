"""Slicing as a service for the cloud's farm queue: `cloud_slicer()` returns an object with an async
`slice(mesh_path, out_dir, options)` (the cloud's `Slicer` protocol, matched by shape: this library
imports nothing of the cloud). The slice runs off the event loop; its layers are spread over a process
pool by the pipeline itself. `options.nozzle_mm` and `options.material` (the job's requirements) pick
the nozzle and the temperatures.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from slicing.errors import SliceError
from slicing.pipeline import slice_file
from slicing.profiles import load_profile

MATERIAL_TEMPERATURES_C: dict[str, tuple[float, float]] = {
    "PLA": (210.0, 60.0),
    "PETG": (240.0, 80.0),
    "ABS": (250.0, 100.0),
    "ASA": (255.0, 100.0),
    "TPU": (225.0, 50.0),
    "PA": (260.0, 90.0),
}
"""Nozzle and bed targets per material (°C), the usual first-try values slicers ship."""


class Options(Protocol):
    @property
    def nozzle_mm(self) -> float | None: ...

    @property
    def material(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Sliced:
    gcode_path: Path
    est_print_s: float
    filament_mm: float


class CloudSlicer:
    def __init__(self, profile_path: Path | None = None, workers: int | None = None) -> None:
        self.profile_path = profile_path
        self.workers = workers

    def __repr__(self) -> str:
        return f"CloudSlicer(profile={self.profile_path}, workers={self.workers})"

    async def slice(self, mesh_path: Path, out_dir: Path, options: Options) -> Sliced:
        """Slice `mesh_path` into `out_dir/<stem>.gcode`; a bad mesh raises ValueError with the reason."""
        overrides: dict[str, dict[str, float]] = {"printer": {}, "print": {}}
        if options.nozzle_mm is not None:
            overrides["printer"]["nozzle_mm"] = options.nozzle_mm
        if options.material is not None and options.material.upper() in MATERIAL_TEMPERATURES_C:
            nozzle_c, bed_c = MATERIAL_TEMPERATURES_C[options.material.upper()]
            overrides["print"]["nozzle_c"] = nozzle_c
            overrides["print"]["bed_c"] = bed_c
        out = out_dir / f"{mesh_path.stem}.gcode"
        try:
            profile = load_profile(self.profile_path, overrides=overrides)
            result = await asyncio.to_thread(slice_file, mesh_path, out, profile, workers=self.workers)
        except SliceError as exc:
            raise ValueError(str(exc)) from None
        return Sliced(out, result.time_s, result.filament_mm)


def cloud_slicer() -> CloudSlicer:
    return CloudSlicer()
