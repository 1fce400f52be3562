"""Where a job picks up again, worked out from its G-code file alone (pure: reads the file, no printer).

Two cases:

- **The agent crashed, the board did not.** The board executes every line it accepted. It names the
  last one (`Last Line: N`, see `PrinterLink.open(query_line_counter=True)`), and the job's checkpoint
  pairs a wire line number with a file line, so `line_after_counter` finds the first file line the
  board never got. Streaming goes on from there; nothing is repeated, nothing skipped.
- **The board reset or lost power.** Its position, temperatures and fan are gone, and the part is
  still on the bed. `resume_point` finds the start of the layer that was printing, the Z the nozzle
  was at, the extruder position at the layer's start, temperatures and fan; `resume_gcode` reheats,
  homes X and Y only (homing Z would drive the nozzle into the part), sets Z to where it was, lifts,
  travels to the layer's first point, lowers, primes and restores positioning modes. The layer is then
  printed again from its start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from firmware_bridge.gcode_file import command_of, is_layer_marker
from firmware_bridge.protocol.framing import command_word
from firmware_bridge.streamer import MachineState, gcode_args

PRIME_MM = 3.0
LIFT_MM = 2.0


def line_after_counter(
    path: Path,
    *,
    stream_start_line: int,
    checkpoint_file_line: int,
    checkpoint_line_no: int,
    board_line_no: int,
) -> int:
    """The file line to stream from so that the board gets exactly the commands after line `board_line_no`.

    A stream numbers its lines from N0 (`M110 N0`) and gives every command the next number, so the
    command with wire number `n` is the `n - checkpoint_line_no`-th command after the checkpoint's.
    `checkpoint_line_no` -1 means no checkpoint: N0 stands just before `stream_start_line`.
    Raises ValueError when the board is behind the checkpoint (it was reset, not left running)."""
    if checkpoint_line_no < 0:
        checkpoint_line_no, checkpoint_file_line = 0, stream_start_line - 1
    ahead = board_line_no - checkpoint_line_no
    if ahead < 0:
        raise ValueError(
            f"the board's last line N{board_line_no} is before the checkpoint N{checkpoint_line_no}: "
            "it was reset"
        )
    last_index = checkpoint_file_line
    with path.open("rb") as fh:
        for index, raw in enumerate(fh):
            if ahead == 0:
                break
            if index <= checkpoint_file_line:
                continue
            if command_of(raw):
                ahead -= 1
                last_index = index
    if ahead > 0:
        raise ValueError(f"the board's last line N{board_line_no} is past the end of {path.name}")
    return last_index + 1


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where to print again from after a reset, and the machine state to restore first."""

    layer: int  # 0-based; -1 = before the first layer marker (start from the top of the file)
    layer_start_line: int  # file line to stream from
    z_stopped_mm: float  # where the nozzle was when the board lost its state
    z_layer_mm: float  # the height the layer prints at
    first_xy_mm: tuple[float, float] | None  # the layer's first point
    e_at_layer_start_mm: float
    absolute_xyz: bool
    absolute_e: bool
    feed_mm_min: float | None
    fan: int
    targets_c: dict[str, float]


def resume_point(path: Path, last_acked_file_line: int, *, unexecuted_commands: int = 0) -> ResumePoint:
    """Where to print again from when the board lost everything after `last_acked_file_line`.

    An acknowledged command may still have been waiting in the board's buffers (`unexecuted_commands`:
    its command buffer plus planner): the point is taken that many commands earlier, so a layer whose
    tail was buffered is printed again rather than skipped, and Z is that earlier command's Z: a nozzle
    believed lower than it is prints one layer in the air at worst, never into the part."""
    with path.open("rb") as fh:
        lines = fh.readlines()
    limit = min(last_acked_file_line, len(lines) - 1)
    back = unexecuted_commands
    while back > 0 and limit >= 0:
        if command_of(lines[limit]):
            back -= 1
        limit -= 1
    machine = MachineState()
    at_layer_start = MachineState()
    layer = -1
    layer_start_line = 0
    last_targets: dict[str, float] = {}
    z_stopped = 0.0
    for index, raw in enumerate(lines):
        if index > limit:
            break
        if is_layer_marker(raw):
            layer += 1
            layer_start_line = index
            at_layer_start = machine.copy()
            continue
        command = command_of(raw)
        if command:
            machine.track(command)
            last_targets.update({k: v for k, v in machine.targets_c.items() if v > 0})
            z_stopped = machine.z
    if layer < 0:
        at_layer_start = MachineState()
    probe = at_layer_start.copy()
    first_xy: tuple[float, float] | None = None
    z_layer = at_layer_start.z
    for raw in lines[layer_start_line + 1 if layer >= 0 else 0 :]:
        if is_layer_marker(raw):
            break
        command = command_of(raw)
        if not command:
            continue
        probe.track(command)
        if command_word(command) not in ("G0", "G1", "G2", "G3"):
            continue
        args = gcode_args(command)
        if "Z" in args:
            z_layer = probe.z
        if "X" in args or "Y" in args:
            first_xy = (probe.x, probe.y)
            break
    return ResumePoint(
        layer=layer,
        layer_start_line=layer_start_line if layer >= 0 else 0,
        z_stopped_mm=z_stopped,
        z_layer_mm=z_layer,
        first_xy_mm=first_xy,
        e_at_layer_start_mm=at_layer_start.e,
        absolute_xyz=at_layer_start.absolute_xyz,
        absolute_e=at_layer_start.absolute_e,
        feed_mm_min=at_layer_start.feed_mm_min,
        fan=at_layer_start.fan_speed,
        targets_c=last_targets,
    )


def resume_gcode(point: ResumePoint, *, travel_mm_min: float = 6000.0) -> list[str]:
    """The commands that bring a reset board back to the start of `point.layer`."""
    bed = point.targets_c.get("bed")
    tools = sorted((k, v) for k, v in point.targets_c.items() if k.startswith("tool"))
    commands: list[str] = []
    if bed:
        commands.append(f"M140 S{bed:.0f}")
    commands += [f"M104 T{name[4:]} S{target:.0f}" for name, target in tools]
    if bed:
        commands.append(f"M190 S{bed:.0f}")
    commands += [f"M109 T{name[4:]} S{target:.0f}" for name, target in tools]
    if tools:
        commands.append(f"T{tools[0][0][4:]}")
    commands += [
        "G28 X Y",  # never Z: the part is on the bed
        "G90",
        f"G92 Z{point.z_stopped_mm:.3f}",
        f"G1 Z{point.z_stopped_mm + LIFT_MM:.3f} F600",
    ]
    if point.first_xy_mm is not None:
        x, y = point.first_xy_mm
        commands.append(f"G1 X{x:.3f} Y{y:.3f} F{travel_mm_min:.0f}")
    commands.append(f"G1 Z{point.z_layer_mm:.3f} F600")
    commands.append(f"M106 S{point.fan}" if point.fan else "M107")
    commands += ["M83", f"G1 E{PRIME_MM:.2f} F300"]
    commands.append("M82" if point.absolute_e else "M83")
    if point.absolute_e:
        commands.append(f"G92 E{point.e_at_layer_start_mm:.5f}")
    if not point.absolute_xyz:
        commands.append("G91")
    if point.feed_mm_min is not None:
        commands.append(f"G1 F{point.feed_mm_min:.0f}")
    return commands
