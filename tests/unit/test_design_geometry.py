"""Design studio geometry: every family watertight, sized as its dimension rule says, holes through,
impossible combinations refused in words, printability figures and refusals, STL/3MF export."""

from __future__ import annotations

import io
import itertools
import math
import struct
import zipfile

import numpy as np
import pytest

from cloud.designs.geometry import DesignMesh, GeometryError, build, check_printability
from cloud.designs.geometry.outline import extent
from cloud.designs.geometry.phone_stand import LIP_MM, SLOT_MM, rest_foot
from cloud.designs.geometry.vase import profile_width
from cloud.designs.spec import (
    FAMILIES,
    BoxSpec,
    Outline,
    PenHolderSpec,
    PhoneStandSpec,
    PlanterSpec,
    VaseSpec,
    WallBracketSpec,
)
from slicing.mesh_io import read_3mf, read_stl

TOL = 0.1
ROOT3 = math.sqrt(3.0)


def size_of(mesh: DesignMesh, part: str) -> tuple[float, float, float]:
    lo, hi = mesh.parts[part]
    return (hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])


def assert_size(mesh: DesignMesh, part: str, expected: tuple[float, float, float]) -> None:
    got = size_of(mesh, part)
    assert np.allclose(got, expected, atol=TOL), f"{part}: {got} != {expected}"


def assert_placed(mesh: DesignMesh) -> None:
    lo, hi = mesh.bounds
    assert lo[2] == pytest.approx(0.0, abs=1e-9)
    assert (lo[0] + hi[0]) / 2 == pytest.approx(0.0, abs=1e-6)
    assert (lo[1] + hi[1]) / 2 == pytest.approx(0.0, abs=1e-6)
    for plo, _ in mesh.parts.values():
        assert plo[2] == pytest.approx(0.0, abs=1e-9)
    boxes = sorted(mesh.parts.values())
    for (_, a_hi), (b_lo, _) in itertools.pairwise(boxes):
        assert b_lo[0] > a_hi[0]  # side by side, never overlapping


def vertical_crossings(mesh: DesignMesh, x: float, y: float) -> int:
    """Faces pierced by the vertical line through (x, y): 0 means no material above that point."""
    return _crossings(mesh.triangles[:, :, [0, 1]], x, y)


def _crossings(tri2: np.ndarray, u: float, v: float) -> int:
    a, b, c = tri2[:, 0], tri2[:, 1], tri2[:, 2]

    def side(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        out: np.ndarray = (q[:, 0] - p[:, 0]) * (v - p[:, 1]) - (q[:, 1] - p[:, 1]) * (u - p[:, 0])
        return out

    s1, s2, s3 = side(a, b), side(b, c), side(c, a)
    inside = ((s1 > 0) & (s2 > 0) & (s3 > 0)) | ((s1 < 0) & (s2 < 0) & (s3 < 0))
    return int(inside.sum())


def frustum_volume(h: float, d0: float, d1: float) -> float:
    return math.pi * h / 12.0 * (d0 * d0 + d0 * d1 + d1 * d1)


# ---- every family, many variations: watertight, placed ------------------------------------------

VARIATIONS = [
    *[FAMILIES[name]() for name in FAMILIES],
    *[
        PlanterSpec(outline=o, drainage_holes=n, saucer=s)
        for o in Outline
        for n in (0, 1, 5)
        for s in (False, True)
    ],
    *[VaseSpec(outline=o, twist_deg=t) for o in Outline for t in (0.0, 90.0, -200.0)],
    BoxSpec(lid=False),
    BoxSpec(corner_radius=0.0),
    BoxSpec(corner_radius=1.0, wall=2.5),
    *[PenHolderSpec(outline=o, compartments=n) for o in Outline for n in (1, 2, 3, 4)],
    *[WallBracketSpec(screw_holes=n, gusset=g) for n in (0, 1, 2, 4) for g in (False, True)],
    *[PhoneStandSpec(cable_slot=s, angle_deg=a) for s in (False, True) for a in (55.0, 65.0, 80.0)],
]


@pytest.mark.parametrize(
    "spec", VARIATIONS, ids=lambda s: repr(s.model_dump(exclude_defaults=True) or s.family)
)
def test_every_variation_is_watertight_and_placed(spec: object) -> None:
    mesh = build(spec)  # type: ignore[arg-type]
    assert mesh.vertices.dtype == np.float64 and mesh.vertices.shape[1] == 3
    assert mesh.faces.dtype == np.int64 and mesh.faces.shape[1] == 3
    assert mesh.is_watertight
    assert mesh.volume_mm3 > 0
    assert_placed(mesh)


# ---- dimension rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("outline", list(Outline))
@pytest.mark.parametrize("saucer", [False, True])
def test_planter_parts_match_the_rule(outline: Outline, saucer: bool) -> None:
    spec = PlanterSpec(
        outline=outline, top_width=120, bottom_width=90, height=110, saucer=saucer, drainage_holes=3
    )
    mesh = build(spec)
    assert_size(mesh, "pot", (*extent(outline, 120), 110))
    if saucer:
        assert_size(
            mesh, "saucer", (*extent(outline, 90 + 2 * (spec.saucer_gap + spec.wall)), spec.saucer_height)
        )
    else:
        assert set(mesh.parts) == {"pot"}


def test_round_planter_volume_matches_the_frustums() -> None:
    spec = PlanterSpec()
    mesh = build(spec)
    h, t, b, w, f = spec.height, spec.top_width, spec.bottom_width, spec.wall, spec.floor
    inner_bottom = b + (t - b) * f / h - 2 * w
    expected = frustum_volume(h, b, t) - frustum_volume(h - f, inner_bottom, t - 2 * w)
    assert mesh.volume_mm3 == pytest.approx(expected, rel=0.01)


def test_drainage_holes_go_through_the_floor() -> None:
    spec = PlanterSpec(drainage_holes=1, hole_diameter=8.0)
    with_hole, without = build(spec), build(spec.model_copy(update={"drainage_holes": 0}))
    assert without.volume_mm3 - with_hole.volume_mm3 == pytest.approx(math.pi * 16 * spec.floor, rel=0.02)
    assert vertical_crossings(with_hole, 0.05, 0.03) == 0  # nothing above or below the hole's centre
    assert vertical_crossings(with_hole, 20.0, 0.03) == 2  # the floor's underside and top elsewhere
    assert vertical_crossings(without, 0.05, 0.03) == 2


def test_ring_of_drainage_holes_each_goes_through() -> None:
    spec = PlanterSpec(drainage_holes=6, hole_diameter=6.0)
    mesh = build(spec)
    solid = build(spec.model_copy(update={"drainage_holes": 0}))
    assert solid.volume_mm3 - mesh.volume_mm3 == pytest.approx(6 * math.pi * 9 * spec.floor, rel=0.02)
    # the ring radius: centres where the crossings vanish, found by scanning the +x axis
    xs = np.linspace(0.5, 34.0, 300)
    empty = [x for x in xs if vertical_crossings(mesh, float(x), 0.01) == 0]
    assert empty and max(empty) - min(empty) < 6.5


@pytest.mark.parametrize("outline", list(Outline))
@pytest.mark.parametrize("twist", [0.0, 45.0])
def test_vase_matches_the_rule(outline: Outline, twist: float) -> None:
    spec = VaseSpec(outline=outline, twist_deg=twist)
    mesh = build(spec)
    widest = max(spec.bottom_width, spec.belly_width, spec.top_width)
    assert size_of(mesh, "vase")[2] == pytest.approx(spec.height, abs=TOL)
    if twist == 0.0 or outline is Outline.ROUND:
        assert_size(mesh, "vase", (*extent(outline, widest), spec.height))


def test_vase_is_one_solid_with_the_profile_volume() -> None:
    spec = VaseSpec()
    mesh = build(spec)
    z = np.linspace(0.0, spec.height, 4001)
    w = profile_width(spec, z)
    expected = float(np.trapezoid(math.pi / 4 * w * w, z))
    assert mesh.volume_mm3 == pytest.approx(expected, rel=0.01)
    # a solid body: a vertical line through the middle meets only the bottom and the top
    assert vertical_crossings(mesh, 0.013, 0.021) == 2


def test_vase_profile_is_smooth_through_the_belly() -> None:
    spec = VaseSpec(bottom_width=60, belly_width=110, top_width=50)
    z = np.linspace(0.0, spec.height, 3001)
    slope = np.diff(profile_width(spec, z)) / np.diff(z)
    assert np.abs(np.diff(slope)).max() < 0.01  # no kink anywhere
    assert profile_width(spec, np.array([0.0, 0.4 * spec.height, spec.height])) == pytest.approx(
        [60, 110, 50]
    )


def test_vase_twist_turns_the_rim() -> None:
    straight, turned = (
        build(VaseSpec(outline=Outline.SQUARE)),
        build(VaseSpec(outline=Outline.SQUARE, twist_deg=45)),
    )

    def rim(m: DesignMesh) -> np.ndarray:
        top: np.ndarray = m.vertices[m.vertices[:, 2] > 149.99][:, :2]
        return top

    assert np.abs(rim(straight)).max() == pytest.approx(30.0, abs=1e-6)  # corners on the diagonals
    assert np.abs(rim(turned)).max() == pytest.approx(30.0 * math.sqrt(2), abs=1e-6)  # corners on the axes


@pytest.mark.parametrize("lid", [False, True])
@pytest.mark.parametrize("radius", [0.0, 3.0, 10.0])
def test_box_and_lid_match_the_rule(lid: bool, radius: float) -> None:
    spec = BoxSpec(
        width=90,
        depth=50,
        height=35,
        wall=2.0,
        corner_radius=radius,
        lid=lid,
        lid_height=12,
        fit_clearance=0.3,
    )
    mesh = build(spec)
    assert_size(mesh, "box", (90, 50, 35))
    if lid:
        grow = 2 * (2.0 + 0.3)
        assert_size(mesh, "lid", (90 + grow, 50 + grow, 12))
    else:
        assert set(mesh.parts) == {"box"}


def test_box_volume_matches_the_rounded_shells() -> None:
    spec = BoxSpec(lid=False)
    w, d, h, t, r = spec.width, spec.depth, spec.height, spec.wall, spec.corner_radius
    outer = (w * d - (4 - math.pi) * r * r) * h
    ri = r - t
    inner = ((w - 2 * t) * (d - 2 * t) - (4 - math.pi) * ri * ri) * (h - t)
    assert build(spec).volume_mm3 == pytest.approx(outer - inner, rel=0.01)


def test_lid_is_printed_upside_down_with_its_top_on_the_bed() -> None:
    mesh = build(BoxSpec())
    lo, hi = mesh.parts["lid"]
    cx, cy = (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2
    # through the middle of the lid: only the top plate (bottom face on the bed, top face at z = wall)
    tri = mesh.triangles
    hit = tri[:, :, 0].min(axis=1) > lo[0] - 1
    sub = DesignMesh(mesh.vertices, mesh.faces[hit])
    assert vertical_crossings(sub, cx + 0.01, cy + 0.02) == 2


@pytest.mark.parametrize("outline", list(Outline))
@pytest.mark.parametrize("compartments", [1, 2, 3, 4])
def test_pen_holder_matches_the_rule(outline: Outline, compartments: int) -> None:
    spec = PenHolderSpec(outline=outline, width=80, height=90, compartments=compartments)
    mesh = build(spec)
    assert_size(mesh, "holder", (*extent(outline, 80), 90))


def test_pen_holder_compartments_add_dividers() -> None:
    one = build(PenHolderSpec(compartments=1))
    volumes = [build(PenHolderSpec(compartments=n)).volume_mm3 for n in (1, 2, 3, 4)]
    assert volumes == sorted(volumes)
    spec = PenHolderSpec()
    r = spec.width / 2
    expected = math.pi * (r * r * spec.height - (r - spec.wall) ** 2 * (spec.height - spec.floor))
    assert one.volume_mm3 == pytest.approx(expected, rel=0.01)
    # two compartments: one divider across, wall thick, full depth of the cavity
    divider = (spec.width - 2 * spec.wall) * spec.wall * (spec.height - spec.floor)
    assert volumes[1] - volumes[0] == pytest.approx(divider, rel=0.02)


@pytest.mark.parametrize("gusset", [False, True])
@pytest.mark.parametrize("holes", [0, 2, 3])
def test_wall_bracket_matches_the_rule(gusset: bool, holes: int) -> None:
    spec = WallBracketSpec(width=30, arm_length=120, height=90, thickness=6, gusset=gusset, screw_holes=holes)
    mesh = build(spec)
    assert_size(mesh, "bracket", (120, 90, 30))
    t = 6.0
    area = 120 * t + (90 - t) * t
    if gusset:
        leg = 0.4 * (90 - t)
        area += leg * leg / 2
    hole = math.pi * (spec.screw_diameter / 2) ** 2 * t
    assert mesh.volume_mm3 == pytest.approx(area * 30 - holes * hole, rel=0.01)


@pytest.mark.parametrize("slot", [False, True])
@pytest.mark.parametrize("angle", [50.0, 65.0, 85.0])
def test_phone_stand_matches_the_rule(slot: bool, angle: float) -> None:
    spec = PhoneStandSpec(angle_deg=angle, cable_slot=slot, depth=120)
    mesh = build(spec)
    assert_size(mesh, "stand", (spec.depth, spec.height, spec.width))


def test_phone_stand_slot_cuts_base_and_lip() -> None:
    spec = PhoneStandSpec()
    full, slotted = build(spec.model_copy(update={"cable_slot": False})), build(spec)
    t = spec.thickness
    expected = SLOT_MM * (rest_foot(spec) * t + t * LIP_MM)
    assert full.volume_mm3 - slotted.volume_mm3 == pytest.approx(expected, rel=0.01)


# ---- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (PlanterSpec(top_width=80, bottom_width=100), "wider at the foot"),
        (PlanterSpec(drainage_holes=24, hole_diameter=20), "drainage holes"),
        (
            PlanterSpec(bottom_width=20, top_width=20, drainage_holes=1, hole_diameter=20),
            "does not fit in the floor",
        ),
        (PlanterSpec(bottom_width=10, top_width=10, wall=4), "the wall (4 mm) leaves no room"),
        (PlanterSpec(height=10, floor=8), "floor"),
        (PlanterSpec(saucer=True, saucer_height=5, floor=5), "saucer"),
        (PenHolderSpec(width=30, compartments=3), "too narrow for a pen"),
        (PenHolderSpec(width=12, wall=4), "the wall (4 mm) leaves no room"),
        (BoxSpec(width=20, depth=20, corner_radius=15), "corner radius"),
        (BoxSpec(width=10, depth=10, wall=4, corner_radius=0), "the wall (4 mm) leaves no room"),
        (BoxSpec(lid_height=3, wall=3), "lid"),
        (WallBracketSpec(width=8, screw_diameter=6), "does not fit across"),
        (WallBracketSpec(height=30, screw_holes=4, screw_diameter=8), "screw holes"),
        (WallBracketSpec(height=10, thickness=10), "thick"),
        (PhoneStandSpec(depth=30, height=150, angle_deg=45), "past the 30 mm base"),
        (PhoneStandSpec(width=20, cable_slot=True), "cable slot"),
    ],
)
def test_impossible_designs_are_refused_in_words(spec: object, words: str) -> None:
    with pytest.raises(GeometryError, match=None) as caught:
        build(spec)  # type: ignore[arg-type]
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_straight_planter_is_allowed() -> None:
    assert build(PlanterSpec(top_width=80, bottom_width=80)).is_watertight


# ---- the mesh type --------------------------------------------------------------------------------


def test_watertight_check_sees_a_missing_or_flipped_face() -> None:
    mesh = build(PenHolderSpec())
    assert not DesignMesh(mesh.vertices, mesh.faces[1:]).is_watertight
    flipped = mesh.faces.copy()
    flipped[0] = flipped[0, ::-1]
    assert not DesignMesh(mesh.vertices, flipped).is_watertight


def test_stl_export_is_binary_and_reads_back() -> None:
    mesh = build(BoxSpec())
    data = mesh.stl_bytes()
    assert len(data) == 84 + 50 * len(mesh.faces)
    assert struct.unpack_from("<I", data, 80)[0] == len(mesh.faces)
    back = read_stl(data)
    assert back.volume_mm3() == pytest.approx(mesh.volume_mm3, rel=1e-4)


def test_3mf_export_is_a_valid_package() -> None:
    mesh = build(PlanterSpec(saucer=True))
    data = mesh.threemf_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {"[Content_Types].xml", "_rels/.rels", "3D/3dmodel.model"} <= set(z.namelist())
        assert 'unit="millimeter"' in z.read("3D/3dmodel.model").decode()
    back = read_3mf(data)
    assert len(back.faces) == len(mesh.faces)
    assert back.volume_mm3() == pytest.approx(mesh.volume_mm3, rel=1e-5)


# ---- printability ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FAMILIES))
def test_defaults_print_on_a_common_printer(name: str) -> None:
    spec = FAMILIES[name]()
    result = check_printability(spec, build(spec), volume_mm=(220, 220, 250))  # type: ignore[arg-type]
    assert result.ok, result.issues
    assert result.volume_cm3 > 0 and result.mass_g > 0 and result.filament_m > 0 and result.cost > 0


def test_material_figures_follow_the_volume() -> None:
    spec = PenHolderSpec()
    mesh = build(spec)
    result = check_printability(spec, mesh, density_g_cm3=1.0, price_per_kg=20.0, filament_diameter_mm=1.75)
    cm3 = mesh.volume_mm3 / 1000
    assert result.volume_cm3 == pytest.approx(cm3, abs=1e-3)
    assert result.mass_g == pytest.approx(cm3, abs=0.01)
    assert result.cost == pytest.approx(cm3 / 1000 * 20, abs=0.01)
    assert result.filament_m == pytest.approx(mesh.volume_mm3 / (math.pi * 0.875**2) / 1000, abs=1e-3)


def test_a_vase_costs_one_wall_not_a_solid() -> None:
    spec = VaseSpec()
    mesh = build(spec)
    result = check_printability(spec, mesh)
    assert result.volume_cm3 < mesh.volume_mm3 / 1000 / 10
    assert result.volume_cm3 > 10  # ~ side area 40,000 mm² x 0.45 mm


def test_thin_wall_is_an_error_naming_the_parameter() -> None:
    spec = PlanterSpec(wall=0.8)
    result = check_printability(spec, build(spec), line_width_mm=0.45)
    assert not result.ok
    assert [i.code for i in result.issues] == ["wall_too_thin"]
    assert "the wall (0.8 mm)" in result.issues[0].message
    bracket = WallBracketSpec(thickness=1.0)
    result = check_printability(bracket, build(bracket), line_width_mm=0.6)
    assert not result.ok and "thickness" in result.issues[0].message


def test_too_big_names_the_axis() -> None:
    spec = PlanterSpec(height=200)
    result = check_printability(spec, build(spec), volume_mm=(180, 180, 180))
    assert not result.ok
    (issue,) = result.issues
    assert issue.code == "too_big" and issue.severity == "error" and "along Z" in issue.message
    box = BoxSpec(width=120)
    result = check_printability(box, build(box), volume_mm=(220, 220, 250))
    assert [i.message for i in result.issues if "along X" in i.message]
    assert "one at a time" in result.issues[0].message


def test_overhangs_are_measured_off_the_bed() -> None:
    spec = PlanterSpec()
    assert check_printability(spec, build(spec)).overhang_area_mm2 == 0.0  # flares outwards, floor on the bed
    box = BoxSpec()
    assert check_printability(box, build(box)).overhang_area_mm2 == 0.0  # lid upside down
    flare = VaseSpec(bottom_width=20, belly_width=150, top_width=140, height=40)
    result = check_printability(flare, build(flare))
    assert result.overhang_area_mm2 > 1000
    assert any(i.code == "overhang" and i.severity == "warning" for i in result.issues)
    assert result.ok  # a warning, not an error
