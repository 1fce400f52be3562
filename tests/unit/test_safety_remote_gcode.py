"""Remote G-code: the deny-list, its per-printer overrides, heater limits, and one message per refused line."""

from __future__ import annotations

import pytest

from edge_agent.safety.remote_gcode import DENIED, check_remote_gcode


def check(
    lines: list[str], allowed: frozenset[str] = frozenset(), max_chamber_c: float | None = None
) -> list[str]:
    """``check_remote_gcode`` for a printer limited to 275 °C (hotend) and 120 °C (bed)."""
    return check_remote_gcode(
        lines, allowed=allowed, max_tool_c=275.0, max_bed_c=120.0, max_chamber_c=max_chamber_c
    )


@pytest.mark.parametrize(
    "lines",
    [
        [],
        ["G28", "G1 X10 Y10 F3000", "M104 S210", "M140 S60", "M106 S255", "M112", "M117 hello"],
        ["", "; a comment", "M105", "M114", "T1", "M109 T1 S250"],
        ["G1 X1\n"],  # one trailing newline is just the end of the line
        ["M115", "M503"],  # reading settings is fine
    ],
)
def test_allowed(lines: list[str]) -> None:
    assert check(lines) == []


@pytest.mark.parametrize("word", sorted(DENIED))
def test_every_denied_word_is_refused_and_can_be_allowed(word: str) -> None:
    (message,) = check([f"{word} S0"])
    assert message.startswith(f"Refused '{word} S0': {word} {DENIED[word]}")
    assert check([f"{word} S0"], allowed=frozenset({word.lower()})) == []


@pytest.mark.parametrize(
    "line",
    ["m500", "M500 ; save", "N7 M500*35", "M0500", "  M 500", "M500.1", "(x) M997", "M997S1"],
)
def test_spellings_of_denied_words_are_refused(line: str) -> None:
    assert len(check([line])) == 1


def test_one_message_per_refused_line_in_order() -> None:
    lines = ["G28", "M500", "M104 S300", "G1 X1", "M303 E0 S200 C8", "M140 S60"]
    assert check(lines) == [
        "Refused 'M500': M500 saves the running settings to EEPROM, which is not allowed from a remote "
        "console on this printer.",
        "Refused 'M104 S300': 300 °C for the hotend is above this printer's hotend limit of 275 °C.",
        "Refused 'M303 E0 S200 C8': M303 runs a PID autotune, heating unattended, which is not allowed "
        "from a remote console on this printer.",
    ]


def test_allowed_words_do_not_lift_heater_limits() -> None:
    allowed = frozenset({"M104", "M303"})
    assert check(["M104 S300"], allowed=allowed) != []
    assert check(["M303 E0 S200"], allowed=allowed) == []


def test_chamber_limit_passes_through() -> None:
    assert check(["M141 S40"]) != []
    assert check(["M141 S40"], max_chamber_c=60.0) == []


@pytest.mark.parametrize("line", ["G1 X1\nM500", "M104 S200\rM104 S300", "G28\n\nM112"])
def test_a_line_holding_a_line_break_is_refused(line: str) -> None:
    (message,) = check([line])
    assert "one command per line" in message


def test_deny_list_covers_the_firmware_altering_commands() -> None:
    must = {"M500", "M501", "M502", "M504", "M997", "M28", "M29", "M30", "M540", "M906", "M913", "M303"}
    assert must <= set(DENIED)
    assert "M112" not in DENIED and "M104" not in DENIED
