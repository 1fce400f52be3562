"""The idle-heaters timer: fires once after ``timeout_s`` of heaters on with no print and no activity."""

from __future__ import annotations

import pytest

from edge_agent.safety.idle import IdleHeaters

IDLE = {"printing": False, "any_target_on": True, "activity": False}
PRINTING = {**IDLE, "printing": True}
ACTIVE = {**IDLE, "activity": True}
OFF = {**IDLE, "any_target_on": False}

Step = tuple[float, dict[str, bool], bool]
"""(time s, flags, expected answer)"""

CASES: dict[str, list[Step]] = {
    "preheated and left alone: fires once at the timeout": [
        (0, IDLE, False),
        (299, IDLE, False),
        (300, IDLE, True),
        (301, IDLE, False),
        (10_000, IDLE, False),
    ],
    "activity re-arms and restarts the clock": [
        (0, IDLE, False),
        (250, ACTIVE, False),
        (400, IDLE, False),
        (549, IDLE, False),
        (550, IDLE, True),
        (600, ACTIVE, False),
        (899, IDLE, False),
        (900, IDLE, True),
    ],
    "never while printing; the clock starts when the print ends": [
        (0, PRINTING, False),
        (3_600, PRINTING, False),
        (3_700, IDLE, False),
        (3_999, IDLE, False),
        (4_000, IDLE, True),
    ],
    "heaters off: nothing to do": [(0, OFF, False), (1_000, OFF, False), (5_000, OFF, False)],
    "heaters switched off then preheated again: a new stretch": [
        (0, IDLE, False),
        (300, IDLE, True),
        (310, OFF, False),
        (400, IDLE, False),
        (699, IDLE, False),
        (700, IDLE, True),
    ],
    "sparse samples fire at the first one past the timeout": [(0, IDLE, False), (1_000, IDLE, True)],
}


@pytest.mark.parametrize("steps", list(CASES.values()), ids=list(CASES))
def test_idle_heaters(steps: list[Step]) -> None:
    idle = IdleHeaters(timeout_s=300)
    assert [idle.observe(t, **flags) for t, flags, _ in steps] == [expected for _, _, expected in steps]


def test_remaining() -> None:
    idle = IdleHeaters(timeout_s=300)
    assert idle.remaining_s(0) is None
    idle.observe(10, **IDLE)
    assert idle.remaining_s(110) == 200
    idle.observe(310, **IDLE)
    assert idle.remaining_s(320) == 0
    idle.observe(330, **OFF)
    assert idle.remaining_s(340) is None


@pytest.mark.parametrize("timeout_s", [0, -1, float("nan")])
def test_timeout_must_be_positive(timeout_s: float) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        IdleHeaters(timeout_s)


def test_default_timeout() -> None:
    assert IdleHeaters().timeout_s == 900
