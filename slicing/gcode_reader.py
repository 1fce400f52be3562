"""Reading G-code back into moves, for checks and comparisons (ours, CuraEngine's, PrusaSlicer's).

Understands G0/G1 with X/Y/Z/E/F, G90/G91, M82/M83, G92, and the layer and feature markers of the three
slicers (``;LAYER:n``, ``;LAYER_CHANGE``, ``;TYPE:...``). Everything else is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from slicing.mesh_io import FloatArray

_WORD = re.compile(r"([XYZEF])\s*([-+]?(?:\d+\.?\d*|\.\d+))")


@dataclass(frozen=True, slots=True)
class ReadMoves:
    """Moves of a G-code file: ``start``/``end`` (n, 3) mm, ``de`` (n,) mm (relative), ``feed`` (n,) mm/s,
    ``layer`` (n,) int64 (-1 before the first marker), ``kind`` (n,) int64 index into ``types``."""

    start: FloatArray
    end: FloatArray
    de: FloatArray
    feed: FloatArray
    layer: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]
    types: list[str] = field(default_factory=list)
    layer_markers: int = 0
    unknown_lines: list[str] = field(default_factory=list)

    @property
    def extruding(self) -> npt.NDArray[np.bool_]:
        """Moves that lay down plastic: XY motion with positive E."""
        xy = np.hypot(*(self.end[:, :2] - self.start[:, :2]).T)
        moving: npt.NDArray[np.bool_] = (self.de > 0) & (xy > 1e-9)
        return moving

    def is_type(self, *prefixes: str) -> npt.NDArray[np.bool_]:
        wanted = [
            i for i, t in enumerate(self.types) if t.lower().startswith(tuple(p.lower() for p in prefixes))
        ]
        return np.isin(self.kind, wanted)


def read_gcode(text: str) -> ReadMoves:
    pos = [0.0, 0.0, 0.0]
    e_abs = 0.0
    feed = 25.0
    abs_xyz = True
    abs_e = True
    layer = -1
    markers = 0
    types = ["none"]
    type_index = 0
    starts: list[tuple[float, float, float]] = []
    ends: list[tuple[float, float, float]] = []
    des: list[float] = []
    feeds: list[float] = []
    layers: list[int] = []
    kinds: list[int] = []
    unknown: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line[0] == ";":
            body = line[1:].strip()
            if body.startswith("LAYER:") or body.startswith("LAYER_CHANGE"):
                layer += 1
                markers += 1
            elif body.startswith("TYPE:"):
                name = body[5:].strip()
                if name not in types:
                    types.append(name)
                type_index = types.index(name)
            continue
        code, _, _ = line.partition(";")
        code = code.strip()
        head = code.split(None, 1)[0].upper() if code else ""
        if head in ("G0", "G1", "G00", "G01"):
            words = dict(_WORD.findall(code.upper()))
            new = list(pos)
            for axis, i in (("X", 0), ("Y", 1), ("Z", 2)):
                if axis in words:
                    v = float(words[axis])
                    new[i] = v if abs_xyz else pos[i] + v
            de = 0.0
            if "E" in words:
                v = float(words["E"])
                de = v - e_abs if abs_e else v
                e_abs = v if abs_e else e_abs + v
            if "F" in words:
                feed = float(words["F"]) / 60.0
            starts.append((pos[0], pos[1], pos[2]))
            ends.append((new[0], new[1], new[2]))
            des.append(de)
            feeds.append(feed)
            layers.append(layer)
            kinds.append(type_index)
            pos = new
        elif head == "G90":
            abs_xyz = abs_e = True
        elif head == "G91":
            abs_xyz = abs_e = False
        elif head == "M82":
            abs_e = True
        elif head == "M83":
            abs_e = False
        elif head == "G92":
            words = dict(_WORD.findall(code.upper()))
            if "E" in words:
                e_abs = float(words["E"])
            for axis, i in (("X", 0), ("Y", 1), ("Z", 2)):
                if axis in words:
                    pos[i] = float(words[axis])
        elif head and not re.fullmatch(r"[GMT]\d+", head):
            unknown.append(code)
    return ReadMoves(
        np.array(starts, dtype=np.float64).reshape(-1, 3),
        np.array(ends, dtype=np.float64).reshape(-1, 3),
        np.array(des, dtype=np.float64),
        np.array(feeds, dtype=np.float64),
        np.array(layers, dtype=np.int64),
        np.array(kinds, dtype=np.int64),
        types,
        markers,
        unknown,
    )


@dataclass(frozen=True, slots=True)
class Summary:
    layers: int
    filament_mm: float
    """E laid down by extruding moves inside the layers (no priming, retraction or purge lines)."""
    part_bounds: FloatArray
    """(2, 3) extruding bounding box (centre lines) without skirt/brim."""


def summarise(moves: ReadMoves) -> Summary:
    in_layers = moves.layer >= 0
    ext = moves.extruding & in_layers
    part = ext & ~moves.is_type("skirt", "brim")
    pts = np.concatenate([moves.start[part], moves.end[part]]) if part.any() else np.zeros((1, 3))
    return Summary(
        layers=moves.layer_markers,
        filament_mm=float(moves.de[ext].sum()),
        part_bounds=np.array([pts.min(axis=0), pts.max(axis=0)]),
    )
