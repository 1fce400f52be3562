"""The demo farm: the cloud on SQLite, virtual printers with agents enrolled by claim code, a sample job.

Everything the operator would do by hand, done through the public interfaces: the cloud's REST API
(log in, make claim codes, mark beds clear, upload a job to the farm queue) and the agent's command
line (``--enrol CODE --cloud-url URL``). What comes up is the same stack `docker compose` runs, on
embedded defaults: SQLite, one broker, virtual Marlin printers modelling real move times.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from firmware_bridge.samples import dense_print
from threedpot.demo.broker import free_port
from threedpot.demo.children import Child, ChildFailed, Children

ADMIN_EMAIL: Final = "demo@3dpot.example"
START_TIMEOUT_S: Final = 60.0
SAMPLE_MOVES: Final = 12_000  # about ten minutes at real speed on the virtual printer

PRINTERS: Final[tuple[tuple[str, list[str], str, float], ...]] = (
    # name, tags, material, nozzle (mm)
    ("Bay 1", ["left", "pla"], "PLA", 0.4),
    ("Bay 2", ["right", "petg"], "PETG", 0.6),
    ("Bay 3", ["right", "pla"], "PLA", 0.4),
)


@dataclass(slots=True)
class DemoPrinter:
    name: str
    pid: str
    agent_url: str
    link: Path


@dataclass(slots=True)
class DemoFarm:
    url: str
    email: str
    password: str
    broker: str
    work_dir: Path
    printers: list[DemoPrinter] = field(default_factory=list)
    sample_job: dict[str, Any] = field(default_factory=dict)


async def _wait(what: str, children: Children, check: Any, timeout_s: float = START_TIMEOUT_S) -> Any:
    """Poll ``await check()`` until it returns something truthy; a child dying ends the wait at once."""
    deadline = time.monotonic() + timeout_s
    while True:
        children.check_alive()
        try:
            result = await check()
        except (httpx.HTTPError, OSError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def start_cloud(
    children: Children, work_dir: Path, mqtt_url: str, port: int, *, shared_subscriptions: bool = True
) -> tuple[str, str, Child]:
    """``3dpot cloud`` on SQLite in ``work_dir``; returns (url, admin password, child).

    One replica: without ``shared_subscriptions`` (the embedded broker has none) it subscribes plainly."""
    if not _port_free(port):
        port = free_port()
    url = f"http://127.0.0.1:{port}"
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"  # nothing to misread when typed from the terminal
    password = "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))
    config = work_dir / "cloud.toml"
    config.write_text(
        f'data_dir = "{work_dir / "cloud"}"\n'
        f'mqtt_url = "{mqtt_url}"\n'
        f'public_base_url = "{url}"\n'
        f'[bootstrap_admin]\nemail = "{ADMIN_EMAIL}"\npassword = "{password}"\n'
        "[jobs]\npoll_interval_s = 1.0\n"
        "[ingest]\npersistent_session = true\n"  # events published while the cloud restarts wait for it
        + ("" if shared_subscriptions else 'share_group = ""\n')
    )
    child = await children.start_3dpot("cloud", "cloud", "--config", str(config), "--port", str(port))

    async def ready() -> bool:
        async with httpx.AsyncClient(timeout=1.0) as http:
            return (await http.get(f"{url}/readyz")).status_code == 200

    await _wait("the cloud to answer /readyz", children, ready)
    return url, password, child


PrinterSpec = tuple[str, list[str], str, float]


async def _enrol_one(
    children: Children, http: httpx.AsyncClient, farm: DemoFarm, n: int, spec: PrinterSpec
) -> DemoPrinter:
    name, tags, material, nozzle = spec
    created = await http.post("/api/printers/claim-codes", json={"name": name, "tags": tags})
    created.raise_for_status()
    link = farm.work_dir / f"tty-bay{n + 1}"
    await children.start_3dpot(
        f"printer-bay{n + 1}", "virtual-printer", "--link", str(link), "--baud", "0", "--move-time-scale", "1"
    )

    async def linked() -> bool:
        return link.exists()

    await _wait(f"virtual printer {name}", children, linked)
    http_port = free_port()
    await children.start_3dpot(
        f"agent-bay{n + 1}",
        "agent",
        "--serial-port", str(link),
        "--data-dir", str(farm.work_dir / f"agent-bay{n + 1}"),
        "--http-host", "127.0.0.1",
        "--http-port", str(http_port),
        "--api-key", secrets.token_urlsafe(16),
        "--enrol", created.json()["code"],
        "--cloud-url", farm.url,
        "--material", material,
        "--nozzle", str(nozzle),
    )  # fmt: skip

    async def enrolled() -> str | None:
        listed = (await http.get("/api/printers")).json()
        return next((str(p["id"]) for p in listed if p["name"] == name), None)

    pid = await _wait(f"the agent of {name} to enrol", children, enrolled)
    return DemoPrinter(name, str(pid), f"http://127.0.0.1:{http_port}", link)


async def enrol_printers(children: Children, farm: DemoFarm, printers: int) -> None:
    """Claim codes → virtual printers → agents enrolling with them; until the fleet shows every printer."""
    async with httpx.AsyncClient(base_url=farm.url, timeout=30.0) as http:
        http.headers["Authorization"] = f"Bearer {await _login(http, farm)}"
        specs = [PRINTERS[n % len(PRINTERS)] for n in range(printers)]
        specs = [(f"Bay {n + 1}", *spec[1:]) for n, spec in enumerate(specs)]
        farm.printers = list(
            await asyncio.gather(*(_enrol_one(children, http, farm, n, s) for n, s in enumerate(specs)))
        )

        async def fleet_up() -> bool:
            items = (await http.get("/api/fleet/printers")).json()["items"]
            seen = {p["id"]: p for p in items}
            return all(
                p.pid in seen and seen[p.pid]["online"] and seen[p.pid]["link"] == "connected"
                for p in farm.printers
            )

        await _wait("every agent online and connected to its printer", children, fleet_up)
        for printer in farm.printers:  # the operator says every bed is clear
            sent = await http.post(f"/api/printers/{printer.pid}/commands/queue-start")
            sent.raise_for_status()


async def _login(http: httpx.AsyncClient, farm: DemoFarm) -> str:
    response = await http.post("/api/auth/login", json={"email": farm.email, "password": farm.password})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def submit_sample_job(children: Children, farm: DemoFarm) -> None:
    """A sample vase into the farm queue (PLA); until the printer it went to is printing."""
    async with httpx.AsyncClient(base_url=farm.url, timeout=30.0) as http:
        http.headers["Authorization"] = f"Bearer {await _login(http, farm)}"
        body = dense_print(SAMPLE_MOVES).encode()
        response = await http.post(
            "/api/jobs",
            files={"file": ("sample-vase.gcode", body, "application/octet-stream")},
            data={"material": "PLA"},
        )
        response.raise_for_status()
        job_id = response.json()["id"]

        async def printing() -> dict[str, Any] | None:
            job: dict[str, Any] = (await http.get(f"/api/jobs/{job_id}")).json()
            return job if job["state"] == "printing" else None

        farm.sample_job = await _wait("the sample job to start printing", children, printing)


async def run_farm(children: Children, farm: DemoFarm, printers: int) -> None:
    try:
        await enrol_printers(children, farm, printers)
        await submit_sample_job(children, farm)
    except (TimeoutError, httpx.HTTPStatusError) as exc:
        raise ChildFailed(f"{exc}; logs are in {children.log_dir}") from exc
