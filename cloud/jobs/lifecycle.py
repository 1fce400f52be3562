"""The farm queue's runtime, built and started with the app: storage, publisher, dispatcher, tracker.

``lifespan`` opens the file storage, builds the URL signer, the MQTT command publisher, the
dispatcher and the ack/event tracker, registers the tracker on the ingest hooks, and — unless
``jobs.dispatcher`` is off (tests that drive rounds themselves) — runs the dispatcher and, when
``mqtt_url`` is configured explicitly (as for the ingest), the publisher in one TaskGroup until
the app stops; commands made meanwhile wait in the table until a publisher sends them. Routes
reach all of it through ``JobsRuntime`` on ``app.state.jobs`` (the download route through
``app.state.files``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, FastAPI, Request

from cloud.files import Files, open_storage
from cloud.files.urls import UrlSigner, derive_url_secret
from cloud.jobs.dispatcher import Dispatcher
from cloud.jobs.publisher import CommandPublisher
from cloud.jobs.slicer import Slicer, discover_slicer
from cloud.jobs.tracking import JobTracker
from cloud.services import CloudServices
from contract.topics import Topics

STOP_TIMEOUT_S: Final = 5.0


@dataclass(slots=True)
class JobsRuntime:
    files: Files
    publisher: CommandPublisher
    dispatcher: Dispatcher
    tracker: JobTracker
    slicer: Slicer | None
    running: bool

    def wake(self) -> None:
        """Tell the dispatcher there is new work (a job, a command, a freed printer)."""
        if self.running:
            self.dispatcher.wake()


def get_runtime(request: Request) -> JobsRuntime:
    runtime = getattr(request.app.state, "jobs", None)
    if not isinstance(runtime, JobsRuntime):
        raise TypeError("app.state.jobs is not set: the jobs lifespan has not started")
    return runtime


Runtime = Annotated[JobsRuntime, Depends(get_runtime)]


def _signer(services: CloudServices) -> UrlSigner:
    settings = services.settings
    if settings.storage.url_secret is not None:
        secret = settings.storage.url_secret.get_secret_value().encode("utf-8")
    else:
        secret = derive_url_secret(services.secrets.jwt_secret.get_secret_value())
    return UrlSigner(secret, settings.public_base_url, settings.storage.download_url_ttl_s)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs the farm queue while the app serves."""
    services = app.state.services
    assert isinstance(services, CloudServices)
    settings = services.settings
    async with open_storage(settings) as storage:
        files = Files(storage=storage, signer=_signer(services))
        publisher = CommandPublisher(
            settings.mqtt_url,
            username=settings.mqtt_ingest_username,
            password=services.secrets.mqtt_ingest_password.get_secret_value(),
            topics=Topics(prefix=settings.mqtt_topic_prefix),
        )
        dispatcher = Dispatcher(
            services.database,
            settings.jobs,
            files,
            publisher,
            services.secrets.signing_key_b64,
            services.now,
            hooks=services.dispatch_hooks,
        )
        tracker = JobTracker(services.database, settings.jobs, services.now, dispatcher.wake)
        runtime = JobsRuntime(
            files=files,
            publisher=publisher,
            dispatcher=dispatcher,
            tracker=tracker,
            slicer=discover_slicer(),
            running=settings.jobs.dispatcher,
        )
        app.state.files = files
        app.state.jobs = runtime
        services.hooks.on_acks.append(tracker.on_acks)
        services.hooks.on_events.append(tracker.on_events)
        try:
            if not runtime.running:
                yield
                return
            async with asyncio.TaskGroup() as tasks:
                dispatching = tasks.create_task(dispatcher.run(), name="jobs-dispatcher")
                publishing = None
                if "mqtt_url" in settings.model_fields_set:  # as the ingest: only with a broker configured
                    publishing = tasks.create_task(publisher.run(), name="jobs-publisher")
                try:
                    yield
                finally:
                    dispatcher.stop()
                    await asyncio.wait({dispatching}, timeout=STOP_TIMEOUT_S)
                    dispatching.cancel()
                    if publishing is not None:
                        publishing.cancel()
        finally:
            services.hooks.on_acks.remove(tracker.on_acks)
            services.hooks.on_events.remove(tracker.on_events)
