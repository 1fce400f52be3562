"""The agent's Prometheus metrics: read from live state at scrape time, plus a few event counters.

Everything lives in one `CollectorRegistry` per agent (never the global one), so tests and several
agents in one process do not collide.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contract.state import LinkState, PrinterState
from firmware_bridge.link import PrinterLink


@dataclass(frozen=True, slots=True)
class LiveFigures:
    """What the collector reads at scrape time (filled by the agent)."""

    link: PrinterLink | None
    link_state: LinkState
    printer_state: PrinterState
    queue_length: int
    outbox_depth: int
    progress: float | None
    data_dir: Path | None = None


class _LiveCollector(Collector):
    def __init__(self, pid: str, figures: Callable[[], LiveFigures]) -> None:
        self._pid = pid
        self._figures = figures
        self._totals = {"lines": 0, "resends": 0, "bytes": 0, "garbage": 0}
        self._seen: dict[int, dict[str, int]] = {}

    def _link_totals(self, link: PrinterLink | None) -> dict[str, int]:
        """Counters that survive reconnects: a new link's counts add to the old ones'."""
        if link is not None:
            stats = link.window.stats
            now = {
                "lines": stats.lines_sent,
                "resends": stats.resends,
                "bytes": stats.bytes_sent,
                "garbage": link.stats.garbage_lines,
            }
            before = self._seen.get(id(link), dict.fromkeys(now, 0))
            for key, value in now.items():
                self._totals[key] += max(0, value - before[key])
            self._seen = {id(link): now}
        return self._totals

    def collect(self) -> Iterator[Metric]:
        figures = self._figures()
        totals = self._link_totals(figures.link)
        labels = ["printer"]
        for name, key, help_text in (
            ("agent_serial_lines_sent", "lines", "G-code lines sent to the printer (resends included)"),
            ("agent_serial_resends", "resends", "lines sent again after the firmware asked for them"),
            ("agent_serial_bytes_sent", "bytes", "bytes written to the serial port"),
            ("agent_serial_garbage_lines", "garbage", "reply lines from the printer that made no sense"),
        ):
            counter = CounterMetricFamily(name, help_text, labels=labels)
            counter.add_metric([self._pid], totals[key])
            yield counter
        temps = GaugeMetricFamily(
            "agent_temperature_celsius", "heater temperatures", labels=["printer", "heater", "kind"]
        )
        if figures.link is not None:
            for heater, reading in sorted(figures.link.status.temperatures.items()):
                temps.add_metric([self._pid, heater, "actual"], reading.actual_c)
                if reading.target_c is not None:
                    temps.add_metric([self._pid, heater, "target"], reading.target_c)
        yield temps
        yield _gauge("agent_queue_length", "jobs waiting in the local queue", self._pid, figures.queue_length)
        yield _gauge(
            "agent_outbox_depth", "events not yet delivered to the broker", self._pid, figures.outbox_depth
        )
        progress = figures.progress if figures.progress is not None else 0.0
        yield _gauge("agent_print_progress_ratio", "fraction of the file acknowledged", self._pid, progress)
        state = GaugeMetricFamily(
            "agent_printer_state", "1 for the current state", labels=["printer", "state"]
        )
        for value in PrinterState:
            state.add_metric([self._pid, value.value], 1.0 if value is figures.printer_state else 0.0)
        yield state
        link = GaugeMetricFamily(
            "agent_printer_link", "1 for the serial link's state", labels=["printer", "state"]
        )
        for link_state in LinkState:
            link.add_metric([self._pid, link_state.value], 1.0 if link_state is figures.link_state else 0.0)
        yield link
        if figures.data_dir is not None:
            try:
                usage = shutil.disk_usage(figures.data_dir)
            except OSError:
                return
            yield _gauge(
                "agent_disk_free_bytes", "free space where the agent keeps its data", self._pid, usage.free
            )
            yield _gauge("agent_disk_total_bytes", "size of that file system", self._pid, usage.total)


def _gauge(name: str, help_text: str, pid: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, help_text, labels=["printer"])
    gauge.add_metric([pid], value)
    return gauge


@dataclass(frozen=True, slots=True)
class AgentMetrics:
    registry: CollectorRegistry
    commands: Counter
    watchdog_trips: Counter
    temperature_noise: Counter
    offers: Counter
    jobs_finished: Counter

    @classmethod
    def create(cls, pid: str, figures: Callable[[], LiveFigures]) -> AgentMetrics:
        registry = CollectorRegistry()
        registry.register(_LiveCollector(pid, figures))
        return cls(
            registry=registry,
            commands=Counter(
                "agent_commands",
                "commands handled, by verb and outcome",
                ["verb", "outcome"],
                registry=registry,
            ),
            watchdog_trips=Counter(
                "agent_watchdog_trips", "emergency stops by the host watchdog", ["rule"], registry=registry
            ),
            temperature_noise=Counter(
                "agent_temperature_samples_rejected",
                "temperature reports dropped as line noise (a jump no heater makes, not confirmed)",
                registry=registry,
            ),
            offers=Counter("agent_job_offers", "job offers, by outcome", ["outcome"], registry=registry),
            jobs_finished=Counter(
                "agent_jobs_finished",
                "jobs that left the printer: completed, failed, cancelled, interrupted",
                ["outcome"],
                registry=registry,
            ),
        )

    def count(self, verb: str, outcome: str) -> None:
        self.commands.labels(verb=verb, outcome=outcome).inc()
