"""Hostile 3MF archives fed to the slicer, by `3dpot slice` and by the cloud's mesh upload → slice path:
a zip bomb (the model part inflates to 1 GiB; honest and lying headers), thousands of entries and
``../`` entry names. Each ends in a clear error (or a normal slice), in bounded memory, and nothing is
written outside the output folder."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from slicing import mesh_io
from tests.fixtures.cloud import CloudFactory
from tests.security import hostile

pytestmark = [pytest.mark.security, pytest.mark.integration]

BOMB_INFLATED = 1024 * hostile.MIB
RSS_LIMIT_KIB = 200 * 1024
"""Peak RSS a slice of a hostile 3MF may reach: the CLI slicing a 10 mm cube peaks at ~80 MiB (its own
VmHWM); a reader that inflated the 1 GiB bomb would need more than a GiB."""


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return hostile.zip_bomb_3mf(BOMB_INFLATED)


CASES = {
    "bomb": ("inflates to more than 256 MiB", 2),
    "bomb-lying-size": ("not a readable 3MF", 2),
    "many-entries": ("5001 entries", 2),
    "traversal-entry": ("", 0),  # names are never used as paths: the cube slices normally
}


def _model(case: str, bomb: bytes) -> bytes:
    if case == "bomb":
        return bomb
    if case == "bomb-lying-size":
        return hostile.zip_bomb_3mf(BOMB_INFLATED // 4, declared_bytes=4096)
    if case == "many-entries":
        return hostile.many_entries_3mf(5000)
    return hostile.cube_3mf("../../../../evil.model", extra={"../../evil.txt": b"x", "/tmp/abs.txt": b"x"})


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_3dpot_slice_refuses_hostile_3mf_in_bounded_memory(tmp_path: Path, bomb: bytes, case: str) -> None:
    message, code = CASES[case]
    work = tmp_path / "work"
    (work / "in").mkdir(parents=True)
    model = work / "in" / "part.3mf"
    model.write_bytes(_model(case, bomb))
    out = work / "out" / "part.gcode"
    outside_before = _tree(tmp_path.parent)
    code_seen, peak_kib, text = _slice(model, out, work / "stderr.txt")
    print(f"observed: {case}: exit {code_seen}, peak RSS {peak_kib // 1024} MiB, {text.strip()[:120]!r}")
    assert code_seen == code, text[-2000:]
    if code:
        lines = text.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], text
        assert not out.exists()
    else:
        assert out.is_file() and ";LAYER:0" in out.read_text()
    assert peak_kib < RSS_LIMIT_KIB, f"peak RSS {peak_kib // 1024} MiB"
    created = _tree(tmp_path.parent) - outside_before
    assert {p for p in created if not p.is_relative_to(work)} == set(), created
    assert {p for p in created if p.is_relative_to(work)} <= {out, out.parent, work / "stderr.txt"}, created
    assert not (tmp_path.parent.parent / "evil.model").exists()


def _peak_kib(pid: int) -> int:
    """The process's own high-water RSS (``VmHWM``, reset by exec), 0 once it is gone. Not ``ru_maxrss``
    of ``wait4``: Linux carries the parent's high-water mark over fork and exec into it, so a child of a
    pytest that has grown to 700 MiB would report 700 MiB whatever it did."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _slice(model: Path, out: Path, stderr_path: Path) -> tuple[int, int, str]:
    """`3dpot slice model -o out` → (exit code, peak RSS in KiB of that child, stderr)."""
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "threedpot", "slice", str(model), "-o", str(out), "--workers", "1"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=model.parent,
        )
    peak = 0
    while True:
        peak = max(peak, _peak_kib(process.pid))  # read before reaping: the zombie has no memory left
        try:
            process.wait(timeout=0.02)
            break
        except subprocess.TimeoutExpired:
            continue
    return process.returncode, peak, stderr_path.read_text(errors="replace")


def test_the_reader_refuses_before_inflating_and_counts_what_it_inflates(bomb: bytes) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(mesh_io.MeshError, match="inflates to more than"):
        mesh_io.read_3mf(bomb, "bomb.3mf")
    with pytest.raises(mesh_io.MeshError, match="not a readable 3MF"):
        mesh_io.read_3mf(hostile.zip_bomb_3mf(64 * hostile.MIB, declared_bytes=1000), "liar.3mf")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 100 * 1024
    assert abs(
        mesh_io.read_3mf(hostile.many_entries_3mf(mesh_io.MAX_3MF_ENTRIES - 2)).volume_mm3()
    ) == pytest.approx(1000.0)


async def test_the_clouds_mesh_upload_refuses_a_zip_bomb_with_a_422(
    cloud_factory: CloudFactory, bomb: bytes
) -> None:
    cloud = await cloud_factory(jobs={"dispatcher": False})
    files = cloud.settings.data_dir / "files"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, data, message in (
        ("bomb.3mf", bomb, "inflates to more than 256 MiB"),
        ("many.3mf", hostile.many_entries_3mf(5000), "5001 entries"),
    ):
        response = await cloud.client.post(
            "/api/jobs",
            files={"file": (name, data, "application/octet-stream")},
            headers=cloud.admin_headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "slicing_failed" and message in response.json()["message"]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024
    assert [p for p in files.rglob("*") if p.is_file()] == [] if files.exists() else True
    jobs = await cloud.client.get("/api/jobs", headers=cloud.admin_headers)
    assert jobs.json() == []
    traversal = await cloud.client.post(
        "/api/jobs",
        files={"file": ("part.3mf", _model("traversal-entry", b""), "application/octet-stream")},
        headers=cloud.admin_headers,
    )
    assert traversal.status_code == 201, traversal.text
    assert not (cloud.settings.data_dir.parent.parent / "evil.model").exists()
    stored = sorted(p.name for p in files.rglob("*") if p.is_file())
    assert len(stored) == 1 and stored[0].endswith("-part.gcode"), stored
