"""Batches of decoded messages, and the bounded hand-off between the MQTT reader and the writer.

A ``Batch`` already folds what one transaction would otherwise do twice: of several snapshots of one
printer only the newest ``seq`` is kept, an event / ack / telemetry sample seen twice is kept once,
and the last presence of a printer wins. The ``Batcher`` closes a batch when it holds
``max_items`` messages or is ``max_delay_s`` old, and queues at most ``max_batches`` closed batches:
when the writer falls behind, ``add`` waits (back-pressure on the reader) instead of letting memory
grow, and each wait is counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cloud.fleet.decoding import AckItem, EventItem, Item, PresenceItem, StateItem, TeleItem


@dataclass(slots=True)
class Batch:
    """What one transaction writes. ``messages`` counts every message added, by kind."""

    states: dict[str, StateItem] = field(default_factory=dict)
    presence: dict[str, PresenceItem] = field(default_factory=dict)
    events: dict[str, EventItem] = field(default_factory=dict)
    acks: dict[tuple[str, str], AckItem] = field(default_factory=dict)
    tele: dict[tuple[str, int], TeleItem] = field(default_factory=dict)
    messages: Counter[str] = field(default_factory=Counter)
    size: int = 0
    opened_at: float = field(default_factory=time.monotonic)

    def add(self, item: Item) -> None:
        if not self.size:
            self.opened_at = time.monotonic()
        self.size += 1
        if isinstance(item, TeleItem):
            self.tele[(item.pid, item.tele.ts)] = item
            self.messages["tele"] += 1
        elif isinstance(item, StateItem):
            current = self.states.get(item.pid)
            if current is None or item.state.seq > current.state.seq:
                self.states[item.pid] = item
            self.messages["state"] += 1
        elif isinstance(item, EventItem):
            self.events.setdefault(item.event.event_id, item)
            self.messages["evt"] += 1
        elif isinstance(item, AckItem):
            self.acks.setdefault((item.ack.cmd_id, item.ack.status.value), item)
            self.messages["ack"] += 1
        else:
            self.presence[item.pid] = item
            self.messages["status"] += 1

    def items(self) -> list[Item]:
        """Every distinct item, states before presence (the order the writer applies them)."""
        return [
            *self.states.values(),
            *self.presence.values(),
            *self.events.values(),
            *self.acks.values(),
            *self.tele.values(),
        ]

    def __len__(self) -> int:
        return self.size


class Batcher:
    """Collects items into batches and hands closed batches to the writer through a bounded queue."""

    def __init__(
        self,
        *,
        max_items: int,
        max_delay_s: float,
        max_batches: int,
        on_wait: Callable[[], None] = lambda: None,
    ) -> None:
        self.max_items = max_items
        self.max_delay_s = max_delay_s
        self._queue: asyncio.Queue[Batch] = asyncio.Queue(maxsize=max_batches)
        self._current = Batch()
        self._on_wait = on_wait

    @property
    def pending_batches(self) -> int:
        return self._queue.qsize()

    def add_nowait(self, item: Item) -> bool:
        """Add ``item``; True when the batch is full and ``hand_off`` must be awaited now."""
        self._current.add(item)
        return self._current.size >= self.max_items

    async def add(self, item: Item) -> None:
        if self.add_nowait(item):
            await self.hand_off()

    async def hand_off(self) -> None:
        """Close the current batch (if not empty) and queue it; waits while the queue is full."""
        if not self._current.size:
            return
        batch, self._current = self._current, Batch()
        if self._queue.full():
            self._on_wait()
        await self._queue.put(batch)

    async def get(self) -> Batch:
        """The next closed batch (for the writer)."""
        return await self._queue.get()

    async def run_timer(self) -> None:
        """Close the current batch once it is ``max_delay_s`` old; runs until cancelled."""
        while True:
            age_s = time.monotonic() - self._current.opened_at
            if self._current.size and age_s >= self.max_delay_s:
                await self.hand_off()
                await asyncio.sleep(self.max_delay_s)
            elif self._current.size:
                await asyncio.sleep(self.max_delay_s - age_s)
            else:
                await asyncio.sleep(self.max_delay_s)
