"""Server-side PNG previews without a GPU: a shaded isometric view of a design, one sliced layer.

The model view is a numpy scanline rasterizer with a z-buffer: back faces culled, every front face split
into pixel rows and each row into pixel spans (all triangles at once, no Python loop over faces), depth
interpolated over the face's plane, the nearest face kept per pixel (``np.maximum.at``). Faces are
flat-shaded (Lambert plus an ambient term) under a light fixed to the camera. The image is drawn at
twice the asked size and reduced with a box filter, which antialiases the edges. Pillow only encodes.

The layer view walks the G-code of one ``;LAYER:n`` block (the marker our slicer and Cura write),
draws extruding moves coloured by their ``;TYPE:`` and skips travel.
"""

from __future__ import annotations

import io
import math
import re

import numpy as np
from PIL import Image, ImageDraw

from cloud.designs.geometry import DesignMesh

SUPERSAMPLE = 2
MARGIN = 0.06
BACKGROUND = (238, 238, 234)
BASE_COLOUR = np.array([64.0, 156.0, 140.0])
AMBIENT = 0.34
LIGHT = np.array([-0.35, 0.55, 0.76]) / np.linalg.norm([-0.35, 0.55, 0.76])  # camera space: upper left, front
ELEVATION_DEG = math.degrees(math.atan(1.0 / math.sqrt(2.0)))  # true isometric, 35.26°
AZIMUTH_DEG = -45.0


def view_matrix(azimuth_deg: float = AZIMUTH_DEG, elevation_deg: float = ELEVATION_DEG) -> np.ndarray:
    """(3, 3) float64 rotation world → camera (x right, y up on screen, z towards the viewer)."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    spin = np.array([[math.cos(az), -math.sin(az), 0.0], [math.sin(az), math.cos(az), 0.0], [0.0, 0.0, 1.0]])
    tilt = math.pi / 2.0 - el  # from looking straight down to looking down at ``el`` above the horizon
    look = np.array(
        [[1.0, 0.0, 0.0], [0.0, math.cos(tilt), math.sin(tilt)], [0.0, -math.sin(tilt), math.cos(tilt)]]
    )
    return np.asarray(look @ spin, dtype=np.float64)


def _spans(screen: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel rows of every triangle. ``screen`` (m, 3, 2) pixel coordinates (x right, y down).

    Returns ``owner`` (r,) triangle index, ``row`` (r,) pixel row, ``x0``/``x1`` packed as (r, 2) first
    and last pixel column covered (pixel centres inside the triangle, edges included)."""
    ys = screen[:, :, 1]
    first = np.clip(np.ceil(ys.min(axis=1) - 0.5), 0, size).astype(np.int64)
    last = np.clip(np.floor(ys.max(axis=1) - 0.5), -1, size - 1).astype(np.int64)
    counts = np.maximum(last - first + 1, 0)
    owner = np.repeat(np.arange(len(screen)), counts)
    starts = np.cumsum(counts) - counts
    row = first[owner] + (np.arange(len(owner)) - np.repeat(starts, counts))
    yc = row + 0.5
    tri = screen[owner]
    left = np.full(len(owner), np.inf)
    right = np.full(len(owner), -np.inf)
    for i in range(3):
        a, b = tri[:, i], tri[:, (i + 1) % 3]
        dy = b[:, 1] - a[:, 1]
        crosses = (np.minimum(a[:, 1], b[:, 1]) <= yc) & (yc <= np.maximum(a[:, 1], b[:, 1])) & (dy != 0)
        safe = np.where(dy != 0, dy, 1.0)
        x = a[:, 0] + (yc - a[:, 1]) * (b[:, 0] - a[:, 0]) / safe
        left = np.where(crosses, np.minimum(left, x), left)
        right = np.where(crosses, np.maximum(right, x), right)
    ok = np.isfinite(left)
    x0 = np.clip(np.ceil(left[ok] - 0.5), 0, size).astype(np.int64)
    x1 = np.clip(np.floor(right[ok] - 0.5), -1, size - 1).astype(np.int64)
    return owner[ok], row[ok], np.column_stack([x0, x1])


def rasterize(mesh: DesignMesh, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Face index per pixel, (size, size) int64 (-1 where empty), and (m,) float64 shade of every face."""
    rot = view_matrix()
    cam = mesh.vertices @ rot.T
    normals = mesh.face_normals @ rot.T
    shade = AMBIENT + (1.0 - AMBIENT) * np.clip(normals @ LIGHT, 0.0, 1.0)
    front = np.flatnonzero(normals[:, 2] > 1e-9)
    lo, hi = cam[:, :2].min(axis=0), cam[:, :2].max(axis=0)
    scale = size * (1.0 - 2.0 * MARGIN) / max(float((hi - lo).max()), 1e-9)
    centre = (lo + hi) / 2.0
    pts = np.empty_like(cam)
    pts[:, 0] = (cam[:, 0] - centre[0]) * scale + size / 2.0
    pts[:, 1] = size / 2.0 - (cam[:, 1] - centre[1]) * scale
    pts[:, 2] = cam[:, 2]
    tri = pts[mesh.faces[front]]  # (f, 3, 3)
    owner, row, cols = _spans(tri[:, :, :2], size)
    lengths = np.maximum(cols[:, 1] - cols[:, 0] + 1, 0)
    pix_owner = np.repeat(owner, lengths)
    starts = np.cumsum(lengths) - lengths
    col = np.repeat(cols[:, 0], lengths) + (np.arange(int(lengths.sum())) - np.repeat(starts, lengths))
    pix_row = np.repeat(row, lengths)
    # depth over the triangle's plane: z = z0 - (nx (x - x0) + ny (y - y0)) / nz
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    plane = np.cross(e1, e2)
    plane[:, 2] = np.where(np.abs(plane[:, 2]) > 1e-12, plane[:, 2], 1e-12)
    t = tri[pix_owner, 0]
    pl = plane[pix_owner]
    depth = t[:, 2] - (pl[:, 0] * (col + 0.5 - t[:, 0]) + pl[:, 1] * (pix_row + 0.5 - t[:, 1])) / pl[:, 2]
    flat = pix_row * size + col
    zbuf = np.full(size * size, -np.inf)
    np.maximum.at(zbuf, flat, depth)
    win = depth >= zbuf[flat]
    face = np.full(size * size, -1, dtype=np.int64)
    face[flat[win]] = front[pix_owner[win]]
    return face.reshape(size, size), shade


def render_mesh_rgb(mesh: DesignMesh, size: int = 512) -> np.ndarray:
    """(size, size, 3) uint8 isometric shaded view of ``mesh`` on a neutral background."""
    big = size * SUPERSAMPLE
    face, shade = rasterize(mesh, big)
    rows = np.linspace(0.0, 1.0, big)[:, None, None]
    background = np.array(BACKGROUND, dtype=np.float64) * (1.0 - 0.06 * rows)  # faint vertical gradient
    image = np.broadcast_to(background, (big, big, 3)).copy()
    hit = face >= 0
    image[hit] = np.clip(BASE_COLOUR[None, :] * shade[face[hit]][:, None] * 1.25, 0, 255)
    out = Image.fromarray(image.astype(np.uint8), "RGB").reduce(SUPERSAMPLE)
    return np.asarray(out)


def render_mesh_png(mesh: DesignMesh, size: int = 512) -> bytes:
    """A ``size`` x ``size`` PNG preview of ``mesh``: isometric, shaded, antialiased."""
    return _png(Image.fromarray(render_mesh_rgb(mesh, size), "RGB"))


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


# ---- one sliced layer -------------------------------------------------------------------------------

_MOVES = frozenset({"G0", "G1", "G00", "G01"})
_WORD = re.compile(r"([XYEF])\s*([-+]?(?:\d+\.?\d*|\.\d+))")
_BOUND = re.compile(r"^;(MIN|MAX)([XY]):\s*([-+]?[\d.]+)", re.MULTILINE)
LINE_WIDTH_MM = 0.45
TAIL_CHARS = 200_000
FEATURE_COLOURS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("WALL-OUTER", (222, 88, 44)),
    ("EXTERNAL PERIMETER", (222, 88, 44)),
    ("WALL-INNER", (238, 178, 48)),
    ("PERIMETER", (238, 178, 48)),
    ("SKIN", (62, 128, 214)),
    ("SOLID INFILL", (62, 128, 214)),
    ("TOP SOLID", (62, 128, 214)),
    ("BRIDGE", (62, 128, 214)),
    ("FILL", (108, 176, 84)),
    ("INTERNAL INFILL", (108, 176, 84)),
    ("SKIRT", (150, 150, 150)),
    ("BRIM", (150, 150, 150)),
    ("SUPPORT", (186, 112, 210)),
)
OTHER_COLOUR = (120, 120, 120)


def feature_colour(name: str) -> tuple[int, int, int]:
    """Colour of a ``;TYPE:`` name (ours, Cura's or PrusaSlicer's)."""
    upper = name.upper()
    for prefix, colour in FEATURE_COLOURS:
        if upper.startswith(prefix):
            return colour
    return OTHER_COLOUR


def _layer_block(gcode: str, layer: int) -> tuple[str, str]:
    """The text before the ``;LAYER:layer`` marker and the layer's own text."""
    start = re.search(rf"^;LAYER:{layer}[ \t]*\r?$", gcode, re.MULTILINE)
    if start is None:
        raise ValueError(f"the G-code has no layer {layer} (no ';LAYER:{layer}' marker)")
    after = re.search(r"^;LAYER:", gcode[start.end() :], re.MULTILINE)
    end = start.end() + after.start() if after else len(gcode)
    return gcode[: start.start()], gcode[start.end() : end]


def _state_before(prefix: str) -> tuple[float, float, float, bool, str]:
    """x, y, absolute e, whether E is relative, and the feature type in force before a layer."""
    relative_e = prefix.rfind("\nM83") > prefix.rfind("\nM82")
    type_at = prefix.rfind(";TYPE:")
    feature = prefix[type_at + 6 : prefix.find("\n", type_at)].strip() if type_at >= 0 else ""
    x = y = e = None
    tail = prefix[-TAIL_CHARS:]  # the last moves before a layer are near its marker; the whole as a fallback
    lines = tail.splitlines()
    if len(tail) < len(prefix) and not _has_xy(lines):
        lines = prefix.splitlines()
    for line in reversed(lines):
        code = line.split(";", 1)[0].strip().upper()
        if (code.split(None, 1)[0] if code else "") not in {*_MOVES, "G92"}:
            continue
        words = dict(_WORD.findall(code))
        x = float(words["X"]) if x is None and "X" in words else x
        y = float(words["Y"]) if y is None and "Y" in words else y
        e = float(words["E"]) if e is None and "E" in words else e
        if x is not None and y is not None and (e is not None or relative_e):
            break
    return x or 0.0, y or 0.0, e or 0.0, relative_e, feature


def _has_xy(lines: list[str]) -> bool:
    text = "\n".join(lines)
    return re.search(r"^G[01][^;\n]*X[^;\n]*Y", text, re.MULTILINE | re.IGNORECASE) is not None


def layer_paths(gcode: str, layer: int) -> list[tuple[str, np.ndarray]]:
    """Extruding runs of layer ``layer``: (feature type, (k, 2) float64 XY points mm), travel left out."""
    prefix, block = _layer_block(gcode, layer)
    x, y, e, relative_e, feature = _state_before(prefix)
    runs: list[tuple[str, list[tuple[float, float]]]] = []
    drawing = False
    for raw in block.splitlines():
        line = raw.strip()
        if line.startswith(";TYPE:"):
            feature, drawing = line[6:].strip(), False
            continue
        code = line.split(";", 1)[0].strip().upper()
        head = code.split(None, 1)[0] if code else ""
        if head == "M83":
            relative_e = True
        elif head == "M82":
            relative_e = False
        elif head == "G92":
            words = dict(_WORD.findall(code))
            e = float(words.get("E", e))
        elif head in _MOVES:
            words = dict(_WORD.findall(code))
            nx, ny = float(words.get("X", x)), float(words.get("Y", y))
            extruding = False
            if "E" in words:
                value = float(words["E"])
                extruding = value > 0 if relative_e else value > e
                e = e + value if relative_e else value
            if extruding and (nx != x or ny != y):
                if not drawing:
                    runs.append((feature, [(x, y)]))
                    drawing = True
                runs[-1][1].append((nx, ny))
            else:
                drawing = False
            x, y = nx, ny
    return [(name, np.array(points, dtype=np.float64)) for name, points in runs]


def _print_bounds(gcode: str, paths: list[tuple[str, np.ndarray]]) -> tuple[float, float, float, float]:
    """The print's XY extent from the header (Cura's ;MINX.. keys), else the layer's own."""
    found = {f"{m}{a}": float(v) for m, a, v in _BOUND.findall(gcode[:20000])}
    if len(found) == 4:
        return found["MINX"], found["MINY"], found["MAXX"], found["MAXY"]
    pts = np.concatenate([p for _, p in paths]) if paths else np.zeros((1, 2))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def render_layer_png(gcode: str, layer: int, size: int = 512) -> bytes:
    """A ``size`` x ``size`` PNG of layer ``layer`` seen from above, coloured by feature type."""
    paths = layer_paths(gcode, layer)
    x0, y0, x1, y1 = _print_bounds(gcode, paths)
    big = size * SUPERSAMPLE
    span = max(x1 - x0, y1 - y0, 1e-6)
    scale = big * (1.0 - 2.0 * MARGIN) / span
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    image = Image.new("RGB", (big, big), BACKGROUND)
    draw = ImageDraw.Draw(image)
    width = max(1, round(LINE_WIDTH_MM * scale))
    for name, points in paths:
        px = np.column_stack(
            [(points[:, 0] - cx) * scale + big / 2.0, big / 2.0 - (points[:, 1] - cy) * scale]
        )
        draw.line([tuple(p) for p in px.tolist()], fill=feature_colour(name), width=width, joint="curve")
    return _png(image.reduce(SUPERSAMPLE))
