"""Which printer ids are enrolled: an in-memory set the ingest checks every message against.

Refreshed from the ``printers`` table every ``refresh_s`` (so a removed printer stops being ingested).
A message from a pid the set does not hold makes one look-up of that pid (so a printer enrolled a
moment ago is ingested from its first message); a pid found missing is not looked up again for
``miss_ttl_s`` (so a device that is not enrolled costs at most one query per ``miss_ttl_s``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Container
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from cloud.db import Database
from cloud.printers.models import Printer

log = logging.getLogger(__name__)


class EnrolledPrinters(Container[str]):
    MAX_MISSES: Final = 10_000

    def __init__(self, database: Database, *, refresh_s: float, miss_ttl_s: float = 1.0) -> None:
        self.database = database
        self.refresh_s = refresh_s
        self.miss_ttl_s = miss_ttl_s
        self._pids: set[str] = set()
        self._misses: dict[str, float] = {}
        self._refreshed_at = float("-inf")

    def __contains__(self, pid: object) -> bool:
        return pid in self._pids

    def __len__(self) -> int:
        return len(self._pids)

    async def refresh(self) -> None:
        async with self.database.session() as session:
            pids = (await session.execute(select(Printer.pid))).scalars().all()
        self._pids = set(pids)
        self._misses.clear()
        self._refreshed_at = time.monotonic()

    async def look_up(self, pid: str) -> bool:
        """Whether ``pid`` is enrolled, asking the database unless it was found missing just now.

        A miss reloads the whole set when the last reload is ``miss_ttl_s`` old (many new printers at
        once cost one query), and otherwise looks up this pid alone.
        """
        if pid in self._pids:
            return True
        now = time.monotonic()
        if self._misses.get(pid, float("-inf")) > now:
            return False
        if now - self._refreshed_at >= self.miss_ttl_s:
            await self.refresh()
        else:
            async with self.database.session() as session:
                found = (await session.execute(select(Printer.pid).where(Printer.pid == pid))).first()
            if found is not None:
                self._pids.add(pid)
        if pid in self._pids:
            return True
        if len(self._misses) >= self.MAX_MISSES:
            self._misses.clear()
        self._misses[pid] = now + self.miss_ttl_s
        return False

    async def run(self) -> None:
        """Refresh every ``refresh_s`` until cancelled (a failing database is retried next round)."""
        while True:
            try:
                await self.refresh()
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                log.warning("could not refresh the enrolled printers: %s", exc)
            await asyncio.sleep(self.refresh_s)
