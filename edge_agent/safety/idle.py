"""Heaters left on with nothing happening: a timer that says when to switch them off.

A preheated printer nobody uses wastes power, cooks filament in the nozzle and is a fire risk the longer
it runs unattended. ``IdleHeaters`` is told, at each sample, whether a print runs, whether any heater has
a target and whether anything happened (a command from the user, a job queued, a button pressed); it
answers True once when the heaters have been on for ``timeout_s`` with no print and no activity — the
caller then switches them off. Pure: times are seconds on any monotonic clock, passed in.
"""

from __future__ import annotations

DEFAULT_IDLE_TIMEOUT_S = 15 * 60.0


class IdleHeaters:
    """Fires once per idle stretch; activity, a print or every heater going off re-arms it."""

    def __init__(self, timeout_s: float = DEFAULT_IDLE_TIMEOUT_S) -> None:
        if not timeout_s > 0:
            raise ValueError("timeout_s must be > 0")
        self.timeout_s = timeout_s
        self._since_s: float | None = None
        self._fired = False

    def observe(self, now_s: float, *, printing: bool, any_target_on: bool, activity: bool) -> bool:
        """True exactly once when heaters have been on, idle, for ``timeout_s`` up to ``now_s``.

        The idle stretch starts at the first sample with a target on and no print, or at the last
        activity, whichever is later. A print or every heater off ends it (and re-arms the timer).
        """
        if printing or not any_target_on:
            self._since_s = None
            self._fired = False
            return False
        if activity:
            self._since_s = now_s
            self._fired = False
            return False
        if self._since_s is None:
            self._since_s = now_s
        if self._fired or now_s - self._since_s < self.timeout_s:
            return False
        self._fired = True
        return True

    def remaining_s(self, now_s: float) -> float | None:
        """Seconds until the heaters count as idle (0 once fired); None when no idle stretch runs."""
        if self._since_s is None:
            return None
        if self._fired:
            return 0.0
        return max(0.0, self.timeout_s - (now_s - self._since_s))
