"""Prometheus metrics of one app: a registry of its own (two apps in one process never clash).

HTTP requests are counted and timed by route *template* (``/api/printers/{pid}``, not the
concrete path, so cardinality stays bounded) and status; a request that matched no route is
labelled ``unmatched``. A pure ASGI middleware, so streaming responses are not buffered.
"""

from __future__ import annotations

import time
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NAMESPACE: Final = "threedpot_cloud"
KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS_S: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CloudMetrics:
    """Every metric the cloud exports, registered in ``registry``."""

    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests handled, by method, route template and status",
            ["method", "route", "status"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "Time to handle an HTTP request, by method, route template and status",
            ["method", "route", "status"],
            namespace=NAMESPACE,
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.http_in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being handled",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "rate_limited",
            "Attempts refused by a rate limiter, by limiter",
            ["limiter"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.build_info = Gauge(
            "build_info",
            "Always 1; the version is a label",
            ["version"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.build_info.labels(version=version).set(1)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request into ``CloudMetrics``."""

    def __init__(self, app: ASGIApp, metrics: CloudMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees if the app raises before starting a response
        started = time.perf_counter()

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.http_in_flight.inc()
        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            self.metrics.http_in_flight.dec()
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            labels = {"method": method, "route": route, "status": str(status)}
            self.metrics.http_requests.labels(**labels).inc()
            self.metrics.http_latency.labels(**labels).observe(time.perf_counter() - started)
