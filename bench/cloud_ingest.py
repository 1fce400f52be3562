"""Cloud ingest benchmark: N simulated printers → a real Mosquitto → the cloud's MQTT ingest → database.

    make bench-ingest      (or: .venv/bin/python -m bench.cloud_ingest --printers 10000 --seconds 30)

What one run does, all on this machine:
  1. starts Mosquitto on a free loopback port and prepares the database (SQLite in a temp folder by
     default; ``--database-url postgresql://...`` for PostgreSQL — that database is dropped and created);
  2. *raw phase*: the load generator runs while a plain ``mosquitto_sub`` counts what the broker
     delivers: the reference rate;
  3. *cloud phase*: ``python -m cloud serve`` with the ingest on, the printers enrolled, the same load;
     after a warm-up it measures messages ingested per second (the ingest's own counter), drops,
     back-pressure waits, CPU of every process, and the publish-to-visible-in-API latency of probe
     printers: the bench publishes a state with a fresh ``seq`` for one of them every 100 ms and polls
     ``GET /api/fleet/printers`` until the API shows it.

Load per printer, as the issue describes it: ``tele`` at 1 Hz (QoS 0) and ``state`` on change (QoS 1,
retained; here every ``--state-period-s`` seconds). Generators are separate processes publishing
pre-formatted bytes with paho. Goal (issue 4, Done-when 3): ≥ 10,000 msg/s with p99 < 2 s on 2 cores,
shared with Mosquitto and the load generator. ``--profile`` runs the cloud under pyinstrument and
prints where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

import asyncpg  # type: ignore[import-untyped]
import httpx
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from pyinstrument import Profiler
from sqlalchemy import insert

from cloud.cli import serve
from cloud.db import Database, migrate
from cloud.printers.models import Printer
from cloud.settings import PasswordHashing
from cloud.users.passwords import Passwords
from cloud.users.service import create_organisation_with_admin

PREFIX: Final = "fleet/v1"
ADMIN_EMAIL: Final = "bench@example.com"
ADMIN_PASSWORD: Final = "bench-password-123"
PROBE_PERIOD_S: Final = 0.1
POLL_PERIOD_S: Final = 0.1
RESULTS: Final = Path(".bench/cloud_ingest.json")
TELE: Final = (
    b'{"schema":1,"ts":%d,"seq":%d,"temps":{"tool0":{"actual":%.1f,"target":215.0},'
    b'"bed":{"actual":60.0,"target":60.0}},"progress":%.4f,"layer":%d}'
)
STATE: Final = (
    b'{"schema":1,"ts":%d,"seq":%d,"link":"connected","printer_state":"printing","message":"",'
    b'"queue":{"state":"ready","length":1},"job":{"job_id":"job-%d","filename":"part.gcode",'
    b'"progress":%.4f,"print_duration":%.1f,"filament_used":1234.5,"current_layer":%d,"total_layer":200},'
    b'"temps":{"tool0":{"actual":%.1f,"target":215.0,"power":0.4},"bed":{"actual":60.0,"target":60.0}}}'
)


def pid_of(index: int) -> str:
    return f"bench-{index:05d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s} s")


# -- load generator (a subprocess: python -m bench.cloud_ingest generate ...) ------------------------


def generate(port: int, first: int, count: int, seconds: float, state_period_s: float, probes: int) -> None:
    """Publish tele at 1 Hz (QoS 0) for printers [first, first+count) and state every state_period_s."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-gen-{first}")
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    tele_topics = [f"{PREFIX}/{pid_of(i)}/tele" for i in range(first, first + count)]
    state_topics = [f"{PREFIX}/{pid_of(i)}/state" for i in range(first, first + count)]
    state_every = [i >= probes for i in range(first, first + count)]  # probes get their states from the bench
    tele_rate = float(count)
    state_rate = count / state_period_s
    started = time.monotonic()
    tele_sent = state_sent = 0
    seq = int(time.time() * 1000) * 10
    while (elapsed := time.monotonic() - started) < seconds:
        now_ms = int(time.time() * 1000)
        due = int(elapsed * tele_rate)
        while tele_sent < due:
            i = tele_sent % count
            seq += 1
            progress = (tele_sent % 1000) / 1000
            client.publish(tele_topics[i], TELE % (now_ms, seq, 210.0 + i % 10, progress, i % 200), qos=0)
            tele_sent += 1
        due = int(elapsed * state_rate)
        while state_sent < due:
            i = state_sent % count
            seq += 1
            if state_every[i]:
                payload = STATE % (now_ms, seq, i, (state_sent % 1000) / 1000, elapsed, i % 200, 215.0)
                client.publish(state_topics[i], payload, qos=1, retain=True)
            state_sent += 1
        time.sleep(0.005)
    client.loop_stop()
    client.disconnect()


def start_generators(args: argparse.Namespace, port: int, seconds: float) -> list[subprocess.Popen[bytes]]:
    per = -(-args.printers // args.generators)
    processes = []
    for first in range(0, args.printers, per):
        count = min(per, args.printers - first)
        argv = [sys.executable, "-m", "bench.cloud_ingest", "generate", "--port", str(port)]
        argv += ["--first", str(first), "--count", str(count), "--seconds", str(seconds)]
        argv += ["--state-period-s", str(args.state_period_s), "--probes", str(args.probes)]
        processes.append(subprocess.Popen(argv))
    return processes


def offered_rate(args: argparse.Namespace) -> float:
    printers: int = args.printers
    probes: int = args.probes
    state_period_s: float = args.state_period_s
    return printers + (printers - probes) / state_period_s + 1 / PROBE_PERIOD_S


# -- infrastructure ----------------------------------------------------------------------------------


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    config = workdir / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false"]
    lines += ["max_queued_messages 1000000", "max_inflight_messages 0", "log_type error"]
    if os.geteuid() == 0:
        lines.append("user root")
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process, port


async def recreate_postgres(url: str) -> None:

    head, _, name = url.rpartition("/")
    admin = await asyncpg.connect(f"{head}/postgres".replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def enrol_printers(database_url: str, count: int, probes: int) -> None:
    """Migrate, create the organisation and its admin, and insert ``count`` printers before the cloud
    starts (enrolment via the API would hash 10,000 MQTT passwords: not what this benchmark measures)."""

    await migrate(database_url)
    database = Database(database_url)
    try:
        async with database.session() as session:
            passwords = Passwords(PasswordHashing(time_cost=1, memory_kib=1024, parallelism=1))
            org, _ = await create_organisation_with_admin(
                session, passwords, "Bench", ADMIN_EMAIL, ADMIN_PASSWORD
            )
            org_id = org.id
            rows = [
                {
                    "pid": pid_of(i),
                    "org_id": org_id,
                    "name": f"{'a-probe' if i < probes else 'printer'}-{i:05d}",
                    "tags": ["probe"] if i < probes else [f"bay-{i % 20}"],
                    "material": "PLA",
                    "nozzle_mm": 0.4,
                    "mqtt_password_hash": "-",
                }
                for i in range(count)
            ]
            for start in range(0, count, 2000):
                await session.execute(insert(Printer), rows[start : start + 2000])
            await session.commit()
    finally:
        await database.dispose()


def start_cloud(
    args: argparse.Namespace, workdir: Path, mqtt_port: int, database_url: str, replica: int = 0
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    settings = workdir / "cloud.toml"
    settings.write_text(
        f'database_url = "{database_url}"\ndata_dir = "{workdir / "data"}"\n'
        f'mqtt_url = "mqtt://127.0.0.1:{mqtt_port}"\n'
        f'[bootstrap_admin]\nemail = "{ADMIN_EMAIL}"\npassword = "{ADMIN_PASSWORD}"\n'
        "[password_hashing]\ntime_cost = 1\nmemory_kib = 1024\nparallelism = 1\n"
        ""
    )
    if args.profile:
        argv = [sys.executable, "-m", "bench.cloud_ingest", "serve-profiled", "--config", str(settings)]
        argv += ["--port", str(port), "--profile-out", str(workdir / f"profile-{replica}.txt")]
    else:
        argv = [sys.executable, "-m", "cloud", "serve", "--config", str(settings), "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEDPOT_CLOUD_")}
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=(workdir / f"cloud-{replica}.log").open("wb")
    )
    wait_for_port(port, 60)
    return process, port


def cpu_s(processes: list[psutil.Process], *, children: bool = True) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
            for child in process.children(recursive=True) if children else ():
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
        except psutil.NoSuchProcess:
            pass
    return total


def serve_profiled(config: Path, port: int, out: Path) -> None:
    """``cloud serve`` under pyinstrument; the text report is written when SIGTERM arrives.

    uvicorn restores the handler it found and re-raises SIGTERM after its graceful shutdown, so the
    handler installed here runs last.
    """
    profiler = Profiler(interval=0.001)

    def finish(_signum: int, _frame: object) -> None:
        profiler.stop()
        out.write_text(
            profiler.output_text(unicode=True, show_all=False)
            + profiler.output_text(flat=True, show_all=True)
        )
        os._exit(0)

    signal.signal(signal.SIGTERM, finish)
    profiler.start()
    serve(config, port=port)


# -- phases ------------------------------------------------------------------------------------------


def raw_phase(args: argparse.Namespace, mqtt_port: int) -> float:
    """Messages per second a plain mosquitto_sub receives under the same load."""
    argv = ["mosquitto_sub", "-p", str(mqtt_port), "-q", "1", "-F", "x"]
    for kind in ("state", "tele", "evt", "ack"):
        argv += ["-t", f"{PREFIX}/+/{kind}"]
    sub = subprocess.Popen(argv, stdout=subprocess.PIPE)
    received = [0]

    def count() -> None:
        assert sub.stdout is not None
        fd = sub.stdout.fileno()
        while chunk := os.read(fd, 65536):
            received[0] += chunk.count(b"\n")

    reader = threading.Thread(target=count, daemon=True)
    reader.start()
    time.sleep(0.5)
    generators = start_generators(args, mqtt_port, args.raw_seconds + 3)
    time.sleep(2.0)
    before, t0 = received[0], time.monotonic()
    time.sleep(args.raw_seconds)
    rate = (received[0] - before) / (time.monotonic() - t0)
    for process in generators:
        process.wait()
    sub.terminate()
    sub.wait()
    return rate


def ingested(metrics_text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


@dataclass
class CloudFigures:
    offered_msg_s: float
    ingested_msg_s: float
    dropped: float
    inbox_overflow: float
    backpressure_waits: float
    write_retries: float
    latency_p50_s: float
    latency_p99_s: float
    latency_max_s: float
    probes_seen: int
    probes_sent: int
    cpu_cloud_pct: float
    cpu_broker_pct: float
    cpu_generators_pct: float
    cpu_postgres_pct: float
    latencies: list[float] = field(default_factory=list, repr=False)


async def probe_latencies(
    base_url: str, mqtt_port: int, probes: int, seconds: float
) -> tuple[list[float], int]:
    """Publish a state for one probe printer every 100 ms; poll the API until each shows up."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe")
    client.connect("127.0.0.1", mqtt_port)
    client.loop_start()
    pending: dict[str, tuple[int, float]] = {}
    latencies: list[float] = []
    sent = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        login = await http.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        started = time.monotonic()
        next_probe = started
        seq = int(time.time() * 1000) * 100
        while time.monotonic() - started < seconds or (pending and time.monotonic() - started < seconds + 10):
            now = time.monotonic()
            if now >= next_probe and now - started < seconds:
                pid = pid_of(sent % probes)
                if pid not in pending:
                    seq += 1
                    payload = STATE % (int(time.time() * 1000), seq, 0, 0.5, 1.0, 1, 215.0)
                    client.publish(f"{PREFIX}/{pid}/state", payload, qos=1, retain=True)
                    pending[pid] = (seq, now)
                sent += 1
                next_probe += PROBE_PERIOD_S
            if pending:
                page = await http.get("/api/fleet/printers", params={"limit": probes}, headers=headers)
                seen_at = time.monotonic()
                for printer in page.json()["items"]:
                    waiting = pending.get(printer["id"])
                    if waiting is not None and (printer["seq"] or 0) >= waiting[0]:
                        latencies.append(seen_at - waiting[1])
                        del pending[printer["id"]]
            await asyncio.sleep(POLL_PERIOD_S)
    client.loop_stop()
    return latencies, sent


def cloud_phase(
    args: argparse.Namespace, workdir: Path, mqtt_port: int, broker: psutil.Process, database_url: str
) -> CloudFigures:
    asyncio.run(enrol_printers(database_url, args.printers, args.probes))
    clouds = [
        start_cloud(args, workdir, mqtt_port, database_url, replica) for replica in range(args.replicas)
    ]
    urls = [f"http://127.0.0.1:{port}" for _, port in clouds]

    def scrape() -> str:
        return "\n".join(httpx.get(f"{url}/metrics").text for url in urls)

    try:
        generators = start_generators(args, mqtt_port, args.warmup_seconds + args.seconds + 2)
        time.sleep(args.warmup_seconds)
        watched = [psutil.Process(cloud.pid) for cloud, _ in clouds]
        gens = [psutil.Process(p.pid) for p in generators]
        database_processes = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
        cpu0 = (cpu_s(watched), cpu_s([broker]), cpu_s(gens), cpu_s(database_processes, children=False))
        metrics0 = scrape()
        t0 = time.monotonic()
        latencies, sent = asyncio.run(probe_latencies(urls[0], mqtt_port, args.probes, args.seconds))
        metrics1 = scrape()
        elapsed = time.monotonic() - t0
        cpu1 = (cpu_s(watched), cpu_s([broker]), cpu_s(gens), cpu_s(database_processes, children=False))
        for process in generators:
            process.wait()
    finally:
        for cloud, _ in clouds:
            cloud.terminate()
        for cloud, _ in clouds:
            cloud.wait(60)
    name = "threedpot_cloud_ingest"
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return CloudFigures(
        offered_msg_s=offered_rate(args),
        ingested_msg_s=(
            ingested(metrics1, f"{name}_messages_total") - ingested(metrics0, f"{name}_messages_total")
        )
        / elapsed,
        dropped=ingested(metrics1, f"{name}_dropped_total"),
        inbox_overflow=ingested(metrics1, f'{name}_dropped_total{{reason="inbox_overflow"}}'),
        backpressure_waits=ingested(metrics1, f"{name}_backpressure_waits_total"),
        write_retries=ingested(metrics1, f"{name}_write_retries_total"),
        latency_p50_s=quantiles[49],
        latency_p99_s=quantiles[98],
        latency_max_s=max(latencies, default=float("nan")),
        probes_seen=len(latencies),
        probes_sent=sent,
        cpu_cloud_pct=100 * (cpu1[0] - cpu0[0]) / elapsed,
        cpu_broker_pct=100 * (cpu1[1] - cpu0[1]) / elapsed,
        cpu_generators_pct=100 * (cpu1[2] - cpu0[2]) / elapsed,
        cpu_postgres_pct=100 * (cpu1[3] - cpu0[3]) / elapsed,
        latencies=latencies,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cloud_ingest", description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("run", "generate", "serve-profiled"), default="run")
    parser.add_argument("--printers", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window of the cloud phase")
    parser.add_argument("--warmup-seconds", type=float, default=10.0)
    parser.add_argument("--raw-seconds", type=float, default=10.0, help="measured window of the raw phase")
    parser.add_argument(
        "--state-period-s", type=float, default=30.0, help="each printer's state changes this often"
    )
    parser.add_argument("--probes", type=int, default=50, help="printers whose states measure latency")
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    parser.add_argument("--replicas", type=int, default=1, help="cloud processes sharing the subscription")
    parser.add_argument("--database-url", default=None, help="postgresql://... (dropped and created!)")
    parser.add_argument("--profile", action="store_true", help="run the cloud under pyinstrument")
    # generator mode
    parser.add_argument("--port", type=int)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--profile-out", type=Path)
    args = parser.parse_args(argv)
    if args.mode == "serve-profiled":
        serve_profiled(args.config, args.port, args.profile_out)
        return 0
    if args.mode == "generate":
        generate(args.port, args.first, args.count, args.seconds, args.state_period_s, args.probes)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'cloud.db'}"
        if database_url.startswith("postgres"):
            asyncio.run(recreate_postgres(database_url))
        broker, mqtt_port = start_mosquitto(workdir)
        try:
            print(f"raw phase: {args.printers} printers, mosquitto_sub counting {args.raw_seconds:.0f} s ...")
            raw = raw_phase(args, mqtt_port)
            print(f"cloud phase: warm-up {args.warmup_seconds:.0f} s, measuring {args.seconds:.0f} s ...")
            figures = cloud_phase(args, workdir, mqtt_port, psutil.Process(broker.pid), database_url)
        finally:
            broker.terminate()
            broker.wait()
        profile = workdir / "profile-0.txt"
        profile_text = profile.read_text() if profile.exists() else ""
        log_tail = (workdir / "cloud-0.log").read_text(errors="replace")[-3000:]
    database = "postgresql" if database_url.startswith("postgres") else "sqlite"
    report = {
        "printers": args.printers,
        "replicas": args.replicas,
        "database": database,
        "cpus": os.cpu_count(),
        "raw_mosquitto_sub_msg_s": raw,
        "ratio_to_raw": figures.ingested_msg_s / raw if raw else None,
        **{k: v for k, v in asdict(figures).items() if k != "latencies"},
        "goal": ">= 10000 msg/s, p99 < 2 s",
    }
    print(json.dumps(report, indent=2))
    if profile_text:
        print(profile_text[:12_000])
    if figures.dropped:
        print("cloud log tail:\n" + log_tail)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.with_name(f"cloud_ingest_{database}_{args.replicas}.json").write_text(
        json.dumps(report, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
