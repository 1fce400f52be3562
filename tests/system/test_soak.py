"""Soak: a farm of many agents printing job after job for a while, fault-free; nothing may grow or break.

Every ``SAMPLE_S`` the RSS of the cloud and of every agent is sampled; after a warm-up a least-squares
slope (MB per minute) is fitted per process and must stay under the thresholds below. Every log is
scanned for ``ERROR`` and ``Traceback`` lines (none allowed), every submitted job must complete, every
printer must have executed exactly the moves of its jobs, and every printer's events must be in the
cloud in order with no gap. A report (markdown with the JSON) and every log are written to
``$SOAK_REPORT_DIR`` (default ``/tmp/3dpot-soak-<time>``), whose path is printed at the end.

Runs when ``SOAK=1`` (``make soak``: ``SOAK_AGENTS`` agents, default 50, for ``SOAK_S`` seconds, default
600) and, as a short variant, in CI (10 agents, 60 s, where only a gross leak fails); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.fixtures.broker import in_ci, missing_infrastructure
from tests.system import checks
from tests.system.harness import Farm, FarmConfig, MissingInfrastructure, wait_for

pytestmark = [pytest.mark.system, pytest.mark.integration, pytest.mark.slow]

FULL = os.environ.get("SOAK", "").strip().lower() in ("1", "true", "yes", "full")
AGENTS = int(os.environ.get("SOAK_AGENTS", "50" if FULL else "10"))
DURATION_S = float(os.environ.get("SOAK_S", "600" if FULL else "60"))
SAMPLE_S = 5.0
WARM_UP_S = min(120.0, DURATION_S / 4)  # imports, caches and pools fill up first: not fitted
MOVES = 600  # per job: ~60 s of printing at the move-time scale below (slow enough for 50 on 2 cores)
MOVE_TIME_SCALE = 2.0
# A leak worth failing for: over a day these would add 1.4 GB (cloud) and 0.7 GB (each agent). The
# short run (60 s, mostly warm-up) only catches gross leaks.
MAX_CLOUD_MB_MIN = 1.0 if FULL else 20.0
MAX_AGENT_MB_MIN = 0.5 if FULL else 10.0
LOG_PROBLEM = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback \(most recent call last\)")


def slope_mb_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, bytes) samples, in MB per minute (0 with fewer than 2)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_b = sum(b for _, b in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (b - mean_b) for t, b in samples)
    return cov / var * 60.0 / (1024 * 1024)


@dataclass
class RssSampler:
    """Samples the RSS of named processes every ``every_s`` in a thread (a restarted pid is re-read)."""

    farm: Farm
    every_s: float = SAMPLE_S
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _started: float = field(default_factory=time.monotonic)

    def _pids(self) -> dict[str, int]:
        pids: dict[str, int] = {}
        if self.farm.cloud is not None and self.farm.cloud.popen is not None:
            pids["cloud"] = self.farm.cloud.popen.pid
        for bay in self.farm.bays:
            if bay.agent.popen is not None:
                pids[f"agent {bay.n}"] = bay.agent.popen.pid
        return pids

    def sample(self) -> None:
        at = time.monotonic() - self._started
        for name, pid in self._pids().items():
            try:
                rss = psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue
            self.samples.setdefault(name, []).append((at, rss))

    def run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every_s)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="rss-sampler", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


def log_problems(farm: Farm) -> list[str]:
    problems = []
    for name, path in farm.logs():
        if name == "mosquitto" or not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if LOG_PROBLEM.search(line):
                problems.append(f"{name}: {line[:300]}")
    return problems


def keep_fed(farm: Farm, until: float, outstanding: int) -> int:
    """Submit jobs so about ``outstanding`` are never final, until ``until``; how many went in."""
    submitted = 0
    while time.monotonic() < until:
        try:
            open_jobs = sum(1 for j in farm.list_jobs() if j["state"] not in checks.FINAL)
            for _ in range(max(0, outstanding - open_jobs)):
                farm.submit(MOVES, f"soak-{len(farm.jobs)}")
                submitted += 1
        except httpx.HTTPError:
            pass
        time.sleep(2.0)
    return submitted


@pytest.mark.timeout(int(DURATION_S) + 1800)
def test_soak(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> None:
    if not FULL and not in_ci():
        pytest.skip("the soak runs with SOAK=1 (make soak), or its short variant in CI")
    root = tmp_path_factory.mktemp("soak")
    farm = Farm(
        root,
        FarmConfig(agents=AGENTS, move_time_scale=MOVE_TIME_SCALE, proxied_bay=None, enrol_parallel=4),
    )
    report: dict[str, Any] = {"agents": AGENTS, "duration_s": DURATION_S, "moves_per_job": MOVES}
    bring_up = time.monotonic()
    try:
        try:
            farm.start()
        except MissingInfrastructure as exc:
            missing_infrastructure(str(exc))
        report["bring_up_s"] = round(time.monotonic() - bring_up, 1)
        sampler = RssSampler(farm)
        sampler.start()
        began = time.monotonic()
        report["submitted"] = keep_fed(farm, began + DURATION_S, outstanding=AGENTS + AGENTS // 5)
        report["fed_s"] = round(time.monotonic() - began, 1)
        details = checks.wait_jobs_final(farm, farm.jobs, 600)
        report["drained_s"] = round(time.monotonic() - began - report["fed_s"], 1)
        sampler.stop()

        states: dict[str, int] = {}
        for job in details.values():
            states[job["state"]] = states.get(job["state"], 0) + 1
        report["jobs"] = {"submitted": len(farm.jobs), "by_state": states}
        slopes = {
            name: round(slope_mb_per_min([s for s in samples if s[0] >= WARM_UP_S]), 3)
            for name, samples in sampler.samples.items()
        }
        rss_mb = {name: round(samples[-1][1] / 2**20, 1) for name, samples in sampler.samples.items()}
        agent_slopes = [v for k, v in slopes.items() if k != "cloud"]
        report["rss"] = {
            "samples_per_process": max((len(s) for s in sampler.samples.values()), default=0),
            "warm_up_s": WARM_UP_S,
            "cloud_mb_per_min": slopes.get("cloud"),
            "cloud_rss_mb": rss_mb.get("cloud"),
            "agent_mb_per_min_max": max(agent_slopes, default=None),
            "agent_mb_per_min_median": sorted(agent_slopes)[len(agent_slopes) // 2] if agent_slopes else None,
            "agent_rss_mb_max": max((v for k, v in rss_mb.items() if k != "cloud"), default=None),
            "thresholds_mb_per_min": {"cloud": MAX_CLOUD_MB_MIN, "agent": MAX_AGENT_MB_MIN},
            "per_process": slopes,
        }
        report["log_problems"] = log_problems(farm)

        checks.no_job_lost(farm, details)
        report["executed_moves_total"] = sum(checks.no_job_printed_twice(farm, {}).values())
        report["events"] = sum(wait_for(lambda: _events(farm), 60, "every event in the cloud").values())
        report["converged_s"] = round(checks.converged(farm, 60), 2)
        assert not report["log_problems"], "\n".join(report["log_problems"][:50])
        assert (slopes.get("cloud") or 0.0) <= MAX_CLOUD_MB_MIN, report["rss"]
        assert max(agent_slopes, default=0.0) <= MAX_AGENT_MB_MIN, report["rss"]
        report["result"] = "passed"
    finally:
        out = Path(os.environ.get("SOAK_REPORT_DIR") or f"/tmp/3dpot-soak-{time.strftime('%Y%m%d-%H%M%S')}")
        farm.archive_logs(out / "logs")  # PostgreSQL's log goes with its cluster
        farm.close()
        farm.archive_logs(out / "logs")  # the others' last lines
        path = out / "soak-report.md"
        path.write_text(_markdown(report))
        terminal = pytestconfig.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(f"\nsoak report: {path}")


def _events(farm: Farm) -> dict[str, int] | None:
    try:
        return checks.events_in_order(farm)
    except AssertionError:
        return None


def _markdown(report: dict[str, Any]) -> str:
    rss = report.get("rss", {})
    jobs = report.get("jobs", {})
    return "\n".join(
        [
            f"# Soak: {report['agents']} agents, {report['duration_s']:.0f} s — {report.get('result', 'FAILED')}",
            "",
            f"- jobs: {jobs.get('submitted')} submitted, by state {jobs.get('by_state')}",
            f"- cloud RSS slope: {rss.get('cloud_mb_per_min')} MB/min (≤ {MAX_CLOUD_MB_MIN}),"
            f" RSS at the end {rss.get('cloud_rss_mb')} MB",
            f"- agent RSS slope: max {rss.get('agent_mb_per_min_max')}, median"
            f" {rss.get('agent_mb_per_min_median')} MB/min (≤ {MAX_AGENT_MB_MIN}); largest agent"
            f" {rss.get('agent_rss_mb_max')} MB",
            f"- ERROR/Traceback lines in the logs: {len(report.get('log_problems', []))}",
            f"- bring-up {report.get('bring_up_s')} s, drain after feeding {report.get('drained_s')} s,"
            f" convergence {report.get('converged_s')} s",
            "",
            "```json",
            json.dumps(report, indent=1),
            "```",
            "",
        ]
    )
