"""Cloud rendering: preview PNGs made by a background worker, cached by spec hash in ``design_renders``.

``request(spec)`` makes sure a row exists for the spec's hash and queues it when it is pending; the
worker (``run``, started with the app) claims a row by moving it from ``pending`` to ``rendering`` in
one UPDATE, so the same spec never renders twice, even with several replicas: whoever loses the
claim skips it. A row stuck in ``rendering`` longer than ``STALE_AFTER`` (its replica died) goes back
to pending when someone asks for it again. A spec that cannot be built or drawn is ``failed`` with
the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cloud.db import Database
from cloud.designs.conversation import spec_hash
from cloud.designs.meshes import MeshCache
from cloud.designs.metrics import DesignMetrics
from cloud.designs.models import ERROR_MAX_CHARS, DesignRender, RenderStatus
from cloud.designs.render import render_mesh_png

log = logging.getLogger(__name__)

STALE_AFTER: Final = timedelta(minutes=2)


class RenderWorker:
    def __init__(
        self,
        database: Database,
        meshes: MeshCache,
        metrics: DesignMetrics,
        clock: Callable[[], datetime],
        *,
        size_px: int = 512,
        queue_max: int = 1000,
    ) -> None:
        self.database = database
        self.meshes = meshes
        self.metrics = metrics
        self.clock = clock
        self.size_px = size_px
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_max)
        self._queued: set[str] = set()

    async def request(self, spec: dict[str, Any]) -> DesignRender:
        """The render row of ``spec`` (created pending when new); queued for the worker when pending."""
        key = spec_hash(spec)
        now = self.clock()
        async with self.database.session() as session:
            row = await session.get(DesignRender, key)
            if row is None:
                row = DesignRender(
                    spec_hash=key,
                    spec=spec,
                    status=RenderStatus.PENDING.value,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                try:
                    await session.commit()
                except IntegrityError:  # another request (or replica) created it meanwhile
                    await session.rollback()
                    row = await session.get(DesignRender, key)
                    assert row is not None
            elif row.status == RenderStatus.RENDERING.value and now - row.updated_at > STALE_AFTER:
                await session.execute(
                    update(DesignRender)
                    .where(DesignRender.spec_hash == key, DesignRender.status == RenderStatus.RENDERING.value)
                    .values(status=RenderStatus.PENDING.value, updated_at=now)
                )
                await session.commit()
                await session.refresh(row)
            if row.status == RenderStatus.PENDING.value:
                self._enqueue(key)
            return row

    def _enqueue(self, key: str) -> None:
        if key in self._queued:
            return
        try:
            self._queue.put_nowait(key)
        except asyncio.QueueFull:
            log.warning("the render queue is full; %s waits for the next request", key)
            return
        self._queued.add(key)

    async def run(self) -> None:
        """Render queued specs one at a time until cancelled."""
        while True:
            key = await self._queue.get()
            try:
                await self.render(key)
            finally:
                self._queued.discard(key)

    async def render(self, key: str) -> bool:
        """Claim and render one pending spec; False when someone else has (or had) it."""
        async with self.database.session() as session:
            claimed = await session.execute(
                update(DesignRender)
                .where(DesignRender.spec_hash == key, DesignRender.status == RenderStatus.PENDING.value)
                .values(status=RenderStatus.RENDERING.value, updated_at=self.clock())
            )
            await session.commit()
            if getattr(claimed, "rowcount", 0) != 1:
                return False
            spec = (
                await session.execute(select(DesignRender.spec).where(DesignRender.spec_hash == key))
            ).scalar_one()
        png: bytes | None = None
        error: str | None = None
        try:
            mesh = await self.meshes.mesh(spec)
            png = await asyncio.to_thread(render_mesh_png, mesh, self.size_px)
        except ValueError as exc:  # GeometryError and a spec that no longer validates
            error = str(exc)[:ERROR_MAX_CHARS]
        except Exception as exc:  # a bug in a renderer must not stop the worker; it is logged
            log.exception("rendering %s failed", key)
            error = f"rendering failed: {type(exc).__name__}"
        status = RenderStatus.DONE if png is not None else RenderStatus.FAILED
        async with self.database.session() as session:
            await session.execute(
                update(DesignRender)
                .where(DesignRender.spec_hash == key)
                .values(status=status.value, png=png, error=error, updated_at=self.clock())
            )
            await session.commit()
        self.metrics.renders.labels(status=status.value).inc()
        log.info("preview %s: %s", key[:12], status.value)
        return True
