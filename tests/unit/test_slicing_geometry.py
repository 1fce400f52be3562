"""The slicer's G-code checked as geometry: layers, closed perimeters inside the section, no extrusion
outside the section plus half a line width, no long travel across a perimeter without retraction, the
extruding bounding box against the mesh's. Meshes are built here (numpy), sliced in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyclipper
import pytest

from slicing import (
    gapfill,
    gcode_reader,
    load_profile,
    mesh_io,
    perimeters,
    pipeline,
    polygons,
    repair,
    sections,
)
from slicing.mesh_io import Mesh
from slicing.pipeline import SliceResult, slice_mesh

WIDTH = 0.4
LONG_TRAVEL_MM = 2.0


def box(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> Mesh:
    x0, y0, z0 = lo
    x1, y1, z1 = hi
    v = np.array(
        [
            [x0, y0, z0],
            [x1, y0, z0],
            [x1, y1, z0],
            [x0, y1, z0],
            [x0, y0, z1],
            [x1, y0, z1],
            [x1, y1, z1],
            [x0, y1, z1],
        ],
        dtype=np.float64,
    )
    f = np.array(
        [
            [0, 2, 1],
            [0, 3, 2],
            [4, 5, 6],
            [4, 6, 7],
            [0, 1, 5],
            [0, 5, 4],
            [1, 2, 6],
            [1, 6, 5],
            [2, 3, 7],
            [2, 7, 6],
            [3, 0, 4],
            [3, 4, 7],
        ],
        dtype=np.int64,
    )
    return Mesh(v, f)


def tube(r_out: float, r_in: float, height: float, segments: int = 48) -> Mesh:
    """A hollow cylinder: outer wall outward, inner wall inward, rings top and bottom."""
    a = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    rings = [
        np.column_stack([r * np.cos(a), r * np.sin(a), np.full(segments, z)])
        for r, z in ((r_out, 0), (r_out, height), (r_in, 0), (r_in, height))
    ]
    v = np.concatenate(rings)
    ob, ot, ib, it = (np.arange(segments) + k * segments for k in range(4))
    n1 = np.roll(np.arange(segments), -1)
    faces = []
    for lo, hi, sign in ((ob, ot, 1), (ib, it, -1)):
        q = np.column_stack([lo, lo[n1], hi[n1], hi])
        tri = np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])
        faces.append(tri if sign > 0 else tri[:, ::-1])
    for outer, inner, up in ((ob, ib, False), (ot, it, True)):
        q = np.column_stack([outer, outer[n1], inner[n1], inner])
        tri = np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])
        faces.append(tri if up else tri[:, ::-1])
    return Mesh(v, np.concatenate(faces).astype(np.int64))


def two_towers() -> Mesh:
    return mesh_io.merge(
        [box((0, 0, 0), (6, 6, 8)), box((20, 0, 0), (26, 6, 5)), box((0, 15, 0), (26, 18, 3))]
    )


def fins() -> Mesh:
    """Walls 0.3 to 1.2 mm thick on a 1 mm plate: thin walls and gaps between perimeters."""
    parts = [box((0, 0, 0), (12, 14, 1))]
    x = 1.0
    for t in (0.3, 0.6, 1.0, 1.2):
        parts.append(box((x, 1, 0), (x + t, 13, 4)))
        x += t + 2.0
    return mesh_io.merge(parts)


SHAPES = {
    "cube": lambda: box((-10, -10, 0), (10, 10, 20)),
    "tube": lambda: tube(12.0, 9.0, 6.0),
    "towers": two_towers,
    "fins": fins,
}


def _slice(mesh: Mesh, **print_overrides: object) -> tuple[Mesh, SliceResult, gcode_reader.ReadMoves]:
    profile = load_profile(overrides={"print": dict(print_overrides)})
    fixed, _ = repair.repair(mesh)
    placed = repair.place(fixed, (220.0, 220.0), 250.0, 5.0)
    result = slice_mesh(placed, profile, workers=1)
    return placed, result, gcode_reader.read_gcode("".join(result.chunks))


@pytest.fixture(scope="module", params=sorted(SHAPES))
def sliced(request: pytest.FixtureRequest) -> tuple[str, Mesh, SliceResult, gcode_reader.ReadMoves]:
    name = request.param
    placed, result, moves = _slice(SHAPES[name]())
    return name, placed, result, moves


def _section(mesh: Mesh, z: float) -> polygons.Region:
    sec = sections.slice_mesh(mesh, np.array([z]))
    return polygons.union([polygons.to_int(p) for p in sec.layer_loops(0)])


def _inside(region: polygons.Region, points: np.ndarray) -> np.ndarray:
    """Points (n, 2) mm inside or on ``region`` (non-zero rule over all its paths)."""
    ints = polygons.to_int(points)
    out = np.zeros(len(points), dtype=bool)
    for i, (x, y) in enumerate(ints.tolist()):
        winding = sum(
            pyclipper.PointInPolygon((x, y), p) != 0 and (1 if polygons.area_mm2([p]) > 0 else -1)
            for p in region
        )
        on_edge = any(pyclipper.PointInPolygon((x, y), p) == -1 for p in region)
        out[i] = winding > 0 or on_edge
    return out


def _runs(moves: gcode_reader.ReadMoves, mask: np.ndarray) -> list[np.ndarray]:
    """Index arrays of maximal runs of consecutive True in ``mask``."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1) + 1
    return np.split(idx, breaks)


def test_layer_count_follows_the_height(
    sliced: tuple[str, Mesh, SliceResult, gcode_reader.ReadMoves],
) -> None:
    _, mesh, result, moves = sliced
    height = float(mesh.bounds[1, 2])
    assert result.layers == round(height / 0.2)
    assert moves.layer_markers == result.layers
    top = moves.end[moves.extruding, 2].max()
    assert top == pytest.approx(height, abs=1e-6)


def test_perimeters_are_closed_loops_inside_the_section(
    sliced: tuple[str, Mesh, SliceResult, gcode_reader.ReadMoves],
) -> None:
    _, mesh, _, moves = sliced
    walls = moves.extruding & moves.is_type("WALL-")
    checked = 0
    for run in _runs(moves, walls):
        kinds = set(moves.kind[run].tolist())
        assert len(kinds) == 1
        # One run of a wall type may hold several loops (inner walls back to back): split where a move
        # starts away from where the previous ended.
        start, end = moves.start[run, :2], moves.end[run, :2]
        loop_breaks = np.flatnonzero(np.hypot(*(start[1:] - end[:-1]).T) > 1e-6) + 1
        for loop in np.split(np.arange(len(run)), loop_breaks):
            assert np.allclose(start[loop[0]], end[loop[-1]], atol=1e-3), "perimeter loop not closed"
            checked += 1
    assert checked > 0
    for layer in (0, moves.layer.max() // 2, moves.layer.max()):
        sel = walls & (moves.layer == layer)
        z = float(moves.end[sel, 2][0]) - 0.1
        section = _section(mesh, z)
        assert _inside(section, moves.end[sel, :2]).all(), (
            f"a perimeter point outside the section at layer {layer}"
        )


def test_no_extrusion_outside_the_section_plus_half_a_line(
    sliced: tuple[str, Mesh, SliceResult, gcode_reader.ReadMoves],
) -> None:
    _, mesh, _, moves = sliced
    part = moves.extruding & ~moves.is_type("SKIRT") & (moves.layer >= 0)
    for layer in np.unique(moves.layer[part])[::3].tolist():
        sel = part & (moves.layer == layer)
        z = float(moves.end[sel, 2][0]) - 0.1
        allowed = polygons.offset(_section(mesh, z), WIDTH / 2 + 0.005)
        mids = (moves.start[sel, :2] + moves.end[sel, :2]) / 2
        pts = np.concatenate([moves.start[sel, :2], moves.end[sel, :2], mids])
        assert _inside(allowed, pts).all(), f"extrusion outside the section + w/2 at layer {layer}"


def _crosses(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    def orient(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> float:
        return float((v[0] - u[0]) * (w[1] - u[1]) - (v[1] - u[1]) * (w[0] - u[0]))

    eps = 1e-6
    d1, d2 = orient(p, q, a), orient(p, q, b)
    d3, d4 = orient(a, b, p), orient(a, b, q)
    return ((d1 > eps and d2 < -eps) or (d1 < -eps and d2 > eps)) and (
        (d3 > eps and d4 < -eps) or (d3 < -eps and d4 > eps)
    )


def test_no_long_travel_across_a_perimeter_without_retraction(
    sliced: tuple[str, Mesh, SliceResult, gcode_reader.ReadMoves],
) -> None:
    _, _, _, moves = sliced
    outer = moves.extruding & moves.is_type("WALL-OUTER")
    xy_len = np.hypot(*(moves.end[:, :2] - moves.start[:, :2]).T)
    travel = (moves.de == 0) & (xy_len > LONG_TRAVEL_MM) & (moves.layer >= 0)
    retracted = False
    checked = 0
    for i in range(len(moves.de)):
        if moves.de[i] < 0:
            retracted = True
        elif moves.de[i] > 0:
            retracted = False
        if not travel[i] or retracted:
            continue
        layer_walls = outer & (moves.layer == moves.layer[i])
        p, q = moves.start[i, :2], moves.end[i, :2]
        for a, b in zip(moves.start[layer_walls, :2], moves.end[layer_walls, :2], strict=True):
            assert not _crosses(p, q, a, b), (
                f"unretracted travel {p} -> {q} crosses the outer wall on layer {moves.layer[i]}"
            )
        checked += 1
    assert retracted is not None and checked >= 0


def test_extruding_bounding_box_matches_the_mesh(
    sliced: tuple[str, Mesh, SliceResult, gcode_reader.ReadMoves],
) -> None:
    _, mesh, _, moves = sliced
    summary = gcode_reader.summarise(moves)
    assert np.abs(summary.part_bounds - mesh.bounds)[:, :2].max() <= 0.3
    assert summary.part_bounds[1, 2] == pytest.approx(mesh.bounds[1, 2], abs=0.3)


def test_every_layer_has_a_closed_outer_wall_and_the_tube_keeps_its_hole() -> None:
    mesh, _, moves = _slice(tube(12.0, 9.0, 2.0))
    centre = mesh.bounds.mean(axis=0)[:2]
    ext = moves.extruding & ~moves.is_type("SKIRT") & (moves.layer >= 0)
    radius = np.hypot(*(moves.end[ext, :2] - centre).T)
    assert radius.min() >= 9.0 + WIDTH / 2 - 0.05  # nothing printed in the hole
    assert radius.max() <= 12.0 - WIDTH / 2 + 0.05


def test_skin_on_bottom_and_top_sparse_infill_between() -> None:
    _, _, moves = _slice(box((0, 0, 0), (20, 20, 4)), top_layers=3, bottom_layers=3, infill_density_pct=20.0)
    skin = moves.extruding & moves.is_type("SKIN")
    fill = moves.extruding & moves.is_type("FILL")
    skin_layers = set(np.unique(moves.layer[skin]).tolist())
    fill_layers = set(np.unique(moves.layer[fill]).tolist())
    assert skin_layers == {0, 1, 2, 17, 18, 19}
    assert fill_layers == set(range(3, 17))
    # 20 % density: filament of the sparse layers ≈ 20 % of the solid ones (same area inside the walls).
    per_layer_skin = moves.de[skin].sum() / 6
    per_layer_fill = moves.de[fill].sum() / 14
    assert per_layer_fill / per_layer_skin == pytest.approx(0.2, rel=0.2)


@pytest.mark.parametrize("pattern", ["grid", "rectilinear", "gyroid"])
def test_infill_patterns_fill_at_their_density(pattern: str) -> None:
    _, _, moves = _slice(box((0, 0, 0), (30, 30, 3)), infill_pattern=pattern, top_layers=0, bottom_layers=0)
    fill = moves.extruding & moves.is_type("FILL")
    area = (30 - 4 * WIDTH) ** 2  # inside two perimeters
    length = np.hypot(*(moves.end[fill, :2] - moves.start[fill, :2]).T).sum() / 15
    assert length * WIDTH / area == pytest.approx(0.2, rel=0.15)


def test_written_file_is_whole_or_absent(tmp_path: Path) -> None:
    _, result, _ = _slice(box((0, 0, 0), (5, 5, 1)))
    out = tmp_path / "deep" / "part.gcode"
    result.write(out)
    text = out.read_text()
    assert text.startswith(";FLAVOR:Marlin") and text.rstrip().endswith("M84")
    assert list(out.parent.iterdir()) == [out]


@pytest.mark.parametrize("thickness", [0.3, 0.6, 1.0, 1.2, 2.0])
def test_thin_walls_get_the_plastic_their_volume_needs(thickness: float) -> None:
    """A wall narrower than two lines prints as one line of its width (0.3 mm used to get nothing, 0.6 mm
    two overlapping loops); wider ones get gap fill between their perimeters (1.0 and 1.2 mm used to
    keep a 0.2-0.4 mm hollow)."""
    _, _, moves = _slice(box((0, 0, 0), (thickness, 20, 3)))
    layer = moves.extruding & (moves.layer == 7) & ~moves.is_type("SKIRT")
    needed = thickness * 20 * 0.2 / (np.pi * 1.75**2 / 4)
    assert moves.de[layer].sum() == pytest.approx(needed, rel=0.05)


def test_gap_fill_lines_lie_inside_the_gap_and_are_no_wider_than_it() -> None:
    outline = [
        np.array([[0, 0], [1.2, 0], [1.2, 10], [8, 10], [8, 11], [0, 11]]),  # an L of 1.2 and 1.0 mm legs
        np.array([[12, 0], [20, 0], [20, 8], [12, 8]]),  # a ring 1.1 mm thick (with the hole below)
        np.array([[13.1, 1.1], [13.1, 6.9], [18.9, 6.9], [18.9, 1.1]]),
    ]
    section = polygons.union([polygons.to_int(p.astype(np.float64)) for p in outline])
    checked = 0
    for island in perimeters.walls(section, 2, WIDTH):
        assert island.gaps, "the 1.0-1.2 mm walls leave a gap between their perimeters"
        lines = gapfill.gap_lines(island.gaps, WIDTH, 0.2, 1.85 * WIDTH)
        assert lines
        grown = polygons.offset(island.gaps, 0.05)  # chords round a corner cut it by < 0.05 mm
        for line in lines:
            assert _inside(section, line.points).all()
            assert _inside(grown, line.points).all()
            # Each segment's two edges (its centre ± half its width, across it) stay in the gap.
            seg = np.diff(line.points, axis=0)
            length = np.hypot(seg[:, 0], seg[:, 1])
            normal = np.column_stack([-seg[:, 1], seg[:, 0]]) / np.maximum(length, 1e-9)[:, None]
            mid = (line.points[1:] + line.points[:-1]) / 2
            half = ((line.widths[1:] + line.widths[:-1]) / 4)[:, None]
            long_enough = length > 0.05
            for side in (mid + normal * half, mid - normal * half):
                assert _inside(grown, side[long_enough]).all(), "a gap-fill line wider than its gap"
            assert (line.widths >= 0.2 * WIDTH).all() and (line.widths <= 1.85 * WIDTH).all()
            checked += len(line.points)
    assert checked > 20
    total = sum(
        line.length_mm
        for island in perimeters.walls(section, 2, WIDTH)
        for line in gapfill.gap_lines(island.gaps, WIDTH, 0.2, 1.85 * WIDTH)
    )
    assert total > 30  # both legs of the L and most of the ring's 28 mm


def test_small_infill_areas_print_solid_below_the_threshold() -> None:
    pin = box((0, 0, 0), (4, 4, 4))  # 2.4 x 2.4 mm inside two perimeters
    _, _, solid = _slice(pin)  # default 70 mm², PrusaSlicer's
    _, _, sparse = _slice(pin, solid_infill_below_area_mm2=0)
    middle = (solid.layer >= 5) & (solid.layer <= 14)
    assert (solid.extruding & middle & solid.is_type("FILL")).sum() == 0
    assert (solid.extruding & middle & solid.is_type("SKIN")).sum() > 0
    middle = (sparse.layer >= 5) & (sparse.layer <= 14)
    assert (sparse.extruding & middle & sparse.is_type("SKIN")).sum() == 0


def test_no_skin_ring_under_a_45_degree_slope() -> None:
    """The layers above cover a 45° slope with their perimeters: only sparse infill under it."""
    # A square frustum: 30 mm base, 20 mm top, 5 mm tall (45° sides).
    v = np.array(
        [[0, 0, 0], [30, 0, 0], [30, 30, 0], [0, 30, 0], [5, 5, 5], [25, 5, 5], [25, 25, 5], [5, 25, 5]],
        dtype=np.float64,
    )
    frustum = Mesh(v, box((0, 0, 0), (1, 1, 1)).faces)
    _, _, moves = _slice(frustum)
    skin = moves.extruding & moves.is_type("SKIN")
    assert set(np.unique(moves.layer[skin]).tolist()) == {0, 1, 2, 22, 23, 24}


@pytest.mark.parametrize("pattern", ["grid", "rectilinear", "gyroid"])
@pytest.mark.parametrize("mesh", [box((0, 0, 0), (20, 20, 12)), fins()], ids=["box", "fins"])
def test_memoised_layers_are_the_layers_computed_again(
    mesh: Mesh, pattern: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = load_profile(overrides={"print": {"infill_pattern": pattern, "min_layer_time_s": 30.0}})
    placed = repair.place(repair.repair(mesh, "part")[0], (220.0, 220.0), 250.0)
    memoised = slice_mesh(placed, profile, workers=1)
    monkeypatch.setattr(pipeline, "MEMOISE", False)
    again = slice_mesh(placed, profile, workers=1)
    assert memoised.chunks[2:] == again.chunks[2:]  # after the header (thumbnails) and start script
    assert memoised.chunks[0] == again.chunks[0]
