"""Slicer benchmark: 3D Pot's slicer, CuraEngine and PrusaSlicer on the same meshes in the same run.

    make bench-slicer        (or: .venv/bin/python -m bench.slicer [--only pot] [--profile])

Meshes: the reference models in ../shared/bench/models/ and three generated here (thin walls, many
islands, overhangs). Every mesh is placed once (centred on a 220 x 220 bed, min Z = 0) and written as
binary STL, so all three slicers get the same triangles at the same place. Settings: 0.2 mm layers,
0.4 mm nozzle and lines, 2 perimeters, 20 % grid infill, 3 top and 3 bottom layers, one skirt loop,
210/60 °C, 1.75 mm filament.

Figures: wall time of the whole process (ours is ``python -m slicing``, interpreter start included), ms
per layer, peak RSS (largest process of the tree), layer counts, filament in extruding moves vs the mean
of the two references, extruding bounding box (centre lines, skirt excluded) vs the mesh's, and our time
estimate vs PrusaSlicer's. A rich table on stdout, JSON in .bench/slicer.json.

Bytecode: before timing, the `slicing` package is compiled to .pyc with `compileall`, as installing it
(pip, a wheel, a Debian package) does; the two references are compiled programs too. An editable checkout
run with PYTHONDONTWRITEBYTECODE=1 (as here) would otherwise recompile ~3,500 lines at every start
(20-40 ms of a ~0.2 s cube20 run). The run says so on stdout and in the JSON ("bytecode": "compiled").
"""

from __future__ import annotations

import argparse
import compileall
import cProfile
import json
import pstats
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

import slicing
from bench import slicer_refs
from slicing import load_profile, mesh_io, repair
from slicing.pipeline import slice_file

MODELS = slicer_refs.models_dir()
OUT = Path(".bench") / "slicer.json"


def _meshes(only: set[str] | None) -> dict[str, mesh_io.Mesh]:
    meshes: dict[str, mesh_io.Mesh] = {}
    for path in sorted(MODELS.glob("*.stl")) if MODELS.is_dir() else []:
        meshes[path.stem] = mesh_io.load(path)
    meshes.update(slicer_refs.generated_meshes())
    return {k: v for k, v in meshes.items() if only is None or k in only}


def _pct(ours: float, ref: float | None) -> str:
    return "-" if not ref else f"{100 * (ours - ref) / ref:+.1f}%"


def bench_mesh(name: str, mesh: mesh_io.Mesh, work: Path) -> dict[str, Any]:
    fixed, _ = repair.repair(mesh, name)
    placed = repair.place(fixed, (slicer_refs.BED_MM, slicer_refs.BED_MM), 250.0)
    stl = work / f"{name}.stl"
    mesh_io.write_stl(placed, stl)
    row: dict[str, Any] = {
        "mesh": name,
        "triangles": len(placed.faces),
        "mesh_bounds": placed.bounds.round(3).tolist(),
    }
    runners: dict[str, Callable[[Path, Path], slicer_refs.Run]] = {"ours": slicer_refs.run_ours}
    if slicer_refs.have_cura():
        runners["cura"] = slicer_refs.run_cura
    if slicer_refs.have_prusa():
        runners["prusa"] = slicer_refs.run_prusa
    for slicer, runner in runners.items():
        run = runner(stl, work / f"{name}.{slicer}.gcode")
        entry: dict[str, Any] = {"ok": run.ok, "wall_s": round(run.wall_s, 3), "rss_mb": round(run.rss_mb, 1)}
        if run.ok:
            fig = slicer_refs.figures(run)
            entry.update(
                layers=fig.layers,
                ms_per_layer=round(1000 * run.wall_s / max(fig.layers, 1), 2),
                filament_mm=round(fig.filament_mm, 1),
                part_bounds=fig.part_bounds.round(3).tolist(),
                bbox_error_mm=round(float(np.abs(fig.part_bounds - placed.bounds).max()), 3),
                time_estimate_s=fig.time_estimate_s,
            )
        else:
            entry["error"] = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
        row[slicer] = entry
    refs = [row[s]["filament_mm"] for s in ("cura", "prusa") if s in row and row[s].get("ok")]
    if refs and row["ours"].get("ok"):
        mean = sum(refs) / len(refs)
        row["filament_vs_mean_pct"] = round(100 * (row["ours"]["filament_mm"] - mean) / mean, 2)
    return row


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="3D Pot slicer vs CuraEngine 4.13 and PrusaSlicer 2.5 (same run, same STL)")
    for col in (
        "mesh",
        "layers o/c/p",
        "wall s o/c/p",
        "ms/layer o/c/p",
        "prusa÷ours time",
        "ours÷cura time",
        "RSS MB o/c/p",
        "filament o/c/p mm",
        "fil. vs mean",
        "bbox err mm o/c/p",
        "est. o vs p",
    ):
        table.add_column(col, justify="right" if col != "mesh" else "left")
    for row in rows:
        cells = {s: row.get(s, {}) for s in ("ours", "cura", "prusa")}

        def trio(key: str, fmt: str, c: dict[str, dict[str, Any]] = cells) -> str:
            return "/".join(format(c[s][key], fmt) if key in c[s] else "-" for s in ("ours", "cura", "prusa"))

        o, cu, pr = cells["ours"], cells["cura"], cells["prusa"]
        speed_p = f"{pr['wall_s'] / o['wall_s']:.2f}" if pr.get("ok") and o.get("ok") else "-"
        speed_c = f"{o['wall_s'] / cu['wall_s']:.2f}" if cu.get("ok") and o.get("ok") else "-"
        est = _pct(o.get("time_estimate_s") or 0.0, pr.get("time_estimate_s")) if o.get("ok") else "-"
        table.add_row(
            row["mesh"],
            trio("layers", "d"),
            trio("wall_s", ".2f"),
            trio("ms_per_layer", ".1f"),
            speed_p,
            speed_c,
            trio("rss_mb", ".0f"),
            trio("filament_mm", ".0f"),
            f"{row['filament_vs_mean_pct']:+.1f}%" if "filament_vs_mean_pct" in row else "-",
            trio("bbox_error_mm", ".2f"),
            est,
        )
    return table


def profile_ours(name: str, mesh: mesh_io.Mesh, work: Path) -> None:
    """cProfile one in-process slice (one worker, so the profile sees the per-layer work)."""
    fixed, _ = repair.repair(mesh, name)
    placed = repair.place(fixed, (slicer_refs.BED_MM, slicer_refs.BED_MM), 250.0)
    stl = work / f"{name}.stl"
    mesh_io.write_stl(placed, stl)
    profiler = cProfile.Profile()
    profiler.enable()
    slice_file(stl, work / f"{name}.prof.gcode", load_profile(), workers=1)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def compile_bytecode() -> bool:
    """Compile the `slicing` package to .pyc (in its __pycache__), as an install does; see the docstring."""
    return bool(compileall.compile_dir(Path(slicing.__file__).parent, quiet=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="mesh names (default: all)")
    parser.add_argument("--profile", action="store_true", help="cProfile our slicer on each mesh instead")
    args = parser.parse_args()
    meshes = _meshes(set(args.only) if args.only else None)
    console = Console(width=200)
    compiled = compile_bytecode()
    state = "ok" if compiled else "FAILED"
    console.log(f"slicing package compiled to bytecode (as an install does): {state}")
    with tempfile.TemporaryDirectory(prefix="bench-slicer-") as tmp:
        work = Path(tmp)
        if args.profile:
            for name, mesh in meshes.items():
                console.rule(name)
                profile_ours(name, mesh, work)
            return
        rows = []
        for name, mesh in meshes.items():
            console.log(f"slicing {name} with {'ours, cura, prusa' if slicer_refs.have_cura() else 'ours'}")
            rows.append(bench_mesh(name, mesh, work))
    console.print(_table(rows))
    if not (slicer_refs.have_cura() and slicer_refs.have_prusa()):
        console.print("[yellow]CuraEngine/PrusaSlicer missing: apt-get install cura-engine prusa-slicer")
    OUT.parent.mkdir(exist_ok=True)
    figures = {"bytecode": "compiled" if compiled else "failed", "rows": rows}
    OUT.write_text(json.dumps(figures, indent=1) + "\n")
    console.print(f"JSON: {OUT}")


if __name__ == "__main__":
    main()
