"""Upload file names: hostile and ordinary names → the name kept in the files folder, or a refusal."""

from __future__ import annotations

import pytest

from edge_agent.errors import Invalid
from edge_agent.http.names import MAX_NAME_BYTES, is_plain_name, sanitise_filename


@pytest.mark.parametrize(
    ("raw", "folder", "expected"),
    [
        ("Shape-Box_0.2mm_PLA_MK4_1h2m.gcode", "", "Shape-Box_0.2mm_PLA_MK4_1h2m.gcode"),
        ("benchy.gco", "", "benchy.gco"),
        ("benchy.g", "", "benchy.g"),
        ("Benchy.GCODE", "", "Benchy.gcode"),
        ("my print (v2).gcode", "", "my print (v2).gcode"),
        ("archive.tar.gcode", "", "archive.tar.gcode"),
        ("../../evil.gcode", "", "evil.gcode"),
        ("..\\..\\evil.gcode", "", "evil.gcode"),
        ("/abs/x.gcode", "", "x.gcode"),
        ("C:\\x\\y.gcode", "", "y.gcode"),
        ("C:y.gcode", "", "C_y.gcode"),
        ('a<b>c:d"e|f?g*h.gcode', "", "a_b_c_d_e_f_g_h.gcode"),
        (".hidden.gcode", "", "hidden.gcode"),
        ("  spaced.gcode  ", "", "spaced.gcode"),
        ("trailing.gcode.", "", "trailing.gcode"),
        ("CON.gcode", "", "_CON.gcode"),
        ("nul.gcode", "", "_nul.gcode"),
        ("com1.backup.gcode", "", "_com1.backup.gcode"),
        ("lpt9.gcode", "", "_lpt9.gcode"),
        ("CONSOLE.gcode", "", "CONSOLE.gcode"),
        ("Würfel_Ø20mm.gcode", "", "Würfel_Ø20mm.gcode"),
        ("Wu\u0308rfel.gcode", "", "Würfel.gcode"),  # NFD → NFC
        ("猫の置物.gcode", "", "猫の置物.gcode"),
        ("right\u202eedoc.gcode", "", "rightedoc.gcode"),  # bidi override dropped
        ("zero\u200bwidth.gcode", "", "zerowidth.gcode"),
        ("box.gcode", "prints", "prints_box.gcode"),
        ("box.gcode", "prints/pla", "prints_pla_box.gcode"),
        ("box.gcode", "../../etc", "etc_box.gcode"),
        ("box.gcode", "/", "box.gcode"),
        ("box.gcode", "..", "box.gcode"),
        ("box.gcode", "C:\\temp", "C__temp_box.gcode"),
        ("CON.gcode", "x", "x_CON.gcode"),
    ],
)
def test_names_kept_or_made_safe(raw: str, folder: str, expected: str) -> None:
    name = sanitise_filename(raw, folder)
    assert name == expected
    assert sanitise_filename(name) == name  # a stored name is a fixpoint
    assert is_plain_name(name)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("../../etc/passwd", "not a G-code file"),
        ("no_extension", "not a G-code file"),
        ("model.stl", "not a G-code file"),
        ("x.gcode.exe", "not a G-code file"),
        ("x.gcode.txt", "not a G-code file"),
        ("print.bgcode", "binary G-code"),
        (".gcode", "no name before the extension"),
        ("..gcode", "no name before the extension"),
        ("   .gcode", "no name before the extension"),
        ("", "has no name"),
        ("/", "has no name"),
        ("dir/", "has no name"),
        ("a\x00b.gcode", "control character"),
        ("evil.sh\x00.gcode", "control character"),
        ("line\nbreak.gcode", "control character"),
        ("tab\t.gcode", "control character"),
        ("del\x7f.gcode", "control character"),
        ("c1\x85.gcode", "control character"),
        ("surrogate\ud800.gcode", "control character"),
    ],
)
def test_names_refused(raw: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        sanitise_filename(raw)


def test_a_control_character_in_the_folder_is_refused_too() -> None:
    with pytest.raises(Invalid, match="control character"):
        sanitise_filename("box.gcode", "a\x00b")


@pytest.mark.parametrize("stem", ["a" * 1000, "é" * 500, "猫" * 400, "a" * 195 + "." * 20])
def test_very_long_names_are_cut_to_the_limit_keeping_the_extension(stem: str) -> None:
    name = sanitise_filename(stem + ".gcode")
    assert name.endswith(".gcode")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert name[: len(name) - len(".gcode")].strip(".")  # something readable before the extension
    name.encode()  # no half character left by the cut
    assert sanitise_filename(name) == name


def test_a_long_folder_is_cut_with_the_name() -> None:
    name = sanitise_filename("box.gcode", "/".join(["folder"] * 100))
    assert len(name.encode()) <= MAX_NAME_BYTES and name.endswith(".gcode")


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("box.gcode", True),
        ("_CON.gcode", True),
        ("odd name.stl", True),  # stored by another road: still reachable
        ("", False),
        (".upload-123.part", False),
        ("..", False),
        ("a/b.gcode", False),
        ("a\\b.gcode", False),
        ("a\x00.gcode", False),
    ],
)
def test_plain_names_from_urls(name: str, plain: bool) -> None:
    assert is_plain_name(name) is plain
