"""The design studio's Prometheus metrics, registered in the app's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from cloud.metrics import NAMESPACE

TURN_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class DesignMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.llm_fallbacks = Counter(
            "design_llm_fallbacks",
            "Turns the LLM engine could not answer, so the built-in engine did, by reason",
            ["reason"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.turns = Counter(
            "design_turns",
            "Design studio turns answered, by kind (spec, question, refusal, undo)",
            ["kind"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.turn_latency = Histogram(
            "design_turn_duration_seconds",
            "Time to understand one turn and check the resulting design",
            namespace=NAMESPACE,
            buckets=TURN_BUCKETS_S,
            registry=registry,
        )
        self.renders = Counter(
            "design_renders",
            "Preview renders finished, by status (done, failed)",
            ["status"],
            namespace=NAMESPACE,
            registry=registry,
        )
