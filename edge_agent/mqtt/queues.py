"""The link's two queues that outlive a connection.

``Outgoing``: messages waiting to be sent in order (acks, tele), bounded by dropping the oldest
(counted). The head leaves the queue only after its send returned, so an ack whose PUBACK never
came is sent again on the next connection.

``CommandInbox``: inbound command messages, handed one at a time, in arrival order, to the
command handler by a worker that lives across connections (a disconnect never interrupts a
handler half-way). A handler's exception is logged and counted, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, NoReturn, TypeVar

from prometheus_client import Counter

from edge_agent.mqtt.connection import raise_if_cancelled

log = logging.getLogger(__name__)

T = TypeVar("T")

CommandHandler = Callable[[str, bytes], Awaitable[None]]
"""``await on_command(topic, payload)``: raw, undecoded; decoding is the handler's job."""


class Outgoing(Generic[T]):
    """A bounded FIFO of messages to send; the oldest is dropped (and counted) when full."""

    def __init__(self, limit: int, dropped: Counter) -> None:
        if limit < 1:
            raise ValueError(f"an outgoing queue needs room for at least one message, got {limit}")
        self._items: deque[T] = deque()
        self._limit = limit
        self._dropped = dropped
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> T | None:
        """Append ``item``; returns the oldest message if it had to be dropped to make room."""
        dropped = None
        if len(self._items) >= self._limit:
            dropped = self._items.popleft()
            self._dropped.inc()
        self._items.append(item)
        self._wake.set()
        return dropped

    def drop_all(self) -> None:
        """Forget every waiting message (counted as dropped)."""
        if self._items:
            self._dropped.inc(len(self._items))
            self._items.clear()

    async def send_forever(self, send: Callable[[T], Awaitable[None]]) -> NoReturn:
        """Send messages in order as they come; an exception from ``send`` keeps the head queued."""
        while True:
            if not self._items:
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._items[0]
            await send(item)
            if self._items and self._items[0] is item:  # unless dropped from a full queue meanwhile
                self._items.popleft()


class CommandInbox:
    """Inbound commands, handled one at a time in arrival order."""

    def __init__(self, handler: CommandHandler, errors: Counter, *, limit: int, name: str) -> None:
        self._handler = handler
        self._errors = errors
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=limit)
        self._name = name

    async def put(self, topic: str, payload: bytes) -> None:
        """Queue a command; waits (holding up the receive loop) while the inbox is full."""
        await self._queue.put((topic, payload))

    async def handle_forever(self) -> NoReturn:
        while True:
            topic, payload = await self._queue.get()
            try:
                await self._handler(topic, payload)
            except Exception:
                self._errors.inc()
                log.exception("mqtt[%s]: the command handler failed on %s", self._name, topic)
            raise_if_cancelled()  # a handler on Python 3.11 may have swallowed our cancellation
