"""The slicer end to end: model file → placed mesh → sections → per-layer work across processes → G-code.

Per-layer work (perimeters, skin, infill, ordering, moves, G-code text) runs over ranges of layers in a
process pool. Skin needs the inner regions of the N layers above and below, so each range also computes
those of its neighbours (a few layers of repeated work) instead of waiting for another process.

    result = slice_file(Path("part.stl"), Path("part.gcode"), load_profile())
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from slicing import (
    forkpool,
    gapfill,
    gcode_reader,
    gcode_writer,
    infill,
    mesh_io,
    perimeters,
    polygons,
    repair,
    sections,
    skin,
    thumbnail,
)
from slicing.errors import EmptyMesh
from slicing.estimate import move_times
from slicing.mesh_io import FloatArray, Mesh
from slicing.planner import EXTRUDE, Moves, loop_edges, plan_layer
from slicing.polygons import Region
from slicing.profiles import InfillPattern, Profile
from slicing.toolpath import IslandFill, layer_pieces

Progress = Callable[[int, int], None]
"""``progress(layers_done, layers_total)``."""

SIMPLIFY_MM = 0.01
INLINE_BELOW_POINTS = 10_000
"""Section points below which the layers are done in this process (a pool costs more than it saves).
Measured cold on 2 cores: thin_walls (3,400 points, 75 layers) 0.22 s inline vs 0.25 s with the pool,
overhangs (21,600 points, 120 layers) 0.63 s inline vs 0.44 s with it."""
MEMOISE = True
"""Reuse the work of an identical earlier layer (see `_run_job`); off only to test that it changes nothing."""
THUMBNAILS = ((16, 16), (220, 124))
GAP_MIN_WIDTH = 0.2
"""Gaps narrower than this x line width get no gap fill."""
GAP_MAX_WIDTH = 1.0 + 2 * perimeters.LOOP_OPEN + 0.05
"""Widest gap-fill line, x line width: a wall just too thin for two loops."""


@dataclass(frozen=True, slots=True)
class LayerResult:
    index: int
    text: str
    time_s: float
    filament_mm: float
    end: FloatArray
    bounds: FloatArray | None


@dataclass(frozen=True, slots=True)
class SliceResult:
    """What a slice produced: the G-code chunks in order and its figures."""

    chunks: list[str]
    layers: int
    time_s: float
    filament_mm: float
    bounds: FloatArray
    mesh_bounds: FloatArray
    repair: repair.RepairReport
    timings_s: dict[str, float] = field(default_factory=dict)

    def write(self, out: Path) -> None:
        """Write atomically: a temporary file beside ``out`` renamed over it, nothing left on failure."""
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_beside(out)
        try:
            with os.fdopen(fd, "w", encoding="ascii", newline="\n") as fh:
                fh.writelines(self.chunks)
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _create_beside(out: Path) -> tuple[int, Path]:
    """A new file ``.NAME.PID.N.part`` beside ``out``, opened for writing, mode 0o666 less the umask (what
    ``out`` would get). O_EXCL: never an existing file or symlink. (tempfile.mkstemp did this with a random
    name and mode 0o600 plus a chmod, but importing tempfile cost ~3 ms at every start.)"""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for n in range(1000):
        tmp = out.with_name(f".{out.name}.{os.getpid()}.{n}.part")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{out}: no free temporary name beside it")


@dataclass(frozen=True, slots=True)
class _Job:
    """One range of layers [first, stop) with the section loops of [lo, hi) (the range plus skin margins)."""

    first: int
    stop: int
    lo: int
    loops: list[list[FloatArray]]
    print_z: FloatArray
    heights: FloatArray
    profile: Profile
    start_xyz: FloatArray | None


def load_and_place(model: Path, profile: Profile) -> tuple[Mesh, repair.RepairReport]:
    """Read, repair and place a model on the bed. Raises `SliceError` subclasses."""
    mesh = mesh_io.load(model)
    mesh, report = repair.repair(mesh, model.name)
    p = profile.print
    margin = max(
        p.skirt_distance_mm + p.skirt_loops * profile.line_width_mm if p.skirt_loops else 0.0, p.brim_width_mm
    )
    placed = repair.place(
        mesh, (profile.printer.bed_x_mm, profile.printer.bed_y_mm), profile.printer.max_z_mm, margin
    )
    return placed, report


def _skirt(first_layer: Region, profile: Profile) -> Region:
    p, w = profile.print, profile.line_width_mm
    loops: Region = []
    brim_loops = int(p.brim_width_mm / w + 0.5)
    for k in range(brim_loops):
        loops += [q for q in polygons.offset(first_layer, (k + 0.5) * w) if polygons.area_mm2([q]) > 0]
    base = p.skirt_distance_mm + (brim_loops * w if brim_loops else 0.0)
    for k in range(p.skirt_loops):
        ring = polygons.offset(first_layer, base + (k + 0.5) * w, round_joins=True)
        loops += [q for q in polygons.union(ring) if polygons.area_mm2([q]) > 0]
    return loops


def _fan(index: int, profile: Profile) -> str | None:
    p = profile.print
    on = f"M106 S{round(255 * p.fan_pct / 100)}" if p.fan_pct > 0 else "M107"
    if index == p.fan_off_layers:
        return on
    return "M107" if index == 0 else None


def _shared_regions(job: _Job) -> list[Region]:
    """Each layer's region; layers whose regions are equal (same paths, same points in the same order)
    get the same object, so the per-layer memos of `_run_job` can key on its identity."""
    seen: dict[tuple[bytes, ...], Region] = {}
    out: list[Region] = []
    for layer_loops in job.loops:
        region = perimeters.layer_region(
            [polygons.to_int(polygons.simplify(p, SIMPLIFY_MM)) for p in layer_loops if len(p) >= 3]
        )
        out.append(seen.setdefault(tuple(p.tobytes() for p in region), region))
    return out


def _layer_geometry(
    index: int,
    z: float,
    region: Region,
    inner_of: Callable[[int], Region | None],
    profile: Profile,
    memo: _IslandMemos | None = None,
) -> tuple[list[perimeters.IslandWalls], list[IslandFill]]:
    """Walls, gap fill, skin and infill of one layer (clipper units, not yet ordered). ``memo``: the
    job's memos; an island whose inputs are exactly those of one met before reuses its work."""
    pr = profile.print
    w = profile.line_width_mm
    memo_walls = memo.walls if memo is not None else None
    inner = inner_of(index) or []
    walls = perimeters.walls(region, pr.perimeters, w, gaps=pr.gap_fill, inner=inner, memo=memo_walls)
    solid, sparse = skin.split(
        index,
        inner_of,
        pr.top_layers,
        pr.bottom_layers,
        pr.perimeters * w,
        pr.solid_infill_below_area_mm2,
        memo.covered if memo is not None else None,
    )
    fills: list[IslandFill] = []
    outlines = [island.outline for island in walls]
    solid_of = polygons.assign(solid, outlines)
    if len(sparse) == len(inner) and all(a is b for a, b in zip(sparse, inner, strict=True)):
        # No skin (most layers): the sparse area is the inner region, which walls() split by island
        # already (island.inner, where the island has all its loops; an island without them gets no
        # fill, whatever its sparse area).
        sparse_of = [island.inner for island in walls]
    else:
        sparse_of = polygons.assign(sparse, outlines)
    gyroid = pr.infill_pattern is InfillPattern.GYROID
    for k, island in enumerate(walls):
        key: tuple[object, ...] = ()
        if memo is not None:
            # What this island's fill depends on: its gaps, skin and sparse areas, and what the
            # patterns vary with (layer parity: skin and rectilinear; z: gyroid).
            key = (
                perimeters.region_key(island.gaps),
                bool(island.inner),
                perimeters.region_key(solid_of[k]),
                perimeters.region_key(sparse_of[k]),
                index % 2,
                z if gyroid else None,
            )
            if key in memo.fills:
                fills.append(memo.fills[key])
                continue
        fills.append(_island_fill(island, solid_of[k], sparse_of[k], index, z, profile))
        if memo is not None:
            memo.fills[key] = fills[-1]
    return walls, fills


@dataclass(slots=True)
class _IslandMemos:
    """A job's memos below the layer: walls and fill of single islands, skin's intersections."""

    walls: perimeters.IslandMemo = field(default_factory=dict)
    fills: dict[tuple[object, ...], IslandFill] = field(default_factory=dict)
    covered: skin.CoveredMemo = field(default_factory=dict)


def _island_fill(
    island: perimeters.IslandWalls, s_isl: Region, f_isl: Region, index: int, z: float, profile: Profile
) -> IslandFill:
    pr = profile.print
    w = profile.line_width_mm
    overlap = pr.infill_overlap_pct / 100.0 * w
    gaps = gapfill.gap_lines(island.gaps, w, GAP_MIN_WIDTH, GAP_MAX_WIDTH * w) if island.gaps else []
    if not island.inner:
        return IslandFill([], [], gaps)
    skin_lines = infill.solid(polygons.offset(s_isl, overlap), w, index) if s_isl else []
    fill_lines = (
        infill.sparse(polygons.offset(f_isl, overlap), pr.infill_pattern, pr.infill_density_pct, w, index, z)
        if f_isl
        else []
    )
    return IslandFill(skin_lines, fill_lines, gaps)


def _run_job(job: _Job) -> list[LayerResult]:
    """The layers [first, stop) of a job.

    Layers with the same section (a prism's middle, a pot's straight wall) repeat the same work, so it
    is memoised on exact inputs, never on "close enough" ones: the geometry (walls, gap fill, skin,
    infill) on the identity of the layer's region and of the inner regions its skin depends on, plus
    what the infill pattern varies with (layer parity: skin and rectilinear; z: gyroid); the planned
    moves on that and on the exact start point, layer height and lift. A memoised layer's G-code is
    byte for byte what computing it again gives (tests/unit/test_slicing_geometry.py checks this).
    """
    profile = job.profile
    pr = profile.print
    w = profile.line_width_mm
    regions = _shared_regions(job)
    inner_cache: dict[int, Region] = {}
    # Off with MEMOISE too. covered's keys are ids of inner_cache's regions, alive as long as it is.
    memos = _IslandMemos() if MEMOISE else None

    def inner_of(layer: int) -> Region | None:
        k = layer - job.lo
        if not 0 <= k < len(regions):
            return None
        region = regions[k]
        if id(region) not in inner_cache:
            inner_cache[id(region)] = perimeters.inner_region(region, pr.perimeters, w)
        return inner_cache[id(region)]

    pattern_key = pr.infill_pattern is InfillPattern.GYROID
    geometry: dict[tuple[object, ...], tuple[list[perimeters.IslandWalls], list[IslandFill]]] = {}
    planned: dict[tuple[object, ...], tuple[Moves, FloatArray]] = {}
    results: list[LayerResult] = []
    here = job.start_xyz
    for index in range(job.first, job.stop):
        region = regions[index - job.lo]
        z = float(job.print_z[index])
        height = float(job.heights[index])
        window = range(index - pr.bottom_layers, index + pr.top_layers + 1)
        geo_key = (
            id(region),
            tuple(id(inner) if (inner := inner_of(j)) is not None else None for j in window),
            index % 2,
            z if pattern_key else None,
        )
        if geo_key not in geometry or not MEMOISE:
            geometry[geo_key] = _layer_geometry(index, z, region, inner_of, profile, memos)
        walls, fills = geometry[geo_key]
        if here is None:
            first = walls[0].outline[0][0] / polygons.SCALE if walls else np.zeros(2)
            here = np.array([first[0], first[1], z - height])
        move_key = (geo_key, float(here[0]), float(here[1]), height, z - float(here[2]))
        if index == 0 or move_key not in planned or not MEMOISE:
            skirt = _skirt(region, profile) if index == 0 else []
            pieces = layer_pieces(walls, fills, skirt, here[:2])
            outer = [polygons.to_mm(p) for island in walls if island.loops for p in island.loops[0]]
            edges = loop_edges(outer)
            moves, times = plan_layer(pieces, z, height, here, edges, profile, index == 0)
            if index > 0:
                planned[move_key] = (moves, times)
        else:
            # The same moves but for z: every row is at this layer's z except the first (the retract,
            # at the start point), which is all plan_layer does with z. So the moves' deltas, and their
            # times, are the same to the bit (the key holds the start's x, y and its height below z).
            same, times = planned[move_key]
            xyz = same.xyz.copy()
            xyz[:, 2] = z
            xyz[0, 2] = here[2]
            moves = Moves(xyz, same.e, same.feed, same.kind, same.feature)
        results.append(_layer_result(index, z, moves, here, times, profile))
        here = moves.xyz[-1].copy()
    return results


def _layer_result(
    index: int, z: float, moves: Moves, start: FloatArray, times: FloatArray, profile: Profile
) -> LayerResult:
    text = gcode_writer.layer_text(index, z, moves, _fan(index, profile))
    ext = moves.kind == EXTRUDE
    bounds = None
    if ext.any():
        prev = np.vstack([start, moves.xyz[:-1]])
        pts = np.concatenate([moves.xyz[ext], prev[ext]])
        bounds = np.array([pts.min(axis=0), pts.max(axis=0)])
    return LayerResult(
        index, text, float(times.sum()), float(moves.e[ext].sum()), moves.xyz[-1].copy(), bounds
    )


def _script_time(text: str, profile: Profile) -> float:
    moves = gcode_reader.read_gcode(text)
    if len(moves.de) == 0:
        return 0.0
    return float(
        move_times(
            moves.end - moves.start,
            moves.de,
            moves.feed,
            profile.printer.max_accel_mm_s2,
            profile.printer.jerk_mm_s,
        ).sum()
    )


def _plan_jobs(
    sec: sections.Sections,
    print_z: FloatArray,
    heights: FloatArray,
    profile: Profile,
    chunks: int,
    start: FloatArray,
) -> list[_Job]:
    layers = sec.layers
    margin = max(profile.print.top_layers, profile.print.bottom_layers)
    size = max(1, math.ceil(layers / chunks))
    jobs = []
    for first in range(0, layers, size):
        stop = min(layers, first + size)
        lo, hi = max(0, first - margin), min(layers, stop + margin)
        loops = [sec.layer_loops(j) for j in range(lo, hi)]
        jobs.append(_Job(first, stop, lo, loops, print_z, heights, profile, start if first == 0 else None))
    return jobs


def slice_mesh(
    mesh: Mesh,
    profile: Profile,
    *,
    report: repair.RepairReport | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> SliceResult:
    """Slice a placed mesh (min Z = 0, on the bed) into G-code chunks."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    pr = profile.print
    top = float(mesh.bounds[1, 2])
    print_z, plane_z = sections.plane_heights(top, pr.layer_height_mm, pr.first_layer_height_mm)
    if len(print_z) == 0:
        raise EmptyMesh("the model is thinner than the first layer; nothing to print")
    heights = np.diff(np.r_[0.0, print_z])
    sec = sections.slice_mesh(mesh, plane_z)
    timings["sections"] = time.perf_counter() - t0

    values = gcode_writer.template_values(profile, float(print_z[-1]))
    start_text = gcode_writer.render_template(profile.printer.start_gcode, values)
    end_text = gcode_writer.render_template(profile.printer.end_gcode, values)
    start_moves = gcode_reader.read_gcode(start_text)
    start_xyz = start_moves.end[-1].copy() if len(start_moves.end) else np.zeros(3)

    layers = sec.layers
    cpus = workers if workers is not None else (os.cpu_count() or 1)
    use_pool = cpus > 1 and len(sec.points) >= INLINE_BELOW_POINTS and layers >= 8
    chunks = min(layers, cpus * 4) if use_pool else 1
    jobs = _plan_jobs(sec, print_z, heights, profile, chunks, start_xyz)
    t1 = time.perf_counter()
    done = 0
    results: list[LayerResult] = []
    thumbs: list[str] = []

    def make_thumbs() -> None:
        thumbs[:] = [
            gcode_writer.thumbnail_block(thumbnail.png(mesh, tw, th), tw, th) for tw, th in THUMBNAILS
        ]

    made_thumbs = False
    if use_pool and forkpool.available():
        # The thumbnails are drawn here while the children slice (on 2 cores, partly in a child's idle
        # tail): "layers" in the timings then includes them.
        made_thumbs = True
        for part in forkpool.imap_unordered(_run_job, jobs, cpus, meanwhile=make_thumbs):
            results.extend(part)
            done += len(part)
            if progress:
                progress(done, layers)
    elif use_pool:
        # Imported here: the pool's modules cost ~15 ms of start-up that an inline run never uses.
        import concurrent.futures as cf  # noqa: PLC0415 - see above
        import multiprocessing  # noqa: PLC0415

        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=cpus, mp_context=context) as pool:
            futures = {pool.submit(_run_job, job): job for job in jobs}
            for future in cf.as_completed(futures):
                part = future.result()
                results.extend(part)
                done += len(part)
                if progress:
                    progress(done, layers)
    else:
        for job in jobs:
            part = _run_job(job)
            results.extend(part)
            done += len(part)
            if progress:
                progress(done, layers)
    results.sort(key=lambda r: r.index)
    timings["layers"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    elapsed = _script_time(start_text, profile)
    body: list[str] = []
    for r in results:
        elapsed += r.time_s
        body.append(r.text + f";TIME_ELAPSED:{elapsed:.1f}\n")
    total_time = elapsed + _script_time(end_text, profile)
    filament = float(sum(r.filament_mm for r in results))
    boxes = [r.bounds for r in results if r.bounds is not None]
    bounds = (
        np.array([np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)])
        if boxes
        else np.zeros((2, 3))
    )
    if not made_thumbs:
        make_thumbs()
    head = gcode_writer.header(profile, layers, total_time, filament, bounds, thumbs)
    timings["thumbnail+assembly"] = time.perf_counter() - t2
    chunks_out = [head, start_text, *body, end_text]
    return SliceResult(
        chunks_out,
        layers,
        total_time,
        filament,
        bounds,
        mesh.bounds,
        report or repair.RepairReport(),
        timings,
    )


def slice_file(
    model: Path,
    out: Path | None,
    profile: Profile,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> SliceResult:
    """Load, repair, place, slice ``model``; write G-code to ``out`` (atomically) when given."""
    t0 = time.perf_counter()
    mesh, report = load_and_place(model, profile)
    load_s = time.perf_counter() - t0
    result = slice_mesh(mesh, profile, report=report, workers=workers, progress=progress)
    result.timings_s["load+repair"] = load_s
    if out is not None:
        t1 = time.perf_counter()
        result.write(out)
        result.timings_s["write"] = time.perf_counter() - t1
    return result
