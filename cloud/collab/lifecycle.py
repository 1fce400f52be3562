"""The collaboration runtime of one app: a ``CollabHub`` on ``app.state.collab`` while the app serves.

It has no background task: rooms open and close with their connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cloud.collab.metrics import CollabMetrics
from cloud.collab.rooms import CollabHub
from cloud.services import CloudServices


def collab_metrics(app: FastAPI, services: CloudServices) -> CollabMetrics:
    """The app's collab metrics, registered on its registry the first time."""
    metrics = getattr(app.state, "collab_metrics", None)
    if not isinstance(metrics, CollabMetrics):
        metrics = CollabMetrics(services.metrics.registry)
        app.state.collab_metrics = metrics
    return metrics


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = app.state.services
    assert isinstance(services, CloudServices)
    app.state.collab = CollabHub(services.database, services.now, collab_metrics(app, services))
    try:
        yield
    finally:
        app.state.collab = None
