"""Background work of the fleet resource, started and stopped with the app, in one ``TaskGroup``:

- the MQTT ingest (``cloud.fleet.ingest``), when enabled: ``ingest.enabled``, or by default when
  ``mqtt_url`` is configured explicitly (settings file, environment or argument);
- the live feed's change poller (``cloud.fleet.feed``), always: a replica without ingest still
  serves browsers what the others ingested;
- the telemetry rollup (``cloud.fleet.rollup``), always (idempotent, safe on several replicas).

``app.state.fleet_metrics`` (created once per app) and ``app.state.fleet_feed`` are what the
routes and tests reach.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cloud.fleet.feed import FeedHub
from cloud.fleet.ingest import FleetIngest
from cloud.fleet.metrics import FleetMetrics
from cloud.fleet.rollup import TelemetryRollup
from cloud.services import CloudServices
from cloud.settings import CloudSettings

log = logging.getLogger(__name__)


def ingest_enabled(settings: CloudSettings) -> bool:
    """``ingest.enabled`` when set; otherwise whether ``mqtt_url`` was configured explicitly."""
    if settings.ingest.enabled is not None:
        return settings.ingest.enabled
    return "mqtt_url" in settings.model_fields_set


def fleet_metrics(app: FastAPI, services: CloudServices) -> FleetMetrics:
    """The app's fleet metrics, registered on its registry the first time."""
    metrics = getattr(app.state, "fleet_metrics", None)
    if not isinstance(metrics, FleetMetrics):
        metrics = FleetMetrics(services.metrics.registry)
        app.state.fleet_metrics = metrics
    return metrics


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs the fleet's background tasks while the app serves; cancels them on shutdown."""
    services = app.state.services
    assert isinstance(services, CloudServices)
    settings = services.settings
    metrics = fleet_metrics(app, services)
    feed = FeedHub(
        services.database,
        services.now,
        metrics,
        poll_interval_s=settings.fleet.feed_poll_interval_s,
        client_queue=settings.fleet.feed_client_queue,
        max_clients=settings.fleet.feed_max_clients,
    )
    app.state.fleet_feed = feed
    rollup = TelemetryRollup(services.database, settings.fleet, metrics, services.now)
    async with asyncio.TaskGroup() as tasks:
        running = [tasks.create_task(feed.run(), name="fleet-feed")]
        running.append(tasks.create_task(rollup.run(), name="fleet-rollup"))
        if ingest_enabled(settings):
            ingest = FleetIngest(
                settings,
                services.secrets.mqtt_ingest_password.get_secret_value(),
                services.database,
                services.hooks,
                metrics,
                services.now,
            )
            app.state.fleet_ingest = ingest
            running.append(tasks.create_task(ingest.run(), name="fleet-ingest"))
        else:
            log.info("fleet ingest is off (set ingest.enabled = true or mqtt_url to turn it on)")
        try:
            yield
        finally:
            for task in running:
                task.cancel()
            app.state.fleet_feed = None
