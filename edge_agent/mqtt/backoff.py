"""Jittered exponential backoff for reconnecting: pure arithmetic, no sleeping.

Attempt ``n`` (0-based) waits a uniformly random time in ``[cap_n / 2, cap_n]`` where
``cap_n = min(max_s, initial_s * multiplier ** n * 2)``: the first retry waits 0.5 to 1 s, later
ones grow to 15 to 30 s. Half the wait is random so that a fleet of printers that lost the same
broker does not reconnect in lockstep ("equal jitter").
"""

from __future__ import annotations

import random
from typing import Final

DEFAULT_INITIAL_S: Final = 0.5
DEFAULT_MAX_S: Final = 30.0


class Backoff:
    """The delays between reconnect attempts; ``reset()`` after a successful connect."""

    def __init__(
        self,
        *,
        initial_s: float = DEFAULT_INITIAL_S,
        max_s: float = DEFAULT_MAX_S,
        multiplier: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if initial_s <= 0 or max_s < initial_s or multiplier < 1:
            raise ValueError(
                f"backoff needs 0 < initial_s <= max_s and multiplier >= 1, "
                f"got initial_s={initial_s}, max_s={max_s}, multiplier={multiplier}"
            )
        self.initial_s = initial_s
        self.max_s = max_s
        self.multiplier = multiplier
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last ``reset()``."""
        return self._attempt

    def cap_s(self, attempt: int) -> float:
        """The longest wait before retry number ``attempt`` (0-based)."""
        # Stop growing the exponent once it is past the cap, so it never overflows.
        exponent = min(attempt, 64)
        return min(self.max_s, self.initial_s * 2 * self.multiplier**exponent)

    def next_delay_s(self) -> float:
        """The wait before the next attempt, in seconds, within ``[initial_s, max_s]``."""
        cap = self.cap_s(self._attempt)
        self._attempt += 1
        return max(self.initial_s, min(self.max_s, self._rng.uniform(cap / 2, cap)))

    def reset(self) -> None:
        """Start again from the shortest delay (call once connected)."""
        self._attempt = 0
