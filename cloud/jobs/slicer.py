"""The seam between the farm queue and a slicer: mesh uploads (STL, 3MF, OBJ) become G-code here.

The cloud accepts a mesh only when a ``Slicer`` is configured on the jobs runtime
(``JobsRuntime.slicer``); without one a mesh upload is refused with a 422 that says so, and
G-code uploads work as ever. ``discover_slicer`` is where the app finds one: the ``slicing``
package's factory ``slicing.cloud_slicer()``, returning an object that satisfies ``Slicer``, once
that package provides it.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

log = logging.getLogger(__name__)

MESH_SUFFIXES: Final = frozenset({".stl", ".3mf", ".obj"})
GCODE_SUFFIXES: Final = frozenset({".gcode", ".gco", ".g", ".gc", ".bgcode"})
NO_SLICER_MESSAGE: Final = "mesh slicing is not available yet; upload G-code"


@dataclass(frozen=True, slots=True)
class SliceOptions:
    nozzle_mm: float | None
    material: str | None


@dataclass(frozen=True, slots=True)
class SlicedGcode:
    gcode_path: Path
    est_print_s: float
    filament_mm: float


class Slicer(Protocol):
    async def slice(self, mesh_path: Path, out_dir: Path, options: SliceOptions) -> SlicedGcode:
        """Slice ``mesh_path`` into a G-code file inside ``out_dir``; raises ``ValueError`` for a bad mesh."""
        ...


def is_mesh(filename: str) -> bool:
    return Path(filename).suffix.lower() in MESH_SUFFIXES


def discover_slicer() -> Slicer | None:
    """A ``Slicer`` when the ``slicing`` package offers one (``slicing.cloud_slicer()``), else None."""
    try:
        module = importlib.import_module("slicing")
    except ImportError:
        return None
    factory = getattr(module, "cloud_slicer", None)
    if not callable(factory):
        log.info("the slicing package offers no cloud_slicer(): mesh uploads are refused")
        return None
    slicer = factory()
    if not hasattr(slicer, "slice"):
        log.warning("slicing.cloud_slicer() returned %r, which has no slice(): ignored", slicer)
        return None
    log.info("mesh uploads are sliced by %r", slicer)
    return slicer  # type: ignore[no-any-return]
