"""An agent enrols with a real `3dpot cloud` process using an operator's claim code, then comes online
on MQTT under the printer id the cloud gave it and takes job offers signed with the cloud's key."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess
from tests.fixtures.broker import MosquittoBroker
from tests.fixtures.cloud_process import CloudProcess

pytestmark = pytest.mark.integration


async def test_an_agent_enrols_with_a_claim_code_and_comes_online_under_its_cloud_identity(
    tmp_path: Path,
    cloud_process: CloudProcess,
    mosquitto: MosquittoBroker,
    virtual_printer_process: Callable[..., PrinterProcess],
    agent_process: Callable[..., AgentProcess],
    mqtt_recorder: Callable[..., Any],
) -> None:
    async with httpx.AsyncClient(base_url=cloud_process.url, timeout=10) as http:
        token = (await http.post("/api/auth/login", json=cloud_process.admin)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        created = await http.post("/api/printers/claim-codes", json={"name": "bench left"}, headers=headers)
    assert created.status_code in (200, 201), created.text
    code = created.json()["code"]

    link = tmp_path / "ttyENROL"
    virtual_printer_process("--link", str(link), "--baud", "0")
    recorder = await mqtt_recorder(mosquitto.url, "fleet/v1/+/status")
    data_dir = tmp_path / "agent"
    agent = await asyncio.to_thread(
        agent_process,
        serial_port=link,
        data_dir=data_dir,
        enrol=code,
        cloud_url=cloud_process.url,
        material="PETG",
        nozzle=0.6,
    )

    enrolment = json.loads((data_dir / "enrolment.json").read_text())
    assert stat.S_IMODE(os.stat(data_dir / "enrolment.json").st_mode) == 0o600
    pid = enrolment["printer_id"]
    await recorder.wait_for(
        lambda ms: any(m.topic == f"fleet/v1/{pid}/status" and m.payload == b"online" for m in ms)
    )

    async with httpx.AsyncClient(base_url=cloud_process.url, timeout=10) as http:
        printers = (await http.get("/api/printers", headers=headers)).json()
    listed = printers["items"] if isinstance(printers, dict) else printers
    mine = next(p for p in listed if p["id"] == pid)
    assert mine["name"] == "bench left" and mine["material"] == "PETG" and mine["nozzle_mm"] == 0.6

    # the code was single-use: a second agent cannot enrol with it
    again = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "threedpot", "agent", "--enrol", code, "--cloud-url", cloud_process.url,
         "--data-dir", str(tmp_path / "second"), "--serial-port", str(link)],
        check=False, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert again.returncode == 2 and "refused the claim code" in again.stderr

    # restart without --enrol: the stored enrolment still applies
    await asyncio.to_thread(agent.terminate)
    agent.flags.pop("enrol")
    agent.flags.pop("cloud_url")
    recorder.messages.clear()
    await asyncio.to_thread(agent.start)
    await recorder.wait_for(
        lambda ms: any(m.topic == f"fleet/v1/{pid}/status" and m.payload == b"online" for m in ms)
    )
