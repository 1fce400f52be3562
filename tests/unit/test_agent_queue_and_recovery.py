"""The queue's rules and the recovery arithmetic, pure: tables of cases, no I/O but a tmp file."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.jobs import StartPolicy
from edge_agent.control import JobState
from edge_agent.errors import Conflict
from edge_agent.queue import JobRecord, check_transition, expired, front_position, pick_next, position_before
from edge_agent.recovery import line_after_counter, resume_gcode, resume_point


def job(
    job_id: str, state: JobState = JobState.QUEUED, priority: int = 0, position: float = 0.0, **kw: object
) -> JobRecord:
    return JobRecord(
        job_id=job_id,
        revision=1,
        filename=f"{job_id}.gcode",
        file_path=Path(f"/x/{job_id}.gcode"),
        sha256="0" * 64,
        size_bytes=100,
        state=state,
        priority=priority,
        position=position,
        source="api",
        created_ms=0,
        updated_ms=0,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (JobState.QUEUED, JobState.PRINTING, True),
        (JobState.QUEUED, JobState.COMPLETED, False),
        (JobState.PRINTING, JobState.PAUSED, True),
        (JobState.PAUSED, JobState.PRINTING, True),
        (JobState.PRINTING, JobState.INTERRUPTED, True),
        (JobState.INTERRUPTED, JobState.PRINTING, True),
        (JobState.COMPLETED, JobState.PRINTING, False),
        (JobState.CANCELLED, JobState.QUEUED, False),
        (JobState.FAILED, JobState.PRINTING, False),
    ],
)
def test_lifecycle_transitions(current: JobState, new: JobState, allowed: bool) -> None:
    if allowed:
        check_transition("j", current, new)
    else:
        with pytest.raises(Conflict, match=f"is {current.value}"):
            check_transition("j", current, new)


def test_the_next_job_starts_only_when_connected_unpaused_and_the_bed_is_clear() -> None:
    jobs = [job("low", priority=0, position=0), job("high", priority=5, position=9), job("late", position=1)]
    ready = {"bed_clear": True, "queue_paused": False, "printer_ready": True, "now_ms": 0}
    assert pick_next(jobs, **ready).job is not None
    assert pick_next(jobs, **ready).job.job_id == "high"  # type: ignore[union-attr]
    for flag, value, reason in (
        ("bed_clear", False, "bed"),
        ("queue_paused", True, "paused"),
        ("printer_ready", False, "not ready"),
    ):
        decision = pick_next(jobs, **{**ready, flag: value})  # type: ignore[arg-type]
        assert decision.job is None and reason in decision.reason
    busy = [*jobs, job("on", JobState.PRINTING)]
    assert pick_next(busy, **ready).job is None  # type: ignore[arg-type]
    manual = [job("m", start_policy=StartPolicy.MANUAL)]
    assert pick_next(manual, **ready).job is None  # type: ignore[arg-type]


def test_expired_jobs_and_positions() -> None:
    jobs = [job("a", position=0), job("b", position=1), job("c", position=2, not_after_ms=10)]
    assert [j.job_id for j in expired(jobs, 11)] == ["c"]
    assert expired(jobs, 10) == []
    assert position_before(jobs, "b", 0) == 0.5
    assert position_before(jobs, "a", 0) < 0
    assert position_before(jobs, None, 0) == 3
    assert front_position(jobs) < 0
    with pytest.raises(Conflict):
        position_before(jobs, "missing", 0)


GCODE = """; header
M140 S60
M104 S210
G28
G90
M82
G92 E0
;LAYER:0
G1 Z0.2 F600
G1 X10 Y10 E1
G1 X20 Y10 E2
;LAYER:1
G1 Z0.4
G1 X20 Y20 E3
M106 S200
G1 X10 Y20 E4
;LAYER:2
G1 Z0.6
G1 X10 Y10 E5
G1 X20 Y10 E6
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "s.gcode"
    path.write_text(GCODE)
    return path


def test_the_board_line_counter_maps_to_the_next_file_line(sample: Path) -> None:
    lines = GCODE.splitlines()
    # N0 = M110 before line 0; N1 = line 1 (M140) ... each command takes the next number
    assert (
        line_after_counter(
            sample, stream_start_line=0, checkpoint_file_line=-1, checkpoint_line_no=-1, board_line_no=0
        )
        == 0
    )
    nxt = line_after_counter(
        sample, stream_start_line=0, checkpoint_file_line=-1, checkpoint_line_no=-1, board_line_no=3
    )
    assert lines[nxt - 1] == "G28" and lines[nxt] == "G90"
    # from a checkpoint: N8 was file line 9 (G1 X10 Y10 E1); N9 and N10 ran (the marker takes no number)
    nxt = line_after_counter(
        sample, stream_start_line=0, checkpoint_file_line=9, checkpoint_line_no=8, board_line_no=10
    )
    assert lines[nxt - 1] == "G1 Z0.4" and lines[nxt] == "G1 X20 Y20 E3"
    with pytest.raises(ValueError, match="reset"):
        line_after_counter(
            sample, stream_start_line=0, checkpoint_file_line=9, checkpoint_line_no=8, board_line_no=2
        )
    with pytest.raises(ValueError, match="past the end"):
        line_after_counter(
            sample, stream_start_line=0, checkpoint_file_line=9, checkpoint_line_no=8, board_line_no=99
        )


def test_resume_point_is_the_start_of_the_layer_with_its_state(sample: Path) -> None:
    lines = GCODE.splitlines()
    at = lines.index("G1 X10 Y20 E4")
    point = resume_point(sample, at)
    assert point.layer == 1 and lines[point.layer_start_line] == ";LAYER:1"
    assert point.z_stopped_mm == pytest.approx(0.4) and point.z_layer_mm == pytest.approx(0.4)
    assert point.e_at_layer_start_mm == pytest.approx(2.0)
    assert point.first_xy_mm == (20.0, 20.0)
    assert point.targets_c == {"bed": 60.0, "tool0": 210.0}
    assert point.fan == 0  # the fan came on inside layer 1, after its start
    commands = resume_gcode(point)
    assert commands.index("M190 S60") < commands.index("M109 T0 S210") < commands.index("G28 X Y")
    assert "G28" not in commands and "G28 Z" not in " ".join(commands)
    assert "G92 Z0.400" in commands and "G92 E2.00000" in commands


def test_a_buffered_layer_change_is_printed_again_not_skipped(sample: Path) -> None:
    lines = GCODE.splitlines()
    at = lines.index("G1 Z0.6")  # acked, but two commands may still sit in the board's buffer
    point = resume_point(sample, at, unexecuted_commands=2)
    assert point.layer == 1, "the tail of layer 1 may not have run: print layer 1 again"
    assert point.z_stopped_mm == pytest.approx(0.4), "believe the lower Z: never drive into the part"


@pytest.mark.parametrize(
    ("est_print_s", "acked", "duration_s", "left_s"),
    [
        (600.0, 25, 30.0, 450.0),  # the slicer's estimate, scaled by what is left
        (None, 25, 30.0, 90.0),  # no estimate: extrapolated from the time so far
        (0.0, 25, 30.0, 90.0),  # an upload without an estimate says 0: unknown, not "done"
        (0.0, 1, 30.0, None),  # too early to extrapolate
        (None, 50, 0.0, None),
    ],
)
def test_time_left_uses_the_estimate_or_the_pace_so_far(
    est_print_s: float | None, acked: int, duration_s: float, left_s: float | None
) -> None:
    record = job(
        "a", JobState.PRINTING, est_print_s=est_print_s, bytes_acked=acked, print_duration_s=duration_s
    )
    assert record.view().time_left_s == (pytest.approx(left_s) if left_s is not None else None)
