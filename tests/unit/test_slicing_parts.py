"""Pure parts of the slicer, table-driven: mesh readers, repair, sections, estimate, travel checks,
profiles. Bytes in, arrays out; no files."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import pytest
import typer
import typer.main
from PIL import Image

from slicing import (
    cli,
    errors,
    estimate,
    mesh_io,
    planner,
    polygons,
    profiles,
    repair,
    runner,
    sections,
    thumbnail,
)
from tests.unit.test_slicing_geometry import box


def stl_bytes(mesh: mesh_io.Mesh, count: int | None = None) -> bytes:
    tri = mesh.triangles.astype(np.float32)
    body = b"".join(struct.pack("<3f", 0, 0, 0) + t.tobytes() + b"\0\0" for t in tri)
    return b"x" * 80 + struct.pack("<I", len(tri) if count is None else count) + body


def ascii_stl(mesh: mesh_io.Mesh) -> bytes:
    lines = ["solid t"]
    for t in mesh.triangles:
        lines += [
            "facet normal 0 0 0",
            "outer loop",
            *[f"vertex {x} {y} {z}" for x, y, z in t],
            "endloop",
            "endfacet",
        ]
    return ("\n".join([*lines, "endsolid t"]) + "\n").encode()


CUBE = box((0, 0, 0), (10, 10, 10))


def test_binary_and_ascii_stl_read_the_same_triangles() -> None:
    a = mesh_io.read_stl(stl_bytes(CUBE))
    b = mesh_io.read_stl(ascii_stl(CUBE))
    assert np.allclose(a.triangles, b.triangles)
    assert np.allclose(a.triangles, CUBE.triangles)


def test_obj_and_3mf_read_the_cube() -> None:
    obj = "\n".join(
        [
            *(f"v {x} {y} {z}" for x, y, z in CUBE.vertices),
            *(f"f {a + 1} {b + 1} {c + 1}" for a, b, c in CUBE.faces),
        ]
    )
    assert mesh_io.read_obj(obj.encode()).volume_mm3() == pytest.approx(1000.0)
    verts = "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in CUBE.vertices)
    tris = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in CUBE.faces)
    model = (
        '<model xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02" unit="millimeter">'
        f'<resources><object id="1" type="model"><mesh><vertices>{verts}</vertices><triangles>{tris}</triangles></mesh></object></resources>'
        '<build><item objectid="1" transform="1 0 0 0 1 0 0 0 1 5 0 0"/></build></model>'
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("3D/3dmodel.model", model)
    mesh = mesh_io.read_3mf(buf.getvalue())
    assert mesh.volume_mm3() == pytest.approx(1000.0)
    assert mesh.bounds[0, 0] == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (stl_bytes(CUBE)[:-20], errors.TruncatedFile),
        (stl_bytes(CUBE)[:50], errors.TruncatedFile),
        (ascii_stl(CUBE)[:-40], errors.TruncatedFile),
    ],
    ids=["binary-short", "header-short", "ascii-cut"],
)
def test_truncated_stl_is_a_one_line_error(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        mesh_io.read_stl(data, "part.stl")
    assert "\n" not in str(info.value) and "truncated" in str(info.value)


@pytest.mark.parametrize(
    ("mesh", "error"),
    [
        (mesh_io.Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)), errors.EmptyMesh),
        (mesh_io.Mesh(np.where(CUBE.vertices == 10, np.nan, CUBE.vertices), CUBE.faces), errors.BadVertices),
        (box((0, 0, 0), (10, 10, 0)), errors.ZeroVolume),
        (mesh_io.Mesh(CUBE.vertices, CUBE.faces[:2]), errors.ZeroVolume),
    ],
    ids=["empty", "nan", "flat", "open-sheet"],
)
def test_unprintable_meshes_are_refused(mesh: mesh_io.Mesh, error: type[Exception]) -> None:
    with pytest.raises(error):
        repair.repair(mesh)


def test_repair_merges_fixes_winding_fills_holes_and_orients_outward() -> None:
    soup = mesh_io.read_stl(stl_bytes(CUBE))
    faces = soup.faces.copy()
    faces[3] = faces[3, ::-1]  # one face wound the wrong way
    broken = mesh_io.Mesh(soup.vertices, np.delete(faces, 5, axis=0))  # and one missing: a hole
    fixed, report = repair.repair(broken)
    assert report.flipped_faces >= 1 and report.filled_holes == 1 and report.open_edges_left == 0
    assert fixed.volume_mm3() == pytest.approx(1000.0)
    inside_out, report = repair.repair(mesh_io.Mesh(CUBE.vertices, CUBE.faces[:, ::-1].copy()))
    assert report.inverted and inside_out.volume_mm3() == pytest.approx(1000.0)


def test_placement_centres_on_the_bed_and_refuses_what_does_not_fit() -> None:
    placed = repair.place(box((-50, 3, 7), (-40, 13, 17)), (220, 220), 250)
    assert placed.bounds.tolist() == [[105, 105, 0], [115, 115, 10]]
    with pytest.raises(errors.DoesNotFit, match="bed is 220 x 220"):
        repair.place(box((0, 0, 0), (230, 10, 10)), (220, 220), 250)
    with pytest.raises(errors.DoesNotFit):
        repair.place(box((0, 0, 0), (215, 10, 10)), (220, 220), 250, margin_mm=4)


def test_sections_of_a_cube_are_one_ccw_square_per_layer() -> None:
    print_z, plane_z = sections.plane_heights(10.0, 0.2, 0.2)
    assert len(print_z) == 50 and plane_z[0] == pytest.approx(0.1) and print_z[-1] == pytest.approx(10.0)
    sec = sections.slice_mesh(CUBE, plane_z)
    for layer in (0, 25, 49):
        (loop,) = sec.layer_loops(layer)
        assert polygons.area_mm2([polygons.to_int(loop)]) == pytest.approx(100.0)


def test_a_vertex_exactly_on_a_plane_still_gives_a_closed_loop() -> None:
    sec = sections.slice_mesh(box((0, 0, 0), (10, 10, 10)), np.array([0.0 + 1e-12, 5.0, 10.0 - 1e-9]))
    for layer in range(3):
        loops = sec.layer_loops(layer)
        assert len(loops) == 1 and polygons.area_mm2([polygons.to_int(loops[0])]) == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("length", "feed", "accel", "expected_s"),
    [
        (100.0, 50.0, 1000.0, 100 / 50 + 50 / 1000),  # trapezoid: cruise time + one accel ramp's loss
        (1.0, 100.0, 1000.0, 2 * np.sqrt(1.0 / 1000)),  # triangle: never reaches the feed rate
    ],
)
def test_estimate_single_move_trapezoid(length: float, feed: float, accel: float, expected_s: float) -> None:
    t = estimate.move_times(np.array([[length, 0.0, 0.0]]), np.zeros(1), np.array([feed]), accel, 8.0)
    assert t[0] == pytest.approx(expected_s, rel=1e-6)


def test_estimate_keeps_speed_through_straight_junctions_and_slows_at_corners() -> None:
    straight = estimate.move_times(
        np.array([[10.0, 0, 0], [10.0, 0, 0]]), np.zeros(2), np.full(2, 50.0), 1000, 8
    )
    corner = estimate.move_times(
        np.array([[10.0, 0, 0], [0, 10.0, 0]]), np.zeros(2), np.full(2, 50.0), 1000, 8
    )
    assert straight.sum() < corner.sum()
    assert straight.sum() == pytest.approx(20 / 50 + 50 / 1000, rel=1e-6)


@pytest.mark.parametrize(
    ("travel", "crosses"),
    [
        (((5, 5), (15, 5)), True),  # leaves the square through its right side
        (((2, 2), (8, 8)), False),  # stays inside
        (((5, 5), (10, 5)), False),  # ends on the wall: touching is not crossing
        (((12, 0), (12, 12)), False),  # entirely outside, parallel
    ],
)
def test_travel_crossing_a_wall(
    travel: tuple[tuple[float, float], tuple[float, float]], crosses: bool
) -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=np.float64)
    hit = planner.crossings(np.array([travel], dtype=np.float64), planner.loop_edges([square]))
    assert bool(hit[0]) is crosses


def test_profiles_from_toml_json_and_prusa_ini() -> None:
    tree = profiles.read_prusa_ini(
        "layer_height = 0.3\nfill_density = 15%\nfill_pattern = gyroid\nbed_shape = 0x0,250x0,250x210,0x210\nnozzle_diameter = 0.6,0.6\n"
        "solid_infill_below_area = 12\ngap_fill_speed = 25\ngap_fill_enabled = 0\nsolid_infill_speed = 80%\n"
    )
    p = profiles.build_profile(tree)
    assert p.print.layer_height_mm == 0.3 and p.print.infill_density_pct == 15.0
    assert p.print.infill_pattern is profiles.InfillPattern.GYROID
    assert (p.printer.bed_x_mm, p.printer.bed_y_mm, p.printer.nozzle_mm) == (250, 210, 0.6)
    assert p.line_width_mm == 0.6
    assert p.print.solid_infill_below_area_mm2 == 12 and p.print.gap_fill_speed_mm_s == 25
    assert p.print.gap_fill is False
    assert p.print.solid_infill_speed_mm_s == profiles.PrintProfile().solid_infill_speed_mm_s  # % kept ours


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"print": {"perimetres": 2}}, "print.perimetres"),
        ({"print": {"nozzle_c": 300}}, "above the printer"),
        ({"printer": {"start_gcode": "M104 S{hot}"}}, "unknown placeholder"),
        ({"print": {"layer_height_mm": 0.5}}, "at most 80%"),
    ],
)
def test_bad_profiles_are_one_line_errors(tree: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(errors.ProfileError, match=message) as info:
        profiles.build_profile(tree)
    assert "\n" not in str(info.value)


def test_assign_splits_a_region_by_island_even_for_an_island_in_a_hole() -> None:
    def square(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        return polygons.to_int(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64))

    ring = [square(0, 0, 30, 30), square(5, 5, 25, 25)[::-1]]  # outer CCW, hole CW
    pin = [square(12, 12, 18, 18)]
    section = polygons.union(ring + pin)
    found = polygons.islands(section)
    inside = polygons.offset(section, -1.0)
    parts = polygons.assign(inside, found)
    for island, part in zip(found, parts, strict=True):
        assert part, "every island gets its part"
        assert polygons.area_mm2(polygons.difference(part, island)) == pytest.approx(0.0, abs=1e-6)
    assert sum(polygons.area_mm2(p) for p in parts) == pytest.approx(polygons.area_mm2(inside), rel=1e-6)


def test_thumbnail_png_decodes_to_the_rendered_pixels() -> None:
    for width, height in ((16, 16), (220, 124)):
        pixels = thumbnail.render(CUBE, width, height)
        decoded = Image.open(io.BytesIO(thumbnail.png(CUBE, width, height)))
        assert decoded.mode == "RGBA" and decoded.size == (width, height)
        assert np.array_equal(np.asarray(decoded), pixels)


QUICK_ARGV = [
    ["part.stl", "-o", "out.gcode"],
    ["part.stl", "-o", "out.gcode", "--json", "--workers", "2", "--profile", "p.toml"],
    [
        "--output=out.gcode",
        "part.stl",
        "--layer-height",
        "0.25",
        "--first-layer-height",
        "0.3",
        "--perimeters",
        "3",
    ],
    [
        "part.stl",
        "-o",
        "o.gcode",
        "--infill-density",
        "30%",
        "--infill-pattern",
        "gyroid",
        "--top-layers",
        "4",
    ],
    [
        "part.stl",
        "-o",
        "o.gcode",
        "--bottom-layers",
        "2",
        "--nozzle",
        "0.6",
        "--nozzle-temp",
        "205",
        "--bed-temp",
        "55",
    ],
    ["part.stl", "-o", "o.gcode", "--bed", "200x180", "--filament-diameter", "2.85", "--skirt-loops", "2"],
    ["part.stl", "-o", "o.gcode", "--brim-width", "5"],
]


@pytest.mark.parametrize("argv", QUICK_ARGV)
def test_quick_parser_reads_a_command_line_as_typer_does(argv: list[str]) -> None:
    app = typer.Typer()
    app.command()(cli.command)
    typer_values = typer.main.get_command(app).make_context("slicing", list(argv)).params
    assert runner.parse(list(argv)) == typer_values


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["part.stl"],
        ["part.stl", "-o", "o.gcode", "--perimetrs", "3"],
        ["part.stl", "-o", "o.gcode", "--perim", "3"],
        ["part.stl", "-o", "o.gcode", "--perimeters", "2.5"],
        ["part.stl", "-o", "o.gcode", "--infill-pattern", "honeycomb"],
        ["part.stl", "-o", "o.gcode", "--workers", "0"],
        ["part.stl", "-o", "."],
    ],
)
def test_quick_parser_leaves_help_and_usage_errors_to_typer(argv: list[str]) -> None:
    assert runner.parse(argv) is None


def test_quick_parser_knows_every_option_of_the_typer_command() -> None:
    app = typer.Typer(add_completion=False)  # --install/--show-completion: typer's own, left to typer
    app.command()(cli.command)
    typer_opts = {o for p in typer.main.get_command(app).params for o in p.opts}
    quick_opts = {o for a in runner._parser()._actions for o in a.option_strings} | {"model"}
    assert quick_opts == typer_opts
