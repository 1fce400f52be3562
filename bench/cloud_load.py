"""Cloud under both loads at once: the ingest benchmark's 10,000 printers and the API benchmark's wrk,
against the same cloud, next to each load alone, in one run.

    make bench-load      (or: .venv/bin/python -m bench.cloud_load [--printers 10000] [--replicas 2]
                          [--database-url postgresql://...])

A farm's cloud does not get its telemetry and its dashboards' requests in turns. One run, all on this
machine (2 cores, shared by Mosquitto, the load generators, wrk and the cloud):

  1. Mosquitto on a free loopback port; the organisation and ``--printers`` printers in the database;
     the cloud (``--replicas`` processes sharing the ingest subscription); one wrk a replica, the
     connections split between them (as nginx spreads them in docker-compose.yml).
  2. *ingest alone*: tele at 1 Hz + state on change for every printer (``bench.cloud_ingest``'s
     generators), ingested msg/s from the cloud's own counter, publish-to-visible-in-API latency of
     probe printers (a state every 100 ms, polled through ``GET /api/fleet/printers``);
  3. *API alone*: ``GET /api/fleet/summary`` (authenticated; every printer now has a state) under wrk;
  4. *both*: the same generators, probes and wrk at the same time.

Printed: one row a phase and the ratios both ÷ alone. The goals of issue "Cloud" are for each load
alone (ingest ≥ 10,000 msg/s with p99 < 2 s; summary ≥ 1,000 req/s with p95 < 100 ms); the table says
which still hold under both. JSON in ``.bench/cloud_load_<database>_<replicas>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from bench import cloud_ingest as ingest
from bench.cloud_api import LUA, run_wrk


@dataclass
class Phase:
    name: str
    ingested_msg_s: float | None = None
    visible_p50_s: float | None = None
    visible_p99_s: float | None = None
    probes_seen: int | None = None
    probes_sent: int | None = None
    summary_req_s: float | None = None
    summary_p95_ms: float | None = None
    summary_p99_ms: float | None = None
    http_errors: int | None = None
    cpu_cloud_pct: float = 0.0
    dropped: float = 0.0


class Rig:
    """Mosquitto + cloud replicas + a logged-in token, for the three phases."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'cloud.db'}"
        if self.database_url.startswith("postgres"):
            asyncio.run(ingest.recreate_postgres(self.database_url))
        self.broker, self.mqtt_port = ingest.start_mosquitto(workdir)
        asyncio.run(ingest.enrol_printers(self.database_url, args.printers, args.probes))
        self.clouds = [
            ingest.start_cloud(args, workdir, self.mqtt_port, self.database_url, replica)
            for replica in range(args.replicas)
        ]
        self.urls = [f"http://127.0.0.1:{port}" for _, port in self.clouds]
        login = httpx.post(
            f"{self.urls[0]}/api/auth/login",
            json={"email": ingest.ADMIN_EMAIL, "password": ingest.ADMIN_PASSWORD},
            timeout=30,
        )
        login.raise_for_status()
        self.token: str = login.json()["access_token"]
        self.script = workdir / "report.lua"
        self.script.write_text(LUA)

    def close(self) -> None:
        for cloud, _ in self.clouds:
            cloud.terminate()
        for cloud, _ in self.clouds:
            cloud.wait(60)
        self.broker.terminate()
        self.broker.wait()

    def scrape(self, name: str) -> float:
        text = "\n".join(httpx.get(f"{url}/metrics", timeout=30).text for url in self.urls)
        return ingest.ingested(text, name)

    def cpu(self) -> float:
        return ingest.cpu_s([psutil.Process(cloud.pid) for cloud, _ in self.clouds])

    def run(self, name: str, *, traffic: bool, api: bool) -> Phase:
        args = self.args
        phase = Phase(name)
        generators = []
        if traffic:
            generators = ingest.start_generators(args, self.mqtt_port, args.warmup_seconds + args.seconds + 2)
            time.sleep(args.warmup_seconds)
        wrk_results: list[dict[str, float]] = []
        wrk_threads: list[threading.Thread] = []
        if api:
            # One wrk per replica with its share of the connections, as nginx spreads them in compose.
            per = max(1, args.connections // len(self.urls))
            for url in self.urls:

                def drive(url: str = url) -> None:
                    wrk_results.append(
                        run_wrk(f"{url}/api/fleet/summary", self.token, int(args.seconds), per, self.script)
                    )

                wrk_threads.append(threading.Thread(target=drive, daemon=True))
        messages = "threedpot_cloud_ingest_messages_total"
        count0, cpu0, t0 = self.scrape(messages), self.cpu(), time.monotonic()
        for thread in wrk_threads:
            thread.start()
        if traffic:
            latencies, sent = asyncio.run(
                ingest.probe_latencies(self.urls[0], self.mqtt_port, args.probes, args.seconds)
            )
            quantiles = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
            phase.visible_p50_s, phase.visible_p99_s = quantiles[49], quantiles[98]
            phase.probes_seen, phase.probes_sent = len(latencies), sent
        for thread in wrk_threads:
            thread.join()
        elapsed = time.monotonic() - t0
        phase.cpu_cloud_pct = 100 * (self.cpu() - cpu0) / elapsed
        if traffic:
            phase.ingested_msg_s = (self.scrape(messages) - count0) / elapsed
            phase.dropped = self.scrape("threedpot_cloud_ingest_dropped_total")
        for process in generators:
            process.wait()
        if wrk_results:  # replicas' rates add up; their worst p95/p99 stands for all
            phase.summary_req_s = sum(r["requests"] / r["seconds"] for r in wrk_results)
            phase.summary_p95_ms = max(r["p95_ms"] for r in wrk_results)
            phase.summary_p99_ms = max(r["p99_ms"] for r in wrk_results)
            phase.http_errors = sum(int(r["errors"]) for r in wrk_results)
        return phase


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _ratio(both: float | None, alone: float | None) -> str:
    return "-" if not both or not alone else f"{both / alone:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cloud_load", description=__doc__.splitlines()[0])
    parser.add_argument("--printers", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window of each phase")
    parser.add_argument("--warmup-seconds", type=float, default=8.0)
    parser.add_argument("--state-period-s", type=float, default=30.0)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--generators", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--database-url", default=None, help="postgresql://... (dropped and created!)")
    args = parser.parse_args(argv)
    args.profile = False  # what bench.cloud_ingest.start_cloud reads
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    console = Console()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        rig = Rig(args, Path(tmp))
        try:
            console.print(
                f"{args.printers} printers, {args.replicas} cloud process(es), {args.seconds:.0f} s a phase"
            )
            phases = [
                rig.run("ingest alone", traffic=True, api=False),
                rig.run("API alone", traffic=False, api=True),
                rig.run("both at once", traffic=True, api=True),
            ]
        finally:
            rig.close()
        database = "postgresql" if rig.database_url.startswith("postgres") else "sqlite"
    alone_ingest, alone_api, both = phases
    table = Table(
        title=f"Cloud under load: {args.printers:,} printers ingested + wrk -c{args.connections} on the fleet"
        f" summary, {database}, {args.replicas} process(es), one run on {os.cpu_count()} cores"
    )
    for column in (
        "phase",
        "ingested msg/s",
        "visible p50 / p99 s",
        "summary req/s",
        "p95 / p99 ms",
        "HTTP errors",
        "cloud CPU %",
    ):
        table.add_column(column)
    for p in phases:
        table.add_row(
            p.name,
            _fmt(p.ingested_msg_s, ",.0f"),
            "-" if p.visible_p99_s is None else f"{p.visible_p50_s:.2f} / {p.visible_p99_s:.2f}",
            _fmt(p.summary_req_s, ",.0f"),
            "-" if p.summary_p95_ms is None else f"{p.summary_p95_ms:.1f} / {p.summary_p99_ms:.1f}",
            _fmt(p.http_errors, "d"),
            f"{p.cpu_cloud_pct:.0f}",
        )
    table.add_row(
        "both ÷ alone",
        _ratio(both.ingested_msg_s, alone_ingest.ingested_msg_s),
        _ratio(both.visible_p99_s, alone_ingest.visible_p99_s),
        _ratio(both.summary_req_s, alone_api.summary_req_s),
        _ratio(both.summary_p95_ms, alone_api.summary_p95_ms),
        "",
        "",
    )
    console.print(table)
    offered = ingest.offered_rate(args)
    goals = [
        ("ingest ≥ 10,000 msg/s", (both.ingested_msg_s or 0) >= 10_000),
        ("visible p99 < 2 s", (both.visible_p99_s or 99) < 2.0),
        ("summary ≥ 1,000 req/s", (both.summary_req_s or 0) >= 1_000),
        ("summary p95 < 100 ms", (both.summary_p95_ms or 1e9) < 100.0),
    ]
    console.print(
        f"offered {offered:,.0f} msg/s; under both loads: "
        + "; ".join(f"{goal} {'met' if ok else 'NOT met'}" for goal, ok in goals)
        + f"; dropped {both.dropped:.0f}"
    )
    report = {
        "printers": args.printers,
        "replicas": args.replicas,
        "database": database,
        "cpus": os.cpu_count(),
        "offered_msg_s": offered,
        "phases": [asdict(p) for p in phases],
        "goals_under_both": dict(goals),
    }
    out = Path(".bench") / f"cloud_load_{database}_{args.replicas}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
