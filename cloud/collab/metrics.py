"""Prometheus metrics of shared documents, registered once per app on ``CloudServices.metrics``' registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from cloud.metrics import NAMESPACE

BAD_MESSAGE_CODES = ("too_large", "not_json", "invalid", "invalid_op", "unexpected")


class CollabMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.ops = Counter(
            "collab_ops", "Ops applied to shared documents", namespace=NAMESPACE, registry=registry
        )
        self.bad_messages = Counter(
            "collab_bad_messages",
            "Collaboration messages refused, by reason",
            ("code",),
            namespace=NAMESPACE,
            registry=registry,
        )
        for code in BAD_MESSAGE_CODES:
            self.bad_messages.labels(code=code)
        self.peers = Gauge(
            "collab_peers", "WebSocket peers editing shared documents", namespace=NAMESPACE, registry=registry
        )
        self.refused = Counter(
            "collab_refused_connections",
            "WebSocket connections refused (bad token, unknown document), by close code",
            ("close_code",),
            namespace=NAMESPACE,
            registry=registry,
        )
