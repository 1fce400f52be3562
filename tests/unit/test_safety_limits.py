"""Heater target limits: which M104/M109/M140/M190/M141/M191 lines are refused, and what the user reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.safety.limits import GcodeLine, check_file_targets, check_target, parse_line

LIMITS = {"max_tool_c": 275.0, "max_bed_c": 120.0}


@pytest.mark.parametrize(
    "command",
    [
        "M104 S210",
        "M104 S275",  # the limit itself is allowed
        "M109 R200",
        "M104 T1 S250",
        "M104S200",
        "m104 s200",
        "M104 S0",
        "M104",  # no target: nothing changes
        "M104 S",
        "M140 S60",
        "M190 S120",
        "M190 R50 ; wait for the bed to cool",
        "M141 S0",  # switching off a chamber nobody configured is fine
        "N12 M104 S200*87",
        "M104 S200 B250 F1",
        "G1 X300 S999",  # not a heater command
        "M106 S255",
        "M1040 S999",  # not M104
        "",
        "; M104 S999",
        "T1",
    ],
)
def test_allowed(command: str) -> None:
    assert check_target(command, **LIMITS) is None


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "M104 S300",
            "Refused 'M104 S300': 300 °C for the hotend is above this printer's hotend limit of 275 °C.",
        ),
        (
            "M109 T1 S280.5",
            "Refused 'M109 T1 S280.5': 280.5 °C for tool1 is above this printer's hotend limit of 275 °C.",
        ),
        ("M140 S130", "Refused 'M140 S130': 130 °C for the bed is above this printer's bed limit of 120 °C."),
        ("M104 S-5", "Refused 'M104 S-5': -5 °C is not a temperature the hotend can be set to."),
        (
            "M141 S40",
            "Refused 'M141 S40': no chamber temperature limit is configured for this printer, "
            "so the agent does not heat the chamber.",
        ),
    ],
)
def test_refusal_messages(command: str, expected: str) -> None:
    assert check_target(command, **LIMITS) == expected


@pytest.mark.parametrize(
    "command",
    [
        "M104S300",
        "m109 r300",
        "M104 S200 R300",
        "M104 S200 B300 F1",  # AUTOTEMP's maximum is a target too
        "M190 R121",
        "M190 S130 ; hot bed",
        "  N5 M140 S200*33",
        "M0104 S300",
        "M104 S300 (comment)",
        "M104 (S300) S200",  # Marlin's parser would read the first S
        "M104 S1" + "0" * 400,  # overflows to inf
        "M191 S80",
    ],
)
def test_refused(command: str) -> None:
    assert check_target(command, **LIMITS, max_chamber_c=60.0) is not None


def test_chamber_limit() -> None:
    assert check_target("M141 S60", **LIMITS, max_chamber_c=60.0) is None
    assert check_target("M191 S61", **LIMITS, max_chamber_c=60.0) == (
        "Refused 'M191 S61': 61 °C for the chamber is above this printer's chamber limit of 60 °C."
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("m104s200", GcodeLine("M104", (("S", 200.0),), "m104s200")),
        ("N3 G1 X1.5 Y-.5*12", GcodeLine("G1", (("X", 1.5), ("Y", -0.5)), "N3 G1 X1.5 Y-.5*12")),
        ("M104 S ; later", GcodeLine("M104", (("S", None),), "M104 S ; later")),
        (
            "(note) M500",
            GcodeLine("M500", (("N", None), ("O", None), ("T", None), ("E", None)), "(note) M500"),
        ),
        ("; only a comment", None),
        ("hello", None),
        ("", None),
    ],
)
def test_parse_line(line: str, expected: GcodeLine | None) -> None:
    assert parse_line(line) == expected


def test_a_file_with_a_target_over_the_limit_is_found_with_its_line(tmp_path: Path) -> None:
    good = tmp_path / "good.gcode"
    good.write_text("; M104 S999 in a comment is fine\nM140 S60\nM104 S210\nG1 X1\nM104 S0\n")
    assert check_file_targets(good, max_tool_c=275, max_bed_c=120) is None
    bad = tmp_path / "bad.gcode"
    bad.write_text("M140 S60\nG1 X1\nm109 s300 ; too hot\n")
    refusal = check_file_targets(bad, max_tool_c=275, max_bed_c=120)
    assert refusal is not None and refusal.startswith("line 3:") and "300" in refusal
