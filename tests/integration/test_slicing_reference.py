"""Our slicer against CuraEngine and PrusaSlicer on the same STL with the issue's settings: the same layer
count, total extrusion within ±5 % of their mean, the extruding bounding box within 0.3 mm of the mesh's,
the time estimate within 10 % of PrusaSlicer's.

Needs the Debian packages ``cura-engine`` and ``prusa-slicer``; without them every test here is skipped
with that reason (the project's CI script does not install them).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import slicer_refs
from slicing import mesh_io, repair

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (slicer_refs.have_cura() and slicer_refs.have_prusa()),
        reason="CuraEngine and prusa-slicer not installed (apt-get install cura-engine prusa-slicer)",
    ),
]

MODELS = slicer_refs.models_dir()
KNOWN_GAPS = {
    # All three keep every sparse area at 20 % (bench/slicer_ours.toml, solid_infill_below_area = 0 for
    # PrusaSlicer); on the 49 pins PrusaSlicer lays 10 % less than CuraEngine and we do.
    "islands": "49 pins of 1.5 mm² infill each: within 1.3 % of CuraEngine, PrusaSlicer 10 % below both",
}
MESHES = ["cube20", "overhangs", "sphere_hp", "pot", "thin_walls", "islands"]


def _mesh(name: str) -> mesh_io.Mesh:
    path = MODELS / f"{name}.stl"
    if path.exists():
        return mesh_io.load(path)
    generated = slicer_refs.generated_meshes()
    if name not in generated:
        pytest.skip(f"reference model {path} not found")
    return generated[name]


@pytest.fixture(scope="module", params=MESHES)
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    name = request.param
    work = tmp_path_factory.mktemp(name)
    fixed, _ = repair.repair(_mesh(name), name)
    placed = repair.place(fixed, (slicer_refs.BED_MM, slicer_refs.BED_MM), 250.0)
    stl = work / f"{name}.stl"
    mesh_io.write_stl(placed, stl)
    out: dict[str, object] = {"name": name, "mesh": placed}
    for slicer, runner in (
        ("ours", slicer_refs.run_ours),
        ("cura", slicer_refs.run_cura),
        ("prusa", slicer_refs.run_prusa),
    ):
        run = runner(stl, work / f"{name}.{slicer}.gcode")
        assert run.ok, f"{slicer} failed on {name}: {run.stderr[-500:]}"
        out[slicer] = slicer_refs.figures(run)
    return out


@pytest.mark.timeout(300)
def test_layer_count_equals_cura_and_prusa(runs: dict[str, object]) -> None:
    ours, cura, prusa = (runs[s] for s in ("ours", "cura", "prusa"))
    assert isinstance(ours, slicer_refs.Figures) and isinstance(cura, slicer_refs.Figures)
    assert isinstance(prusa, slicer_refs.Figures)
    assert ours.layers == cura.layers == prusa.layers


@pytest.mark.timeout(300)
def test_total_extrusion_within_5_percent_of_the_references_mean(runs: dict[str, object]) -> None:
    ours, cura, prusa = (runs[s] for s in ("ours", "cura", "prusa"))
    assert isinstance(ours, slicer_refs.Figures) and isinstance(cura, slicer_refs.Figures)
    assert isinstance(prusa, slicer_refs.Figures)
    mean = (cura.filament_mm + prusa.filament_mm) / 2
    off = (ours.filament_mm - mean) / mean
    name = str(runs["name"])
    if name in KNOWN_GAPS and abs(off) > 0.05:
        pytest.xfail(f"{name}: {100 * off:+.1f} % vs mean: {KNOWN_GAPS[name]}")
    assert abs(off) <= 0.05, f"ours {ours.filament_mm:.0f} mm vs mean {mean:.0f} mm ({100 * off:+.1f} %)"


@pytest.mark.timeout(300)
def test_extruding_bounding_box_within_0_3_mm_of_the_mesh(runs: dict[str, object]) -> None:
    ours, mesh = runs["ours"], runs["mesh"]
    assert isinstance(ours, slicer_refs.Figures) and isinstance(mesh, mesh_io.Mesh)
    assert float(np.abs(ours.part_bounds - mesh.bounds).max()) <= 0.3


@pytest.mark.timeout(300)
def test_time_estimate_within_10_percent_of_prusaslicer(runs: dict[str, object]) -> None:
    ours, prusa = runs["ours"], runs["prusa"]
    assert isinstance(ours, slicer_refs.Figures) and isinstance(prusa, slicer_refs.Figures)
    assert ours.time_estimate_s and prusa.time_estimate_s
    off = (ours.time_estimate_s - prusa.time_estimate_s) / prusa.time_estimate_s
    assert abs(off) <= 0.10, f"ours {ours.time_estimate_s:.0f} s vs PrusaSlicer {prusa.time_estimate_s:.0f} s"
