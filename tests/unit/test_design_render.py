"""Design previews: a shaded isometric PNG of every family, one sliced layer drawn from its G-code."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cloud.designs.geometry import build
from cloud.designs.render import (
    BACKGROUND,
    feature_colour,
    layer_paths,
    render_layer_png,
    render_mesh_png,
)
from cloud.designs.spec import FAMILIES, PenHolderSpec, PlanterSpec
from slicing import load_profile, slice_mesh
from slicing.mesh_io import Mesh

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGB"
    return np.asarray(image).astype(np.int64)


def object_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels clearly not background (the background has a faint vertical gradient)."""
    rows = np.linspace(0.0, 1.0, rgb.shape[0])[:, None, None]
    background = np.array(BACKGROUND) * (1.0 - 0.06 * rows)
    mask: np.ndarray = np.abs(rgb - background).max(axis=2) > 24
    return mask


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_renders_a_shaded_object(name: str) -> None:
    rgb = decode(render_mesh_png(build(FAMILIES[name]()), size=256))  # type: ignore[arg-type]
    assert rgb.shape == (256, 256, 3)
    mask = object_mask(rgb)
    assert 0.08 < mask.mean() < 0.8  # the object fills a sane share of the frame
    assert not mask[0].any() and not mask[-1].any()  # a margin round it
    luminance = rgb[mask].mean(axis=1)
    assert luminance.std() > 10  # lit and shaded faces differ
    assert len(np.unique(luminance.round())) > 20


@pytest.mark.parametrize("size", [64, 200, 512])
def test_png_is_the_size_asked(size: int) -> None:
    png = render_mesh_png(build(PlanterSpec()), size=size)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (size, size)


def test_edges_are_antialiased() -> None:
    rgb = decode(render_mesh_png(build(PenHolderSpec()), size=256))
    mask = object_mask(rgb)
    # between background and object there are blended pixels, not a hard two-tone edge
    diff = np.abs(rgb - np.array(BACKGROUND)).max(axis=2)
    assert ((diff > 3) & (diff <= 24)).sum() > 50
    assert mask.sum() > 0


def test_nearer_faces_hide_farther_ones() -> None:
    # a cup seen from above shows its inside: the far inner wall is lit differently from the outer wall
    rgb = decode(render_mesh_png(build(PenHolderSpec(height=40, width=80)), size=256))
    mask = object_mask(rgb)
    column = mask[:, 128]
    assert column.sum() > 60  # one continuous object down the middle
    assert np.ptp(np.flatnonzero(column)) + 1 - column.sum() < 3


# ---- layers --------------------------------------------------------------------------------------

SYNTHETIC = """;FLAVOR:Marlin
;MINX:0.000
;MINY:0.000
;MAXX:20.000
;MAXY:20.000
M83
G92 E0
;LAYER:0
;Z:0.2
G0 X0 Y0 F9000
;TYPE:WALL-OUTER
G1 X20 Y0 E1.0 F1800
G1 X20 Y20 E1.0
G1 X0 Y20 E1.0
G1 X0 Y0 E1.0
G1 E-0.8
G0 X5 Y5
G0 X15 Y15
G1 E0.8
;TYPE:FILL
G1 X15 Y5 E0.5
;LAYER:1
;Z:0.4
;TYPE:SKIN
G1 X5 Y15 E0.5
"""


def test_layer_paths_keep_extrusion_and_drop_travel() -> None:
    paths = layer_paths(SYNTHETIC, 0)
    assert [name for name, _ in paths] == ["WALL-OUTER", "FILL"]
    assert paths[0][1].tolist() == [[0, 0], [20, 0], [20, 20], [0, 20], [0, 0]]
    assert paths[1][1].tolist() == [[15, 15], [15, 5]]  # starts where the travel ended
    (skin,) = layer_paths(SYNTHETIC, 1)
    assert skin[0] == "SKIN" and skin[1].tolist() == [[15, 5], [5, 15]]


def test_absolute_extrusion_and_retraction_moves() -> None:
    text = (
        "M82\nG92 E0\n;LAYER:0\n;TYPE:WALL-INNER\nG0 X0 Y0\nG1 X10 Y0 E1\nG1 X10 Y10 E0.5\nG1 X0 Y10 E1.5\n"
    )
    paths = layer_paths(text, 0)
    assert {name for name, _ in paths} == {"WALL-INNER"}
    # E going down while moving is a wipe, not plastic: the run breaks there
    assert [p.tolist() for _, p in paths] == [[[0, 0], [10, 0]], [[10, 10], [0, 10]]]


def test_layer_render_colours_features_and_leaves_travel_blank() -> None:
    rgb = decode(render_layer_png(SYNTHETIC, 0, size=200))
    assert rgb.shape == (200, 200, 3)
    outer = np.all(rgb == feature_colour("WALL-OUTER"), axis=2)
    fill = np.all(rgb == feature_colour("FILL"), axis=2)
    assert outer.sum() > 100 and fill.sum() > 10
    # the travel from (5, 5) to (15, 15) crosses the square's middle; nothing is drawn along it
    scale = 200 * 0.88 / 20
    for t in (0.25, 0.4):  # points on the travel diagonal, clear of the fill line at x = 15
        x, y = 5 + 10 * t, 5 + 10 * t
        col, row = int(100 + (x - 10) * scale), int(100 - (y - 10) * scale)
        assert tuple(rgb[row, col]) == BACKGROUND


def test_missing_layer_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no layer 7"):
        render_layer_png(SYNTHETIC, 7)


def test_layer_of_a_real_slice_shows_the_walls() -> None:
    mesh = build(PenHolderSpec(width=40, height=8, compartments=3))
    result = slice_mesh(
        Mesh(mesh.vertices + np.array([110.0, 110.0, 0.0]), mesh.faces), load_profile(), workers=1
    )
    gcode = "".join(result.chunks)
    for layer in (0, result.layers - 1):
        rgb = decode(render_layer_png(gcode, layer, size=256))
        mask = object_mask(rgb)
        assert 0.02 < mask.mean() < 0.9
        assert np.all(rgb == feature_colour("WALL-OUTER"), axis=2).sum() > 100
    names = {name for name, _ in layer_paths(gcode, result.layers - 1)}
    assert {"WALL-OUTER", "WALL-INNER"} <= names
