"""The whole farm as processes: the components in order, enrolment, jobs through the farm queue.

Components (``components.py``; each ``start()`` / ``stop()`` / ``kill()``, restartable in place on the same
port and data): ``PostgresCluster``, ``MosquittoBroker`` (tests.fixtures.broker, persistence on, so a
restart keeps sessions), ``TcpProxy`` between one agent and the broker, ``CloudServer``, and per ``Bay`` a
``3dpot virtual-printer`` (``--link``, ``--move-time-scale``) with its ``3dpot agent`` enrolled by a claim
code.

``Farm`` builds them in order, logs in, enrols the bays and drives jobs through the farm queue; its
``Clearer`` thread marks a printer's bed clear (``queue-start``) after each completion so the next job
dispatches, riding out cloud outages.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from firmware_bridge.samples import count_moves, dense_print
from tests.fixtures.broker import MosquittoBroker, find_mosquitto
from tests.system.components import (
    ADMIN,
    Agent,
    CloudServer,
    PostgresCluster,
    Printer,
    TcpProxy,
    find_pg_bin,
    wait_for,
)

__all__ = ["Bay", "Clearer", "Farm", "FarmConfig", "MissingInfrastructure", "SubmittedJob", "wait_for"]


@dataclass
class Bay:
    """One virtual printer and its agent, enrolled as printer ``pid``."""

    n: int
    name: str
    pid: str
    link: Path
    printer: Printer
    agent: Agent
    printer_flags: tuple[str, ...]
    via_proxy: bool = False


@dataclass
class SubmittedJob:
    id: str
    moves: int  # G0/G1 lines of the file, header and footer included
    submitted_at: float


@dataclass
class FarmConfig:
    agents: int = 3
    move_time_scale: float = 0.3
    proxied_bay: int | None = 0  # this bay's agent talks to the broker through the TcpProxy
    corrupt_ratio: dict[int, float] = field(default_factory=dict)  # bay → --corrupt-ratio
    printer_baud: int = 0
    material: str = "PLA"
    enrol_parallel: int = 6  # bays brought up at once
    persistent_ingest: bool = True  # the cloud's ingest keeps its broker session (one cloud replica)


class Farm:
    """Every component of a farm, started in order; ``close()`` ends them in reverse."""

    def __init__(self, root: Path, config: FarmConfig) -> None:
        self.root = root
        self.config = config
        self.bays: list[Bay] = []
        self.jobs: list[SubmittedJob] = []
        self.pg: PostgresCluster | None = None
        self.broker: MosquittoBroker | None = None
        self.proxy: TcpProxy | None = None
        self.cloud: CloudServer | None = None
        self.clearer: Clearer | None = None
        self._token = ""
        self._printers: list[Printer] = []  # every one started, enrolled or not: close() ends them all
        self._agents: list[Agent] = []

    # -- bring-up ------------------------------------------------------------------------------------

    def start(self) -> None:
        bin_dir = find_pg_bin()
        mosquitto = find_mosquitto()
        if bin_dir is None or mosquitto is None:
            raise MissingInfrastructure("the system tests need PostgreSQL binaries (initdb) and mosquitto")
        self.pg = PostgresCluster(bin_dir)
        self.pg.start()
        dsn = self.pg.create_database("cloud")
        (self.root / "broker").mkdir(parents=True, exist_ok=True)
        self.broker = MosquittoBroker(mosquitto, self.root / "broker", persistence=True)
        self.broker.start()
        if self.config.proxied_bay is not None:
            self.proxy = TcpProxy(self.broker.host, self.broker.port)
        self.cloud = CloudServer(
            self.root, self.broker.url, dsn, persistent_ingest=self.config.persistent_ingest
        )
        self.cloud.start()
        self.login()
        with ThreadPoolExecutor(max_workers=min(self.config.enrol_parallel, self.config.agents)) as pool:
            self.bays = list(pool.map(self._enrol_bay, range(self.config.agents)))
        for bay in self.bays:
            bay.agent.wait_connected(60)
        wait_for(self._fleet_up, 60 + self.config.agents, "every printer online and connected in the cloud")
        for bay in self.bays:
            self.clear_bed(bay.pid)
        self.clearer = Clearer(self)
        self.clearer.start()

    def _enrol_bay(self, n: int) -> Bay:
        assert self.cloud is not None and self.broker is not None
        name = f"bay {n}"
        code = self.api("POST", "/api/printers/claim-codes", json={"name": name}).json()["code"]
        link = self.root / f"tty{n}"
        flags = (
            "--link", str(link),
            "--baud", str(self.config.printer_baud),
            "--move-time-scale", str(self.config.move_time_scale),
            "--corrupt-ratio", str(self.config.corrupt_ratio.get(n, 0.0)),
            "--seed", str(n + 1),
        )  # fmt: skip
        printer = Printer(*flags)
        self._printers.append(printer)
        via_proxy = self.proxy is not None and n == self.config.proxied_bay
        extra: dict[str, Any] = {"mqtt_url": self.proxy.url} if via_proxy and self.proxy else {}
        agent = Agent(
            self.root,
            serial_port=link,
            data_dir=self.root / f"agent-{n}",
            enrol=code,
            cloud_url=self.cloud.url,
            material=self.config.material,
            nozzle=0.4,
            **extra,
        )
        self._agents.append(agent)
        pid = wait_for(
            lambda: next(
                (p["id"] for p in self.api("GET", "/api/printers").json() if p["name"] == name), None
            ),
            30,
            f"{name} enrolled",
        )
        for once in ("enrol", "cloud_url"):  # the claim code is spent: a restart runs on enrolment.json
            agent.flags.pop(once, None)
        return Bay(n, name, str(pid), link, printer, agent, flags, via_proxy)

    def _fleet_up(self) -> bool:
        items = {p["id"]: p for p in self.fleet_printers()}
        return all(
            b.pid in items and items[b.pid]["online"] and items[b.pid]["link"] == "connected"
            for b in self.bays
        )

    # -- the cloud's API -----------------------------------------------------------------------------

    def login(self) -> None:
        assert self.cloud is not None
        response = httpx.post(f"{self.cloud.url}/api/auth/login", json=ADMIN, timeout=30)
        response.raise_for_status()
        self._token = str(response.json()["access_token"])

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call to the cloud as the admin; raises for an error status."""
        assert self.cloud is not None
        kwargs.setdefault("timeout", 30.0)
        response = httpx.request(
            method, f"{self.cloud.url}{path}", headers={"Authorization": f"Bearer {self._token}"}, **kwargs
        )
        if response.status_code == 401:
            self.login()
            return self.api(method, path, **kwargs)
        response.raise_for_status()
        return response

    def fleet_printers(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.api("GET", "/api/fleet/printers", params={"limit": 1000}).json()[
            "items"
        ]
        return items

    def events(self, pid: str) -> list[dict[str, Any]]:
        """Every event the cloud holds for ``pid``, in seq order."""
        out: list[dict[str, Any]] = []
        after = -1
        while True:
            page = self.api(
                "GET", f"/api/fleet/printers/{pid}/events", params={"after_seq": after, "limit": 1000}
            ).json()
            out += page["items"]
            if page["next_after_seq"] is None:
                return out
            after = page["next_after_seq"]

    def job(self, job_id: str) -> dict[str, Any]:
        detail: dict[str, Any] = self.api("GET", f"/api/jobs/{job_id}").json()
        return detail

    def list_jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        while True:
            page = self.api("GET", "/api/jobs", params={"limit": 1000, "offset": len(jobs)}).json()
            jobs += page
            if len(page) < 1000:
                return jobs

    def clear_bed(self, pid: str) -> None:
        self.api("POST", f"/api/printers/{pid}/commands/queue-start")

    def command(self, pid: str, verb: str) -> None:
        self.api("POST", f"/api/printers/{pid}/commands/{verb}")

    def submit(self, moves: int, name: str = "part") -> SubmittedJob:
        text = dense_print(moves)
        response = self.api(
            "POST",
            "/api/jobs",
            files={"file": (f"{name}.gcode", text.encode(), "application/octet-stream")},
            data={"material": self.config.material},
        )
        job = SubmittedJob(str(response.json()["id"]), count_moves(text), time.monotonic())
        self.jobs.append(job)
        return job

    # -- teardown ------------------------------------------------------------------------------------

    def close(self) -> None:
        if self.clearer is not None:
            self.clearer.stop()
        for agent in self._agents:
            with contextlib.suppress(Exception):
                agent.terminate()
        for printer in self._printers:
            with contextlib.suppress(Exception):
                printer.stop()
            with contextlib.suppress(Exception):
                printer.kill()
        if self.cloud is not None:
            with contextlib.suppress(Exception):
                self.cloud.stop()
            self.cloud.kill()
        if self.proxy is not None:
            self.proxy.close()
        if self.broker is not None:
            self.broker.stop()
        if self.pg is not None:
            self.pg.destroy()

    def archive_logs(self, dest: Path) -> None:
        """Copy every log (and PostgreSQL's) to ``dest``: pytest prunes its tmp dirs, reports stay."""
        dest.mkdir(parents=True, exist_ok=True)
        for name, path in self.logs():
            if path.exists():
                shutil.copy(path, dest / (name.replace(" ", "-") + ".log"))
        if self.pg is not None and self.pg.log_path.exists():
            shutil.copy(self.pg.log_path, dest / "postgres.log")

    def logs(self) -> Iterator[tuple[str, Path]]:
        """(component, log file) of every process that writes one."""
        if self.cloud is not None:
            yield "cloud", self.cloud.log_path
        for bay in self.bays:
            yield f"agent {bay.n}", bay.agent.log_path
        if self.broker is not None:
            yield "mosquitto", self.broker.log_path


class MissingInfrastructure(RuntimeError):
    """PostgreSQL binaries or Mosquitto are not installed."""


class Clearer:
    """Marks a printer's bed clear (``queue-start``) after each job the cloud saw complete on it.

    Polls the job list every ``every_s``; a cloud that is down is simply polled again later.
    """

    def __init__(self, farm: Farm, every_s: float = 1.0) -> None:
        self.farm = farm
        self.every_s = every_s
        self.cleared: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bed-clearer", daemon=True)
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                for job in self.farm.list_jobs():
                    if job["state"] == "completed" and job["id"] not in self.cleared and job["printer_id"]:
                        self.farm.clear_bed(job["printer_id"])
                        self.cleared.add(job["id"])
            except (httpx.HTTPError, OSError, ValueError):
                self.errors += 1
