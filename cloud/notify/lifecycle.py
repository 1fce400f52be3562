"""The notification runtime of one app, started and stopped with it.

``lifespan`` registers the ingest hooks (``NotifySources``) and the listeners of ``notify`` (the
live stream, the delivery worker's wake-up), and runs the delivery worker (unless
``notify.worker`` is off) and the flap summary tick in one ``TaskGroup``. Routes reach the runtime
through ``app.state.notify``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from cloud.notify.delivery import DeliveryWorker
from cloud.notify.sources import NotifySources
from cloud.notify.stream import NotifyStream
from cloud.services import CloudServices


@dataclass(slots=True)
class NotifyRuntime:
    sources: NotifySources
    stream: NotifyStream
    worker: DeliveryWorker

    def on_stored(self, stored: Any) -> None:
        self.stream.on_stored(stored)
        if getattr(stored, "deliveries", 0):
            self.worker.wake()


@asynccontextmanager
async def lifespan(app: FastAPI, *, transport: httpx.AsyncBaseTransport | None = None) -> AsyncIterator[None]:
    services = app.state.services
    assert isinstance(services, CloudServices)
    settings = services.settings.notify
    runtime = NotifyRuntime(
        sources=NotifySources(services),
        stream=NotifyStream(),
        worker=DeliveryWorker(services.database, settings, services.now, transport=transport),
    )
    app.state.notify = runtime
    services.hooks.on_events.append(runtime.sources.on_events)
    services.hooks.on_presence.append(runtime.sources.on_presence)
    services.notify_listeners.append(runtime.on_stored)
    try:
        async with asyncio.TaskGroup() as tasks:
            running = [tasks.create_task(runtime.sources.run(), name="notify-flaps")]
            if settings.worker:
                running.append(tasks.create_task(runtime.worker.run(), name="notify-worker"))
            try:
                yield
            finally:
                for task in running:
                    task.cancel()
    finally:
        services.notify_listeners.remove(runtime.on_stored)
        services.hooks.on_presence.remove(runtime.sources.on_presence)
        services.hooks.on_events.remove(runtime.sources.on_events)
        app.state.notify = None
