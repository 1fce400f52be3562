"""Where the toolhead is, how coordinates are read (G90/G91, M82/M83, G20/G21), and the planner queue.

The planner holds block end times only: a block starts when the previous one ends (or now) and takes
distance / feedrate x ``move_time_scale`` seconds. With scale 0 moves finish the moment they are planned.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

AXES = ("X", "Y", "Z", "E")
STEPS_PER_MM = {"X": 80.0, "Y": 80.0, "Z": 400.0, "E": 93.0}
DEFAULT_FEED_MM_MIN = 1500.0
INCH_MM = 25.4

Params = dict[str, float | None]


class Planner:
    """Marlin's block ring, reduced to when each queued block finishes."""

    def __init__(self, blocks: int) -> None:
        self.capacity = blocks
        self._ends_s: deque[float] = deque()

    def prune(self, now_s: float) -> None:
        ends = self._ends_s
        while ends and ends[0] <= now_s:
            ends.popleft()

    def free(self, now_s: float) -> int:
        self.prune(now_s)
        return self.capacity - len(self._ends_s)

    def next_free_s(self) -> float:
        """When the oldest queued block finishes (inf when empty)."""
        return self._ends_s[0] if self._ends_s else math.inf

    def drained_s(self, now_s: float) -> float:
        """When the last queued block finishes (``now_s`` when empty)."""
        return max(now_s, self._ends_s[-1]) if self._ends_s else now_s

    def add(self, duration_s: float, now_s: float) -> None:
        """Queue a block; the caller has checked ``free(now_s) > 0``."""
        if duration_s <= 0.0 and not self._ends_s:
            return
        self._ends_s.append(self.drained_s(now_s) + max(0.0, duration_s))

    def clear(self) -> None:
        self._ends_s.clear()

    def __len__(self) -> int:
        return len(self._ends_s)


@dataclass(slots=True)
class Motion:
    """Planned position (what M114 reports) and the modes that interpret coordinates."""

    position: dict[str, float] = field(default_factory=lambda: dict.fromkeys(AXES, 0.0))
    absolute_xyz: bool = True
    absolute_e: bool = True
    inches: bool = False
    feed_mm_min: float = DEFAULT_FEED_MM_MIN
    feed_pct: float = 100.0
    flow_pct: float = 100.0

    def _mm(self, value: float) -> float:
        return value * INCH_MM if self.inches else value

    def move(self, params: Params, arc: int = 0) -> float:
        """Apply a G0/G1 (arc=0) or G2/G3 (arc=2/3) and return its duration at scale 1, in seconds."""
        feed = params.get("F")
        if feed is not None and feed > 0.0:
            self.feed_mm_min = self._mm(feed)
        start = dict(self.position)
        for axis in AXES:
            value = params.get(axis)
            if value is None:
                continue
            absolute = self.absolute_e if axis == "E" else self.absolute_xyz
            self.position[axis] = self._mm(value) if absolute else start[axis] + self._mm(value)
        dx, dy, dz = (self.position[a] - start[a] for a in "XYZ")
        if arc:
            length = self._arc_length(start, params, clockwise=arc == 2)
            distance = math.hypot(length, dz)
        else:
            distance = math.sqrt(dx * dx + dy * dy + dz * dz)
        if distance == 0.0:
            distance = abs(self.position["E"] - start["E"])
        speed_mm_s = self.feed_mm_min / 60.0 * self.feed_pct / 100.0
        return distance / speed_mm_s if speed_mm_s > 0 else 0.0

    def _arc_length(self, start: dict[str, float], params: Params, clockwise: bool) -> float:
        i, j = (self._mm(params.get(k) or 0.0) for k in "IJ")
        radius = math.hypot(i, j)
        if radius == 0.0:
            return math.hypot(self.position["X"] - start["X"], self.position["Y"] - start["Y"])
        cx, cy = start["X"] + i, start["Y"] + j
        a0 = math.atan2(start["Y"] - cy, start["X"] - cx)
        a1 = math.atan2(self.position["Y"] - cy, self.position["X"] - cx)
        sweep = (a0 - a1) if clockwise else (a1 - a0)
        sweep %= 2 * math.pi
        if sweep == 0.0:
            sweep = 2 * math.pi
        return radius * sweep

    def set_position(self, params: Params) -> None:
        """G92: named axes to the given values, no axes = all to zero."""
        named = {a: v for a, v in params.items() if a in AXES}
        if not named:
            self.position = dict.fromkeys(AXES, 0.0)
            return
        for axis, value in named.items():
            self.position[axis] = self._mm(value or 0.0)

    def home(self, params: Params) -> None:
        axes = [a for a in "XYZ" if a in params] or ["X", "Y", "Z"]
        for axis in axes:
            self.position[axis] = 0.0

    def report(self) -> str:
        """M114: ``X:10.00 Y:20.00 Z:0.30 E:5.00 Count X:800 Y:1600 Z:120``."""
        p = self.position
        counts = " ".join(f"{a}:{round(p[a] * STEPS_PER_MM[a])}" for a in "XYZ")
        return f"X:{p['X']:.2f} Y:{p['Y']:.2f} Z:{p['Z']:.2f} E:{p['E']:.2f} Count {counts}"

    def as_dict(self) -> dict[str, float]:
        return {axis.lower(): round(value, 4) for axis, value in self.position.items()}
