"""HTTP counters in the agent's Prometheus registry, and `GET /metrics` to scrape it.

`/metrics` needs no API key so Prometheus can scrape it without one: it exposes counts and gauges only,
never file names, keys or G-code. Put the agent behind a firewall if even that is too much.

    agent_http_requests_total{method, route, status}   route is the template (`/api/files/local/{name}`),
                                                        `<unmatched>` for paths no route serves
    agent_http_rejected_uploads_total{reason}           too_large, bad_multipart, bad_name, no_file,
                                                        empty_file, disconnected, refused (by the core)
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """The counters; build one per registry (Prometheus refuses a second registration of a name)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "agent_http_requests",
            "HTTP requests answered by the agent's local API, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.rejected_uploads = Counter(
            "agent_http_rejected_uploads",
            "Uploads refused before or by the core, by reason.",
            ["reason"],
            registry=registry,
        )

    def rejected(self, reason: str) -> None:
        self.rejected_uploads.labels(reason=reason).inc()


class RequestCounter:
    """Pure ASGI middleware: counts each answered HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            route = scope.get("route")
            template = route.path if isinstance(route, BaseRoute) and hasattr(route, "path") else UNMATCHED
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.requests.labels(method=method, route=template, status=str(status)).inc()


def metrics_router(registry: CollectorRegistry) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
