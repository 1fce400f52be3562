"""The fleet summary per organisation, kept for `fleet.summary_cache_s` (1 s by default).

A wall of dashboards asks for the same counts many times a second; one query a second answers them
all, and concurrent misses share that one query instead of each running it. Staleness is bounded by
the TTL; the live feed (`/api/fleet/stream`) is the real-time channel. One cache per app (replica).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from cloud.fleet.schemas import FleetSummary


class SummaryCache:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, FleetSummary]] = {}
        self._pending: dict[str, asyncio.Future[FleetSummary]] = {}

    async def get(self, org_id: str, compute: Callable[[], Awaitable[FleetSummary]]) -> FleetSummary:
        if self.ttl_s <= 0:
            return await compute()
        entry = self._entries.get(org_id)
        if entry is not None and self._clock() - entry[0] < self.ttl_s:
            return entry[1]
        pending = self._pending.get(org_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[FleetSummary] = asyncio.get_running_loop().create_future()
        self._pending[org_id] = future
        try:
            summary = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody warns about it
            raise
        else:
            self._entries[org_id] = (self._clock(), summary)
            future.set_result(summary)
            return summary
        finally:
            del self._pending[org_id]
