"""Cloud API benchmark: the fleet summary for 1,000 printers under load from wrk on loopback.

    make bench-api      (or: .venv/bin/python -m bench.cloud_api --printers 1000 [--database-url postgresql://...])

One run, side by side: `GET /api/fleet/summary` (authenticated, aggregates 1,000 printers' states)
and `GET /healthz` (no auth, no database: the HTTP stack's own floor on this machine), each driven by
wrk (Debian package `wrk`) with the same threads, connections and duration. Goal (issue "Cloud"):
≥ 1,000 req/s with p95 < 100 ms for the summary. The cloud runs as `3dpot cloud` (one uvicorn process)
on SQLite by default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, select

from cloud.db import create_engine
from cloud.fleet.models import PrinterStateRow
from cloud.printers.models import Printer
from cloud.users.models import Organisation

ADMIN = {"email": "bench@example.com", "password": "a benchmark passphrase of some length"}
RESULTS = Path(".bench/cloud_api.json")
STATES = ("standby", "printing", "printing", "printing", "paused", "complete", "error")
LUA = """
local token = os.getenv("BENCH_TOKEN")
request = function()
  if token and token ~= "" then
    return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token})
  end
  return wrk.format("GET", nil)
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, errors))
end
"""


@dataclass(frozen=True, slots=True)
class Figures:
    endpoint: str
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _seed(url: str, printers: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            org_id = (await conn.execute(select(Organisation.id).limit(1))).scalar_one()
            rng = random.Random(7)
            await conn.execute(
                insert(Printer),
                [
                    {
                        "pid": f"bench-{i:05d}",
                        "org_id": org_id,
                        "name": f"Printer {i}",
                        "tags": ["farm-a" if i % 2 else "farm-b"],
                        "nozzle_mm": 0.4 if i % 3 else 0.6,
                        "material": "PLA" if i % 4 else "PETG",
                        "mqtt_password_hash": "-",
                    }
                    for i in range(printers)
                ],
            )
            await conn.execute(
                insert(PrinterStateRow),
                [
                    {
                        "printer_id": f"bench-{i:05d}",
                        "seq": 1,
                        "printer_state": rng.choice(STATES),
                        "link": "connected",
                        "queue_length": rng.randint(0, 3),
                        "progress": rng.random(),
                        "snapshot": {},
                        "online": rng.random() > 0.05,
                    }
                    for i in range(printers)
                ],
            )
    finally:
        await engine.dispose()


def run_wrk(url: str, token: str, seconds: int, connections: int, script: Path) -> dict[str, float]:
    env = {"BENCH_TOKEN": token, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("{"))
    result: dict[str, float] = json.loads(line)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--printers", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{work / 'cloud.db'}"
        config = work / "cloud.toml"
        config.write_text(
            f'data_dir = "{work / "data"}"\ndatabase_url = "{database_url}"\n'
            f'mqtt_url = "mqtt://127.0.0.1:{_free_port()}"\n'
            f'[bootstrap_admin]\nemail = "{ADMIN["email"]}"\npassword = "{ADMIN["password"]}"\n'
        )
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "threedpot", "cloud", "--config", str(config), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=(work / "cloud.log").open("wb"),
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("the cloud did not start:\n" + (work / "cloud.log").read_text())
                time.sleep(0.2)
            asyncio.run(_seed(database_url, args.printers))
            token = httpx.post(f"{base}/api/auth/login", json=ADMIN, timeout=30).json()["access_token"]
            summary = httpx.get(f"{base}/api/fleet/summary", headers={"Authorization": f"Bearer {token}"})
            summary.raise_for_status()
            console.print(f"summary of {args.printers} printers: {summary.json()}")
            script = work / "report.lua"
            script.write_text(LUA)
            results = []
            for endpoint, auth in (("/api/fleet/summary", token), ("/healthz", "")):
                raw = run_wrk(base + endpoint, auth, args.seconds, args.connections, script)
                results.append(
                    Figures(
                        endpoint,
                        raw["requests"] / raw["seconds"],
                        raw["p50_ms"],
                        raw["p95_ms"],
                        raw["p99_ms"],
                        int(raw["errors"]),
                    )
                )
        finally:
            server.terminate()
            server.wait(15)
    table = Table(
        title=f"Cloud API: {args.printers} printers, wrk -t2 -c{args.connections} -d{args.seconds}s, one run"
    )
    for column in ("endpoint", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"):
        table.add_column(column)
    for f in results:
        table.add_row(
            f.endpoint,
            f"{f.requests_per_s:,.0f}",
            f"{f.p50_ms:.1f}",
            f"{f.p95_ms:.1f}",
            f"{f.p99_ms:.1f}",
            str(f.errors),
        )
    console.print(table)
    summary_f, floor = results
    console.print(
        f"summary / healthz throughput: {summary_f.requests_per_s / floor.requests_per_s:.2f}x; "
        f"goal ≥ 1,000 req/s "
        f"({'met' if summary_f.requests_per_s >= 1000 else 'NOT met'}), p95 < 100 ms "
        f"({'met' if summary_f.p95_ms < 100 else 'NOT met'})"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps([asdict(f) for f in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
