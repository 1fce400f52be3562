"""The serial wire between host and board: bytes take time to cross it, replies arrive late, bits flip.

Everything is computed from absolute timestamps (``free_at = max(free_at, now) + nbytes * byte_time``), so a
late event loop delivers late but never accumulates lateness, and nothing sleeps per byte.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

_EPS = 1e-9


@dataclass(slots=True)
class _Segment:
    start_s: float
    """When ``data[0]`` starts onto the wire; byte i has arrived at start + (i+1) * byte time."""
    data: bytes
    offset: int = 0
    """Bytes already handed to the board."""


class InboundWire:
    """Host → board. Bytes written by the host queue on the wire and arrive one byte time apart."""

    def __init__(self, byte_time_s: float) -> None:
        self._byte_time_s = byte_time_s
        self._segments: deque[_Segment] = deque()
        self._free_at_s = -math.inf

    def push(self, data: bytes, now_s: float) -> None:
        if not data:
            return
        start_s = max(self._free_at_s, now_s)
        self._segments.append(_Segment(start_s, data))
        self._free_at_s = start_s + len(data) * self._byte_time_s

    def clear(self) -> None:
        self._segments.clear()

    @property
    def pending_bytes(self) -> int:
        return sum(len(s.data) - s.offset for s in self._segments)

    def next_arrival_s(self) -> float:
        """When the next not-yet-delivered byte has arrived (inf when the wire is empty)."""
        if not self._segments:
            return math.inf
        head = self._segments[0]
        return head.start_s + (head.offset + 1) * self._byte_time_s

    def next_line_arrival_s(self) -> float:
        """When the next newline (or, lacking one, the last byte on the wire) has arrived."""
        for segment in self._segments:
            index = segment.data.find(b"\n", segment.offset)
            if index >= 0:
                return segment.start_s + (index + 1) * self._byte_time_s
        if not self._segments:
            return math.inf
        last = self._segments[-1]
        return last.start_s + len(last.data) * self._byte_time_s

    def take(self, until_s: float) -> tuple[bytes, float]:
        """Bytes arrived by ``until_s`` (at most through the first newline) and when the last one arrived.

        Call only when ``next_arrival_s() <= until_s``; at least one byte is returned then.
        """
        head = self._segments[0]
        if self._byte_time_s > 0.0:
            arrived = int((until_s - head.start_s) / self._byte_time_s + _EPS)
        else:
            arrived = len(head.data)
        end = min(len(head.data), max(arrived, head.offset + 1))
        newline = head.data.find(b"\n", head.offset, end)
        if newline >= 0:
            end = newline + 1
        chunk = head.data[head.offset : end]
        head.offset = end
        if end >= len(head.data):
            self._segments.popleft()
        return chunk, head.start_s + end * self._byte_time_s


class OutboundWire:
    """Board → host. Each reply line leaves after the previous one, then waits out the USB latency."""

    def __init__(self, byte_time_s: float, delay_s: float) -> None:
        self._byte_time_s = byte_time_s
        self._delay_s = delay_s
        self._free_at_s = -math.inf

    def schedule(self, nbytes: int, emitted_s: float) -> float:
        """Absolute time at which a line of ``nbytes`` emitted at ``emitted_s`` reaches the host."""
        start_s = max(self._free_at_s, emitted_s)
        self._free_at_s = start_s + nbytes * self._byte_time_s
        return self._free_at_s + self._delay_s

    def clear(self) -> None:
        self._free_at_s = -math.inf


def flip_random_bit(line: bytes, rng: random.Random) -> bytes:
    """``line`` with one random bit of one random byte (the newline included) inverted."""
    index = rng.randrange(len(line))
    damaged = bytearray(line)
    damaged[index] ^= 1 << rng.randrange(8)
    return bytes(damaged)


class LineCorruptor:
    """Flips one bit in a line with probability ``ratio``; deterministic for a given ``rng``.

    ``feed`` works on a byte stream: a partial line is held back until its newline is written (hosts
    write whole lines), so the chosen byte can be anywhere in the line, newline included.
    """

    def __init__(self, ratio: float, rng: random.Random) -> None:
        self._ratio = ratio
        self._rng = rng
        self._partial = b""
        self.corrupted = 0

    def line(self, line: bytes) -> bytes:
        if self._ratio <= 0.0 or not line or self._rng.random() >= self._ratio:
            return line
        self.corrupted += 1
        return flip_random_bit(line, self._rng)

    def feed(self, data: bytes) -> bytes:
        if self._ratio <= 0.0:
            return data
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        if cut == 0:
            return b""
        lines = data[:cut].split(b"\n")[:-1]
        return b"".join(self.line(line + b"\n") for line in lines)

    def clear(self) -> None:
        self._partial = b""
