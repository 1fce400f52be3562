"""`3dpot slice` end to end: bad input ends in one line, exit 2, no file; a good model prints start to end
on the virtual printer inside the bed with no unknown command."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.virtual.process import PrinterProcess
from slicing import mesh_io
from tests.unit.test_slicing_geometry import box, tube
from tests.unit.test_slicing_parts import ascii_stl, stl_bytes

pytestmark = pytest.mark.integration

BED = 220.0
MAX_Z = 250.0


def slice_cli(*args: str, module: str = "slicing") -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", module, *(["slice"] if module == "threedpot" else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def _nan_stl() -> bytes:
    data = bytearray(stl_bytes(box((0, 0, 0), (10, 10, 10))))
    data[84 + 12 : 84 + 16] = struct.pack("<f", float("nan"))
    return bytes(data)


BAD_INPUTS: dict[str, tuple[str, bytes, str]] = {
    "empty": ("part.stl", b"x" * 80 + struct.pack("<I", 0), "no triangles"),
    "nan": ("part.stl", _nan_stl(), "NaN"),
    "too-big": ("part.stl", stl_bytes(box((0, 0, 0), (300, 20, 10))), "bed is 220 x 220"),
    "zero-volume": ("part.stl", stl_bytes(box((0, 0, 0), (20, 20, 0))), "no volume"),
    "truncated": ("part.stl", stl_bytes(box((0, 0, 0), (10, 10, 10)))[:-30], "truncated"),
    "not-a-mesh": ("part.step", b"ISO-10303-21;", "unsupported model format"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path: Path, case: str) -> None:
    name, data, message = BAD_INPUTS[case]
    model = tmp_path / name
    model.write_bytes(data)
    out = tmp_path / "out" / "part.gcode"
    done = slice_cli(str(model), "-o", str(out))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_3dpot_slice_with_options_and_a_profile_file(tmp_path: Path) -> None:
    model = tmp_path / "part.stl"
    model.write_bytes(ascii_stl(box((0, 0, 0), (10, 10, 2))))
    profile = tmp_path / "printer.toml"
    profile.write_text('[printer]\nname = "test"\n[print]\nskirt_distance_mm = 5\n')
    out = tmp_path / "part.gcode"
    done = slice_cli(
        str(model), "-o", str(out), "--profile", str(profile), "--layer-height", "0.25", "--first-layer-height", "0.25",
        "--perimeters", "3", "--infill-density", "30%", "--infill-pattern", "rectilinear", "--top-layers", "2",
        "--bottom-layers", "2", "--nozzle", "0.5", "--nozzle-temp", "205", "--bed-temp", "55", "--bed", "200x180",
        "--filament-diameter", "1.75", "--skirt-loops", "2", "--json", module="threedpot",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["layers"] == 8
    text = out.read_text()
    assert "M104 S205" in text and "M140 S55" in text
    assert re.search(r"^; thumbnail begin 220x124 \d+$", text, re.M)
    assert text.count(";TYPE:SKIRT") == 1 and text.count(";LAYER:") == 8
    centre = np.array(figures["bounds"]).mean(axis=0)[:2]
    assert centre == pytest.approx([100, 90], abs=0.01)


def _g_coordinates(text: str) -> np.ndarray:
    rows = []
    pos = {"X": 0.0, "Y": 0.0, "Z": 0.0}
    for line in text.splitlines():
        if line.startswith(("G0 ", "G1 ")):
            for axis, value in re.findall(r"([XYZ])([-\d.]+)", line):
                pos[axis] = float(value)
            rows.append((pos["X"], pos["Y"], pos["Z"]))
    return np.array(rows)


@pytest.mark.timeout(300)
def test_sliced_tube_prints_start_to_end_on_the_virtual_printer(
    tmp_path: Path, virtual_printer_process: Callable[..., PrinterProcess]
) -> None:
    model = tmp_path / "tube.stl"
    mesh_io.write_stl(tube(15.0, 11.0, 3.0), model)
    gcode = tmp_path / "tube.gcode"
    done = slice_cli(str(model), "-o", str(gcode))
    assert done.returncode == 0, done.stderr
    text = gcode.read_text()
    coords = _g_coordinates(text)
    assert (coords[:, :2] >= 0).all() and (coords[:, :2] <= BED).all() and (coords[:, 2] >= 0).all()
    assert (coords[:, 2] <= MAX_Z).all()

    link = tmp_path / "ttyTUBE"
    printer = virtual_printer_process("--baud", "0", "--thermal-tau-s", "0.05", "--link", str(link))
    argv = [
        sys.executable,
        "-m",
        "threedpot",
        "print",
        str(gcode),
        "--port",
        str(link),
        "--baud",
        "250000",
        "--json",
    ]
    try:
        printed = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired as exc:  # say where it stood, not only that it stood still
        pytest.fail(
            f"3dpot print did not finish in 120 s; printer: {printer.stats()}; stderr: {exc.stderr!r}"
        )
    assert printed.returncode == 0, printed.stderr
    figures = json.loads(printed.stdout.strip().splitlines()[-1])
    assert figures["outcome"] == "completed"
    stats = printer.stats()
    assert stats["unknown_commands"] == 0
    assert stats["moves_executed"] == sum(1 for ln in text.splitlines() if ln.startswith(("G0", "G1")))
    position = stats["position"]
    assert 0 <= position["x"] <= BED and 0 <= position["y"] <= BED and 0 <= position["z"] <= MAX_Z
    assert position["x"] == pytest.approx(coords[-1, 0]) and position["y"] == pytest.approx(coords[-1, 1])
