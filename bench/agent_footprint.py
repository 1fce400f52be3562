"""Agent footprint benchmark: RSS and CPU of a whole `3dpot agent` printing at ≥ 1,000 lines/s.

    make bench-agent      (or: .venv/bin/python -m bench.agent_footprint --moves 60000)

One run, side by side on the same virtual printer (native USB, no wire limit, 1 ms reply latency):
  * `3dpot print` — the firmware bridge alone (link + streamer), the floor any host pays;
  * `3dpot agent` — the whole daemon: SQLite checkpoints, MQTT (state, tele 1 Hz, events) to a real
    Mosquitto, the HTTP API being polled once a second like a dashboard would, the watchdog.
Goals (issue "Edge agent"): agent RSS < 80 MB and CPU < 25 % of one core while streaming ≥ 1,000 lines/s.
The agent's figures are sampled with psutil while the job prints; every move is checked once.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from firmware_bridge.samples import count_moves, dense_print
from firmware_bridge.virtual.process import PrinterProcess

API_KEY = "bench-agent-key-1"
LATENCY_MS = "1"
RESULTS = Path(".bench/agent_footprint.json")


@dataclass(frozen=True, slots=True)
class Figures:
    host: str
    lines: int
    seconds: float
    lines_per_s: float
    cpu_percent_of_one_core: float
    rss_mb_max: float
    rss_mb_mean: float
    moves_ok: bool


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _broker(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = _free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"mqtt://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


class Sampler:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.rss: list[float] = []
        self.cpu0 = self._cpu()
        self.t0 = time.perf_counter()

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def sample(self) -> None:
        self.rss.append(self.process.memory_info().rss / 1e6)

    def cpu_percent(self) -> float:
        return 100.0 * (self._cpu() - self.cpu0) / (time.perf_counter() - self.t0)


def bridge_only(path: Path, lines: int, moves: int) -> Figures:
    with PrinterProcess("--baud", "0", "--ack-delay-ms", LATENCY_MS) as printer:
        argv = [
            sys.executable,
            "-m",
            "threedpot",
            "print",
            str(path),
            "--port",
            printer.path,
            "--baud",
            "0",
            "--json",
        ]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        sampler = Sampler(process.pid)
        while process.poll() is None:
            try:
                sampler.sample()
                cpu = sampler.cpu_percent()
            except psutil.NoSuchProcess:
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - sampler.t0
        process.wait()
        stats = printer.stats()
    return Figures(
        "3dpot print (bridge only)",
        lines,
        seconds,
        lines / seconds,
        cpu,
        max(sampler.rss),
        sum(sampler.rss) / len(sampler.rss),
        stats["moves_executed"] == moves,
    )


def whole_agent(path: Path, lines: int, moves: int, workdir: Path) -> Figures:
    broker, mqtt_url = _broker(workdir)
    http_port = _free_port()
    try:
        with PrinterProcess("--baud", "0", "--ack-delay-ms", LATENCY_MS) as printer:
            argv = [
                sys.executable, "-m", "threedpot", "agent", "--serial-port", printer.path, "--baud", "250000",
                "--printer-id", "bench1", "--mqtt-url", mqtt_url, "--http-host", "127.0.0.1",
                "--http-port", str(http_port), "--data-dir", str(workdir / "agent"), "--api-key", API_KEY,
            ]  # fmt: skip
            log = (workdir / "agent.log").open("wb")
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{http_port}"
            headers = {"X-Api-Key": API_KEY}
            with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
                deadline = time.monotonic() + 20
                while True:
                    try:
                        if http.get("/api/agent/printer").json()["link"] == "connected":
                            break
                    except (httpx.HTTPError, KeyError):
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError((workdir / "agent.log").read_text())
                    time.sleep(0.1)
                with path.open("rb") as fh:
                    response = http.post(
                        "/api/files/local", files={"file": (path.name, fh)}, data={"print": "true"}
                    )
                response.raise_for_status()
                sampler = Sampler(process.pid)
                while True:
                    sampler.sample()
                    job = http.get("/api/job").json()  # a dashboard polling once a second
                    if job["state"] == "Operational" and job["progress"]["completion"] == 100.0:
                        break
                    time.sleep(1.0)
                seconds = time.perf_counter() - sampler.t0
                cpu = sampler.cpu_percent()
            process.terminate()
            process.wait(15)
            stats = printer.stats()
    finally:
        broker.terminate()
        broker.wait(5)
    return Figures(
        "3dpot agent (whole daemon)",
        lines,
        seconds,
        lines / seconds,
        cpu,
        max(sampler.rss),
        sum(sampler.rss) / len(sampler.rss),
        stats["moves_executed"] == moves,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=60_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        text = dense_print(args.moves)
        path = workdir / "dense.gcode"
        path.write_text(text)
        lines = sum(1 for line in text.splitlines() if line.strip() and not line.startswith(";"))
        moves = count_moves(text)
        results = [bridge_only(path, lines, moves), whole_agent(path, lines, moves, workdir)]
    table = Table(title=f"Agent footprint: {lines:,} lines, native USB + {LATENCY_MS} ms latency, one run")
    for column in ("host", "lines/s", "CPU % of one core", "RSS max MB", "RSS mean MB", "every move once"):
        table.add_column(column)
    for f in results:
        table.add_row(
            f.host,
            f"{f.lines_per_s:,.0f}",
            f"{f.cpu_percent_of_one_core:.1f}",
            f"{f.rss_mb_max:.1f}",
            f"{f.rss_mb_mean:.1f}",
            "yes" if f.moves_ok else "NO",
        )
    console = Console()
    console.print(table)
    bridge, agent = results
    console.print(
        f"agent / bridge CPU: {agent.cpu_percent_of_one_core / bridge.cpu_percent_of_one_core:.2f}x; "
        f"goals: RSS < 80 MB ({'met' if agent.rss_mb_max < 80 else 'NOT met'}), "
        f"CPU < 25 % ({'met' if agent.cpu_percent_of_one_core < 25 else 'NOT met'}) "
        f"at {agent.lines_per_s:,.0f} lines/s ({'≥' if agent.lines_per_s >= 1000 else '<'} 1,000)"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps([asdict(f) for f in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
