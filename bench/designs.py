"""Design studio benchmark: build and preview every family at its default size.

    make bench-designs        (or: .venv/bin/python -m bench.designs [--runs 3] [--size 512])

For each family's default spec: ``build`` (the watertight model, parts laid out) and
``render_mesh_png`` (the 512 px shaded isometric preview, CPU only), the median of ``--runs`` runs each,
next to our goals (build < 2 s, render < 1 s) and the old platform's targets (2 s to generate, 30 s to
render). Triangles and the PNG's bytes are shown so a regression in mesh density is visible. A rich
table on stdout, JSON in .bench/designs.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cloud.designs.geometry import DesignMesh, build
from cloud.designs.render import render_mesh_png
from cloud.designs.spec import FAMILIES

OUT = Path(".bench") / "designs.json"
GOAL_BUILD_S = 2.0
GOAL_RENDER_S = 1.0
OLD_BUILD_S = 2.0
OLD_RENDER_S = 30.0


def median_s(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_family(name: str, runs: int, size: int) -> dict[str, Any]:
    spec = FAMILIES[name]()
    mesh: DesignMesh = build(spec)  # type: ignore[arg-type]
    png = render_mesh_png(mesh, size)
    return {
        "family": name,
        "triangles": len(mesh.faces),
        "build_s": median_s(lambda: build(spec), runs),  # type: ignore[arg-type]
        "render_s": median_s(lambda: render_mesh_png(mesh, size), runs),
        "png_bytes": len(png),
    }


def _table(rows: list[dict[str, Any]], size: int) -> Table:
    table = Table(title=f"Design studio: median of runs, default sizes, {size} px preview")
    for column in ("family", "triangles", "build", "goal", "old target", "render", "goal", "old target"):
        table.add_column(column, justify="left" if column == "family" else "right")

    def verdict(value: float, goal: float) -> str:
        colour = "green" if value < goal else "red"
        return f"[{colour}]{value * 1000:.0f} ms[/{colour}]"

    for row in rows:
        table.add_row(
            row["family"],
            f"{row['triangles']:,}",
            verdict(row["build_s"], GOAL_BUILD_S),
            f"< {GOAL_BUILD_S:g} s",
            f"{OLD_BUILD_S:g} s",
            verdict(row["render_s"], GOAL_RENDER_S),
            f"< {GOAL_RENDER_S:g} s",
            f"{OLD_RENDER_S:g} s",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is shown")
    parser.add_argument("--size", type=int, default=512, help="preview size in pixels")
    args = parser.parse_args()
    console = Console(width=160)
    rows = [bench_family(name, args.runs, args.size) for name in FAMILIES]
    console.print(_table(rows, args.size))
    ok = all(r["build_s"] < GOAL_BUILD_S and r["render_s"] < GOAL_RENDER_S for r in rows)
    console.print("[green]every family within the goals" if ok else "[red]some figures miss their goal")
    OUT.parent.mkdir(exist_ok=True)
    goals = {"build_s": GOAL_BUILD_S, "render_s": GOAL_RENDER_S}
    old = {"build_s": OLD_BUILD_S, "render_s": OLD_RENDER_S}
    OUT.write_text(json.dumps({"rows": rows, "goals": goals, "old_platform": old}, indent=1) + "\n")
    console.print(f"JSON: {OUT}")


if __name__ == "__main__":
    main()
