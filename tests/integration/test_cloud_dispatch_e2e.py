"""Done-when 1 of the cloud issue, end to end: a real `3dpot cloud`, a real Mosquitto, three real
`3dpot agent` processes on virtual printers with different nozzles and materials, enrolled with claim
codes. A job needing PETG on a 0.6 mm nozzle goes to the one printer that fits and completes (the
cloud follows the agent's acks and events); a job for a material nobody has stays queued with its reason.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess
from tests.fixtures.broker import MosquittoBroker, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN = {"email": "farm@example.com", "password": "a long and proper passphrase"}
GCODE = b"; farm job\nG28\nG1 X10 Y10 F6000\nG1 X20 Y20\nG1 X30 Y10\nM400\n"
FARM = [("PLA", 0.4), ("PETG", 0.6), ("PETG", 0.4)]


@pytest.fixture
def farm_cloud(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "cloud.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "cloud"}"\n'
        f'mqtt_url = "{mosquitto.url}"\n'
        f'public_base_url = "{url}"\n'
        f'[bootstrap_admin]\nemail = "{ADMIN["email"]}"\npassword = "{ADMIN["password"]}"\n'
        "[password_hashing]\ntime_cost = 1\nmemory_kib = 1024\nparallelism = 1\n"
        "[jobs]\npoll_interval_s = 0.5\nretry_initial_s = 1.0\n"
    )
    log_path = tmp_path / "cloud.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "threedpot", "cloud", "--config", str(config), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(15)


async def _wait_job(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    job_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = (await http.get(f"/api/jobs/{job_id}", headers=headers)).json()
        if done(job):
            return job
        await asyncio.sleep(0.3)
    raise AssertionError(f"job {job_id} did not get there within {timeout_s} s: {job}")


async def test_a_petg_06_job_goes_to_the_one_printer_that_fits_and_completes(
    tmp_path: Path,
    farm_cloud: str,
    virtual_printer_process: Callable[..., PrinterProcess],
    agent_process: Callable[..., AgentProcess],
) -> None:
    async with httpx.AsyncClient(base_url=farm_cloud, timeout=10) as http:
        token = (await http.post("/api/auth/login", json=ADMIN)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        pids: dict[tuple[str, float], str] = {}
        agents: list[AgentProcess] = []
        for n, (material, nozzle) in enumerate(FARM):
            code = (
                await http.post("/api/printers/claim-codes", json={"name": f"bay {n}"}, headers=headers)
            ).json()
            link = tmp_path / f"tty{n}"
            virtual_printer_process("--link", str(link), "--baud", "0")
            data_dir = tmp_path / f"agent-{n}"
            agent = await asyncio.to_thread(
                agent_process,
                serial_port=link,
                data_dir=data_dir,
                enrol=code["code"],
                cloud_url=farm_cloud,
                material=material,
                nozzle=nozzle,
            )
            agents.append(agent)
            printers = (await http.get("/api/printers", headers=headers)).json()
            pids[(material, nozzle)] = next(p["id"] for p in printers if p["name"] == f"bay {n}")
        for agent in agents:
            await asyncio.to_thread(agent.wait_connected)
        for pid in pids.values():  # the operator says every bed is clear
            sent = await http.post(f"/api/printers/{pid}/commands/queue-start", headers=headers)
            assert sent.status_code == 202, sent.text

        async def upload(material: str, **fields: Any) -> dict[str, Any]:
            response = await http.post(
                "/api/jobs",
                files={"file": ("bracket.gcode", GCODE, "application/octet-stream")},
                data={"material": material, **{k: str(v) for k, v in fields.items()}},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            job: dict[str, Any] = response.json()
            return job

        petg = await upload("PETG", nozzle_mm=0.6)
        abs_job = await upload("ABS")

        done = await _wait_job(
            http, headers, petg["id"], lambda j: j["state"] in ("completed", "failed"), 120
        )
        logs = "\n".join(a.log_text()[-2000:] for a in agents)
        assert done["state"] == "completed", (done, logs)
        assert done["printer_id"] == pids[("PETG", 0.6)]
        kinds = [e["event_type"] for e in done["history"]]
        assert "job.started" in kinds and kinds[-1] == "job.completed", kinds
        offer = next(c for c in done["commands"] if c["verb"] == "job.offer")
        assert offer["status"] == "queued"
        assert [a["status"] for a in offer["acks"]][-1] == "queued"

        waiting = (await http.get(f"/api/jobs/{abs_job['id']}", headers=headers)).json()
        assert waiting["state"] == "queued"
        assert waiting["reason"] == "no printer with material ABS"
        finished = pids[("PETG", 0.6)]
        agent_jobs = agents[1].get("/api/agent/jobs", params={"include_finished": "true"}).json()["jobs"]
        assert [j["job_id"] for j in agent_jobs] == [petg["id"]], finished
        for other in (agents[0], agents[2]):
            assert other.get("/api/agent/jobs", params={"include_finished": "true"}).json()["jobs"] == []
