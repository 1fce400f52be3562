"""Flap suppression (pure): a printer that keeps going offline is one notification, then a summary.

The first ``offline`` of a printer opens a window of ``window_s`` and is notified at once. Every
further ``offline`` inside that window is only counted. When the window has passed, ``due(now)``
returns a summary for each printer that went offline more than once in it ("went offline 5 times in
10 min") and closes the window; the next ``offline`` opens a new one. So N offline/online cycles
within a window make at most two notifications. Times are seconds on any clock that only goes forward.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FlapSummary:
    printer_id: str
    times: int
    """Offlines in the window, the notified first one included."""
    window_s: float


@dataclass(slots=True)
class _Window:
    opened_at: float
    times: int = 1


class FlapSuppressor:
    def __init__(self, window_s: float) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = window_s
        self._windows: dict[str, _Window] = {}

    def offline(self, printer_id: str, now: float) -> bool:
        """Record an offline; True when it should be notified now (the first of a window)."""
        window = self._windows.get(printer_id)
        if window is not None and now - window.opened_at < self.window_s:
            window.times += 1
            return False
        self._windows[printer_id] = _Window(opened_at=now)
        return True

    def due(self, now: float) -> list[FlapSummary]:
        """Close the windows that have passed; a summary for each that saw more than one offline."""
        summaries = []
        for printer_id, window in list(self._windows.items()):
            if now - window.opened_at >= self.window_s:
                del self._windows[printer_id]
                if window.times > 1:
                    summaries.append(FlapSummary(printer_id, window.times, self.window_s))
        return sorted(summaries, key=lambda s: s.printer_id)

    def suppressed(self, printer_id: str) -> int:
        """Offlines of ``printer_id`` counted but not notified in its open window."""
        window = self._windows.get(printer_id)
        return window.times - 1 if window is not None else 0
