"""A real farm for the browser tests: `3dpot cloud`, and three `3dpot agent` processes on virtual printers
enrolled with claim codes, all on the session's Mosquitto.

The printers model move time (``--move-time-scale 1``), so a print of a few thousand moves lasts minutes:
long enough to watch it in the browser, pause it and resume it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from firmware_bridge.samples import dense_print
from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess
from tests.fixtures.cloud_process import CloudProcess

PRINTERS: tuple[tuple[str, list[str], str, float], ...] = (
    # name, tags, material, nozzle_mm
    ("Bay 1", ["left"], "PLA", 0.4),
    ("Bay 2", ["right"], "PETG", 0.6),
    ("Bay 3", ["right"], "PLA", 0.4),
)
LONG_PRINT_MOVES = 6000


@dataclass
class FarmPrinter:
    name: str
    pid: str
    agent: AgentProcess
    printer: PrinterProcess


@dataclass
class Farm:
    workdir: Path
    cloud: CloudProcess
    printers: list[FarmPrinter] = field(default_factory=list)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.cloud.token()}"}
        return httpx.request(method, f"{self.cloud.url}{path}", headers=headers, timeout=30, **kwargs)

    def enrol(self, n: int, name: str, tags: list[str], material: str, nozzle: float) -> FarmPrinter:
        created = self.api("POST", "/api/printers/claim-codes", json={"name": name, "tags": tags})
        created.raise_for_status()
        link = self.workdir / f"tty{n}"
        printer = PrinterProcess("--link", str(link), "--baud", "0", "--move-time-scale", "1")
        agent = AgentProcess(
            self.workdir,
            serial_port=link,
            data_dir=self.workdir / f"agent-{n}",
            enrol=created.json()["code"],
            cloud_url=self.cloud.url,
            material=material,
            nozzle=nozzle,
        )
        listed = self.api("GET", "/api/printers").json()
        pid = next(p["id"] for p in listed if p["name"] == name)
        farm_printer = FarmPrinter(name, pid, agent, printer)
        self.printers.append(farm_printer)
        return farm_printer

    def fleet(self) -> dict[str, dict[str, Any]]:
        items = self.api("GET", "/api/fleet/printers").json()["items"]
        return {p["id"]: p for p in items}

    def wait_fleet(self, timeout_s: float = 30.0) -> None:
        """Until the cloud has every printer online with a state (the ingest works)."""
        deadline = time.monotonic() + timeout_s
        fleet: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            fleet = self.fleet()
            if all(
                p.pid in fleet and fleet[p.pid]["online"] and fleet[p.pid]["printer_state"]
                for p in self.printers
            ):
                return
            time.sleep(0.3)
        raise AssertionError(
            f"the cloud does not show every printer online with a state: {fleet}\n{self.cloud.log_text()[-3000:]}"
        )

    def start_print(self, printer: FarmPrinter, name: str = "bracket.gcode") -> None:
        """Print a long file now, the way a slicer's "upload and print" does (OctoPrint API)."""
        response = httpx.post(
            f"{printer.agent.url}/api/files/local",
            headers=printer.agent.headers,
            files={"file": (name, dense_print(LONG_PRINT_MOVES).encode(), "application/octet-stream")},
            data={"print": "true", "path": ""},
            timeout=30,
        )
        assert response.status_code == 201, response.text

    def stop(self) -> None:
        for printer in self.printers:
            printer.agent.terminate()
        for printer in self.printers:
            with contextlib.suppress(Exception):
                printer.printer.stop()
            printer.printer.kill()
        self.cloud.stop()


def build_farm(workdir: Path, mqtt_url: str) -> Farm:
    cloud_dir = workdir / "cloud-process"
    cloud_dir.mkdir()
    farm = Farm(workdir, CloudProcess(cloud_dir, mqtt_url))
    try:
        for n, (name, tags, material, nozzle_mm) in enumerate(PRINTERS):
            farm.enrol(n, name, tags, material, nozzle_mm)
        for printer in farm.printers:
            printer.agent.wait_connected()
    except BaseException:
        farm.stop()
        raise
    return farm
