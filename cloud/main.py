"""The app factory: ``create_app(settings)`` builds and wires everything, at call time, never at import.

Startup (lifespan): migrate the database to the newest revision, create the first admin when
there is no user, write the Mosquitto files when configured. Shutdown: close the database pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request

from cloud import health
from cloud.collab import lifecycle as collab_lifecycle
from cloud.collab import routes as collab_routes
from cloud.db import Database, migrate, utcnow
from cloud.designs import lifecycle as designs_lifecycle
from cloud.designs import routes as designs_routes
from cloud.errors import NotFound, install_error_handlers
from cloud.fleet import lifecycle as fleet_lifecycle
from cloud.fleet import routes as fleet_routes
from cloud.jobs import lifecycle as jobs_lifecycle
from cloud.jobs import routes as jobs_routes
from cloud.keys import resolve_secrets
from cloud.market import routes as market_routes
from cloud.market import runtime as market_runtime
from cloud.metrics import CloudMetrics, MetricsMiddleware
from cloud.notify import lifecycle as notify_lifecycle
from cloud.notify import routes as notify_routes
from cloud.printers import routes as printer_routes
from cloud.printers.mosquitto_auth import MosquittoAuth
from cloud.ratelimit import TokenBucketLimiter
from cloud.services import CloudServices, get_services
from cloud.settings import CloudSettings, RateLimit, load_settings
from cloud.users import routes as user_routes
from cloud.users.passwords import Passwords
from cloud.users.service import bootstrap_admin
from cloud.users.tokens import TokenCodec

log = logging.getLogger(__name__)

TITLE: Final = "3D Pot cloud"
DESCRIPTION: Final = """\
The fleet cloud of 3D Pot: accounts, printers and their enrolment (more to come: fleet state,
farm queue, signed job dispatch).

Authenticate with `Authorization: Bearer <token>` (a JWT from `POST /api/auth/login`) or
`X-Api-Key: <key>`. Everything is scoped to the caller's organisation: another organisation's
object is a 404. Every error has the body `{"code": ..., "message": ...}`.
"""
TAGS: Final = [
    {"name": "auth", "description": "Log in and find out who you are."},
    {"name": "users", "description": "Users of your organisation (admins)."},
    {"name": "api-keys", "description": "API keys of your organisation (admins)."},
    {"name": "printers", "description": "Printers of your organisation and their claim codes."},
    {"name": "enrolment", "description": "Agents exchange a claim code for their credentials."},
    {"name": "ops", "description": "Health, readiness, metrics and version."},
    {"name": "designs", "description": "The design studio: describe an object, get a printable model."},
    {"name": "collab", "description": "Shared design documents, edited live over a WebSocket."},
    {"name": "notifications", "description": "Your notifications, their live stream, your preferences."},
    {"name": "webhooks", "description": "Signed HTTP callbacks of your organisation's events (admins)."},
    {"name": "market", "description": "The marketplace: listings, search, purchases, reviews, payouts."},
]


NO_WEB_BUILD: Final = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>3D Pot cloud</title></head><body><h1>3D Pot cloud</h1>
<p>The web UI is not built: run <code>make web</code>, then reload.
The API is at <a href="/docs">/docs</a>.</p></body></html>"""


class _WebPath(Convertor[str]):
    """The web UI's client routes (``dashboards/web/src/app.tsx``), its assets and top-level files;
    never the API's or the ops routes', and any other path stays a 404."""

    regex = (
        r"(?!(?:api|healthz|readyz|metrics|openapi\.json|docs|redoc)(?:/|$))"
        r"(?:(?:login|queue|printers|studio|market|notifications)(?:/.*)?|assets/.+|[^/]+\.[A-Za-z0-9]+)?"
    )

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def _mount_web(app: FastAPI, web_dir: Path) -> None:
    """Serve the built web UI: its files (``/assets/*`` cached for good: their names carry a hash), and
    ``index.html`` for its client routes, so a reload of ``/printers/p1`` loads the app."""
    register_url_convertor("webpath", _WebPath())
    root = web_dir.resolve()

    async def web_page(request: Request) -> Response:
        path = str(request.path_params["path"])
        wanted = (root / path).resolve()
        if wanted.is_relative_to(root) and wanted != root and wanted.is_file():
            immutable = path.startswith("assets/")
            headers = {"Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache"}
            return FileResponse(wanted, headers=headers)
        if path.startswith("assets/") or ("/" not in path and "." in path):
            raise NotFound(f"no such file: /{path}")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NO_WEB_BUILD)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.add_route("/{path:webpath}", web_page, methods=["GET"], include_in_schema=False)


def _limiter(limit: RateLimit) -> TokenBucketLimiter:
    return TokenBucketLimiter(burst=limit.burst, per_s=limit.per_minute / 60.0)


def _operation_id(route: APIRoute) -> str:
    return route.name


def build_services(settings: CloudSettings, clock: Callable[[], datetime] = utcnow) -> CloudServices:
    """Every collaborator of the app (secrets are read or generated here)."""
    secrets = resolve_secrets(settings)
    mosquitto = None
    if settings.mosquitto.password_file is not None or settings.mosquitto.acl_file is not None:
        mosquitto = MosquittoAuth(
            settings.mosquitto,
            settings.mqtt_topic_prefix,
            settings.mqtt_ingest_username,
            secrets.mqtt_ingest_password,
        )
    version = health.package_version()
    return CloudServices(
        settings=settings,
        secrets=secrets,
        database=Database(settings.database_url),
        passwords=Passwords(settings.password_hashing),
        tokens=TokenCodec(secrets.jwt_secret, settings.access_token_lifetime_s),
        metrics=CloudMetrics(version),
        login_limiter=_limiter(settings.login_rate_limit),
        enrol_limiter=_limiter(settings.enrol_rate_limit),
        mosquitto=mosquitto,
        clock=clock,
        version=version,
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = app.state.services
    assert isinstance(services, CloudServices)
    try:
        if services.settings.migrate_on_startup:
            await migrate(services.settings.database_url)
            log.info("database %r is at the newest revision", services.database)
        async with services.database.session() as session:
            await bootstrap_admin(session, services.passwords, services.settings.bootstrap_admin)
            if services.mosquitto is not None:
                await services.mosquitto.sync(session)
        async with (
            fleet_lifecycle.lifespan(app),
            jobs_lifecycle.lifespan(app),
            designs_lifecycle.lifespan(app),
            collab_lifecycle.lifespan(app),
            notify_lifecycle.lifespan(app),
        ):
            yield
    finally:
        await services.database.dispose()


def create_app(settings: CloudSettings | None = None, *, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The cloud's ASGI app for ``settings`` (default: ``load_settings()``: environment, defaults)."""
    settings = settings if settings is not None else load_settings()
    services = build_services(settings, clock)
    app = FastAPI(
        title=TITLE,
        description=DESCRIPTION,
        version=services.version,
        openapi_tags=TAGS,
        lifespan=_lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.services = services
    app.state.market = market_runtime.build(services)
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    app.include_router(health.router)
    app.include_router(user_routes.router)
    app.include_router(printer_routes.router)
    app.include_router(fleet_routes.router)
    app.include_router(jobs_routes.router)
    app.include_router(designs_routes.router)
    app.include_router(collab_routes.router)
    app.include_router(notify_routes.router)
    app.include_router(notify_routes.webhooks)
    app.include_router(market_routes.router)
    _mount_web(app, settings.web_dir)
    return app


__all__ = ["create_app", "get_services"]
