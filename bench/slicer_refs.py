"""Running the three slicers on the same mesh with the slicing issue's settings, and reading their output.

Used by `bench.slicer` and by the comparison tests. The reference slicers are the Debian packages
``cura-engine`` (CuraEngine 4.13) and ``prusa-slicer`` (PrusaSlicer 2.5), run headless:

    CuraEngine slice -j bench/slicer_cura.def.json -s key=value ... -l MODEL.stl -o OUT.gcode
    prusa-slicer --export-gcode --load bench/slicer_prusa.ini --center 110,110 MODEL.stl -o OUT.gcode

CuraEngine needs a machine definition; the package ships none, so bench/slicer_cura.def.json holds every
setting of Cura 4.13's fdmprinter/fdmextruder definitions flattened to its default value, and the values
Cura's front end would compute from the issue's settings (line distance from density, …) go on the
command line. If the full Cura package is installed, its own fdmprinter.def.json is used instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import manifold3d as m3
import numpy as np
import psutil

from slicing import gcode_reader, mesh_io
from slicing.mesh_io import Mesh

HERE = Path(__file__).resolve().parent
PRUSA_INI = HERE / "slicer_prusa.ini"
CURA_DEF = HERE / "slicer_cura.def.json"
CURA_SYSTEM_DEF = Path("/usr/share/cura/resources/definitions/fdmprinter.def.json")
BED_MM = 220.0
LINE_WIDTH_MM = 0.4
INFILL_PCT = 20.0

CURA_SETTINGS: dict[str, str] = {
    "machine_width": "220",
    "machine_depth": "220",
    "machine_height": "250",
    "machine_center_is_zero": "false",
    "machine_nozzle_size": "0.4",
    "machine_gcode_flavor": "RepRap (Marlin/Sprinter)",
    "machine_heated_bed": "true",
    "material_diameter": "1.75",
    "layer_height": "0.2",
    "layer_height_0": "0.2",
    "line_width": "0.4",
    "wall_line_count": "2",
    "wall_thickness": "0.8",
    "top_layers": "3",
    "bottom_layers": "3",
    "initial_bottom_layers": "3",
    "top_bottom_thickness": "0.6",
    "top_thickness": "0.6",
    "bottom_thickness": "0.6",
    "top_skin_preshrink": "0.8",
    "bottom_skin_preshrink": "0.8",
    "skin_preshrink": "0.8",
    "top_skin_expand_distance": "0.8",
    "bottom_skin_expand_distance": "0.8",
    "expand_skins_expand_distance": "0.8",
    "infill_sparse_density": "20",
    "infill_pattern": "grid",
    "infill_line_distance": f"{LINE_WIDTH_MM * 100 / INFILL_PCT * 2:g}",
    "adhesion_type": "skirt",
    "skirt_line_count": "1",
    "skirt_gap": "3",
    "skirt_brim_minimal_length": "0",
    "material_print_temperature": "210",
    "material_print_temperature_layer_0": "210",
    "material_initial_print_temperature": "210",
    "material_final_print_temperature": "210",
    "material_bed_temperature": "60",
    "material_bed_temperature_layer_0": "60",
    "speed_print": "60",
    "speed_wall_0": "30",
    "speed_wall_x": "45",
    "speed_infill": "80",
    "speed_topbottom": "60",
    "speed_travel": "150",
    "speed_layer_0": "20",
    "speed_print_layer_0": "20",
    "speed_travel_layer_0": "150",
    "skirt_brim_speed": "30",
    "retraction_amount": "0.8",
    "retraction_speed": "35",
    "retraction_retract_speed": "35",
    "retraction_prime_speed": "35",
    "retraction_min_travel": "1.5",
    "cool_min_layer_time": "5",
    "cool_min_speed": "10",
    "cool_fan_speed": "100",
    "cool_fan_full_layer": "2",
}


@dataclass(frozen=True, slots=True)
class Run:
    """One slicer run: wall time, peak RSS of the process tree's largest process, its output."""

    slicer: str
    wall_s: float
    rss_mb: float
    gcode: Path
    returncode: int
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.gcode.exists()


@dataclass(frozen=True, slots=True)
class Figures:
    layers: int
    filament_mm: float
    part_bounds: np.ndarray
    time_estimate_s: float | None


def have_cura() -> bool:
    return shutil.which("CuraEngine") is not None


def have_prusa() -> bool:
    return shutil.which("prusa-slicer") is not None


def _timed(slicer: str, argv: list[str], out: Path, timeout_s: float = 900.0) -> Run:
    """Run ``argv``: wall time, and peak RSS as the largest sum over the process tree (10 ms samples)."""
    out.unlink(missing_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("DISPLAY", None)
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        peak = 0
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            if time.perf_counter() - t0 > timeout_s:
                proc.kill()
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return Run(slicer, wall, peak / 2**20, out, proc.returncode, stderr)


OURS_PROFILE = Path(__file__).with_name("slicer_ours.toml")


def run_ours(stl: Path, out: Path) -> Run:
    argv = [sys.executable, "-m", "slicing", str(stl), "-o", str(out), "--json"]
    argv += ["--profile", str(OURS_PROFILE)]
    return _timed("ours", argv, out)


def run_cura(stl: Path, out: Path) -> Run:
    """CuraEngine adds half the bed to the mesh's coordinates, so it gets the same mesh moved back by that."""
    shifted = stl.with_suffix(".cura.stl")
    mesh = mesh_io.read_stl(stl.read_bytes())
    mesh_io.write_stl(Mesh(mesh.vertices - [BED_MM / 2, BED_MM / 2, 0.0], mesh.faces), shifted)
    stl = shifted
    definition = CURA_SYSTEM_DEF if CURA_SYSTEM_DEF.exists() else CURA_DEF
    argv = ["CuraEngine", "slice", "-j", str(definition)]
    for key, value in CURA_SETTINGS.items():
        argv += ["-s", f"{key}={value}"]
    argv += ["-l", str(stl), "-o", str(out)]
    return _timed("cura", argv, out)


def run_prusa(stl: Path, out: Path) -> Run:
    center = f"{BED_MM / 2:g},{BED_MM / 2:g}"
    argv = [
        "prusa-slicer",
        "--export-gcode",
        "--load",
        str(PRUSA_INI),
        "--center",
        center,
        str(stl),
        "-o",
        str(out),
    ]
    return _timed("prusa", argv, out)


_PRUSA_TIME = re.compile(r"^; estimated printing time \(normal mode\) = (.+)$", re.M)
_OUR_TIME = re.compile(r"^;TIME:(\d+)", re.M)
_CURA_TIME = re.compile(r"Print time \(s\): (\d+)")


def _duration(text: str) -> float:
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([dhms])", text)))


def figures(run: Run) -> Figures:
    text = run.gcode.read_text(errors="replace")
    summary = gcode_reader.summarise(gcode_reader.read_gcode(text))
    estimate: float | None = None
    if run.slicer == "prusa" and (m := _PRUSA_TIME.search(text)):
        estimate = _duration(m.group(1))
    elif (run.slicer == "ours" and (m := _OUR_TIME.search(text))) or (
        run.slicer == "cura" and (m := _CURA_TIME.search(run.stderr))
    ):
        estimate = float(m.group(1))
    return Figures(summary.layers, summary.filament_mm, summary.part_bounds, estimate)


def _manifold_mesh(solid: object) -> Mesh:
    mesh = solid.to_mesh()  # type: ignore[attr-defined]
    return Mesh(
        np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3], np.asarray(mesh.tri_verts, dtype=np.int64)
    )


def generated_meshes() -> dict[str, Mesh]:
    """The benchmark's own shapes (built with manifold3d, nothing committed): thin walls, many islands,
    overhangs."""
    cube, cyl = m3.Manifold.cube, m3.Manifold.cylinder
    # Fins 0.8 to 3 mm thick, 30 mm long, 15 mm tall, on a 1 mm plate.
    thin = cube([44.0, 34.0, 1.0])
    x = 2.0
    for t in (0.8, 1.0, 1.2, 1.6, 2.0, 3.0):
        thin = thin + cube([t, 30.0, 15.0]).translate([x, 2.0, 0.0])
        x += t + 5.0
    # 7 x 7 pins, 3 mm diameter, 12 mm tall: 49 islands a layer.
    pins = [cyl(12.0, 1.5, 1.5, 24).translate([i * 7.0, j * 7.0, 0.0]) for i in range(7) for j in range(7)]
    islands = m3.Manifold.batch_boolean(pins, m3.OpType.Add)
    # A mushroom: stem, wide cap (flat overhang), a 45° cone on top, and a bridge between two posts.
    mushroom = (
        cyl(10.0, 5.0, 5.0, 64)
        + cyl(4.0, 15.0, 15.0, 96).translate([0.0, 0.0, 10.0])
        + cyl(10.0, 15.0, 5.0, 96).translate([0.0, 0.0, 14.0])
        + cube([4.0, 4.0, 20.0]).translate([-34.0, -15.0, 0.0])
        + cube([4.0, 4.0, 20.0]).translate([-34.0, 11.0, 0.0])
        + cube([4.0, 30.0, 3.0]).translate([-34.0, -15.0, 20.0])
    )
    return {
        "thin_walls": _manifold_mesh(thin),
        "islands": _manifold_mesh(islands),
        "overhangs": _manifold_mesh(mushroom),
    }


def models_dir() -> Path:
    """The shared reference meshes: `../shared/bench/models` beside the checkout, or `$THREEDPOT_MODELS`, or
    the workplace's `/work/shared/bench/models` (a CI clone lives elsewhere)."""
    candidates = [
        Path(__file__).resolve().parents[2] / "shared" / "bench" / "models",
        Path("/work/shared/bench/models"),
    ]
    override = os.environ.get("THREEDPOT_MODELS")
    if override:
        candidates.insert(0, Path(override))
    return next((c for c in candidates if c.is_dir()), candidates[0])
