"""What the app factory builds once and every request reaches: ``CloudServices``.

``create_app`` puts one ``CloudServices`` on ``app.state.services``; routes get it (typed) through
the ``Services`` dependency and a per-request database session through ``DbSession``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db import Database
from cloud.fleet.hooks import IngestHooks
from cloud.jobs.hooks import DispatchHooks
from cloud.keys import CloudSecrets
from cloud.metrics import CloudMetrics
from cloud.printers.mosquitto_auth import MosquittoAuth
from cloud.ratelimit import TokenBucketLimiter
from cloud.settings import CloudSettings
from cloud.users.passwords import Passwords
from cloud.users.tokens import TokenCodec


@dataclass(slots=True)
class CloudServices:
    """The collaborators of one cloud app. ``clock`` returns timezone-aware UTC (tests may replace it)."""

    settings: CloudSettings
    secrets: CloudSecrets
    database: Database
    passwords: Passwords
    tokens: TokenCodec
    metrics: CloudMetrics
    login_limiter: TokenBucketLimiter
    enrol_limiter: TokenBucketLimiter
    mosquitto: MosquittoAuth | None
    clock: Callable[[], datetime]
    version: str
    hooks: IngestHooks = field(default_factory=IngestHooks)
    notify_listeners: list[Callable[[Any], None]] = field(default_factory=list)
    """Told of each batch ``cloud.notify`` stored (a ``cloud.notify.service.Stored``), in this process."""
    dispatch_hooks: DispatchHooks = field(default_factory=DispatchHooks)

    def now(self) -> datetime:
        return self.clock()


def get_services(request: Request) -> CloudServices:
    services = request.app.state.services
    if not isinstance(services, CloudServices):
        raise TypeError("app.state.services is not set: build the app with cloud.main.create_app")
    return services


Services = Annotated[CloudServices, Depends(get_services)]


async def get_session(services: Services) -> AsyncIterator[AsyncSession]:
    """One session per request; routes commit explicitly, anything uncommitted is rolled back."""
    async with services.database.session() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_session)]


def client_ip(request: Request) -> str:
    """The peer address (behind a proxy, run uvicorn with --proxy-headers so this is the client's)."""
    return request.client.host if request.client is not None else "unknown"
