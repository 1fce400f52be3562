"""Secrets never reach a log, /metrics or an error body.

A real `3dpot cloud` given known secrets (JWT secret, job-signing key, MQTT ingest password, first
admin's password) and a real `3dpot agent` (``--verbose``: DEBUG) on a virtual printer, enrolled with a
claim code, go through a farm's day: logins (right and wrong), an API key, a failed and a good
enrolment, a job uploaded, offered with a signed URL, downloaded and printed, wrong keys on both
HTTP APIs. Then every captured log line, both /metrics pages and every error body are searched for
each secret — and for any signed-URL signature.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import API_KEY, AgentProcess
from tests.fixtures.broker import MosquittoBroker
from tests.fixtures.cloud_process import CloudProcess

pytestmark = [pytest.mark.security, pytest.mark.integration, pytest.mark.slow]

GCODE = b"; secrets test\nG28\nG1 X10 Y10 F6000\nG1 X20 Y20\nM400\n"
SIGNED_URL = re.compile(r"sig=[0-9a-f]{16,}")


class VerboseAgent(AgentProcess):
    """An agent with ``--verbose`` (DEBUG logging): a flag without a value."""

    def argv(self) -> list[str]:
        return [*super().argv(), "--verbose"]


def test_no_secret_in_logs_metrics_or_error_bodies(
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    virtual_printer_process: Callable[..., PrinterProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    known = {
        "jwt secret": secrets.token_urlsafe(40),
        "job signing key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "mqtt ingest password": secrets.token_urlsafe(24),
    }
    monkeypatch.setenv("THREEDPOT_CLOUD_JWT_SECRET", known["jwt secret"])
    monkeypatch.setenv("THREEDPOT_CLOUD_JOB_SIGNING_KEY", known["job signing key"])
    monkeypatch.setenv("THREEDPOT_CLOUD_MQTT_INGEST_PASSWORD", known["mqtt ingest password"])
    monkeypatch.setenv("THREEDPOT_CLOUD_JOBS__POLL_INTERVAL_S", "0.5")
    workdir = tmp_path / "cloud-process"
    workdir.mkdir()
    cloud = CloudProcess(workdir, mosquitto.url)
    spawned: list[AgentProcess] = []
    try:
        errors = _farm_day(tmp_path, cloud, known, virtual_printer_process, spawned)
        agent: AgentProcess = errors.pop("agent")  # type: ignore[assignment]
        assert agent.popen is not None
        enrolment = json.loads((tmp_path / "agent-data" / "enrolment.json").read_text())
        known["agent mqtt password"] = enrolment["mqtt_password"]
        known["agent api key"] = API_KEY
        known["admin password"] = cloud.admin["password"]
        scanned = {
            "cloud log": cloud.log_text(),
            "agent log": agent.log_text(),
            "cloud /metrics": httpx.get(f"{cloud.url}/metrics", timeout=10).text,
            "agent /metrics": agent.get("/metrics").text,
            **{f"error body {k}": str(v) for k, v in errors.items()},
        }
    finally:
        for process in spawned:
            process.terminate()
        cloud.stop()
    scanned["cloud log"] = cloud.log_text()  # with the shutdown lines
    assert len(scanned["cloud log"]) > 500 and "DEBUG" in scanned["agent log"], "the logs were captured"
    leaks = [
        (what, where)
        for what, secret in known.items()
        for where, text in scanned.items()
        if secret and secret in text
    ]
    assert leaks == [], leaks
    signed = [(where, m.group(0)) for where, text in scanned.items() for m in SIGNED_URL.finditer(text)]
    assert signed == [], signed


def _farm_day(
    tmp_path: Path,
    cloud: CloudProcess,
    known: dict[str, str],
    spawn_printer: Callable[..., PrinterProcess],
    spawned: list[AgentProcess],
) -> dict[str, object]:
    """Drive the cloud and an agent through login, keys, enrolment and a print; record secrets in
    ``known`` and return the error bodies seen (and the agent, under "agent")."""
    errors: dict[str, object] = {}
    with httpx.Client(base_url=cloud.url, timeout=10) as http:
        wrong_password = secrets.token_urlsafe(18)
        known["a wrong password tried"] = wrong_password
        bad = http.post("/api/auth/login", json={"email": cloud.admin["email"], "password": wrong_password})
        assert bad.status_code == 401
        errors["login"] = bad.text
        token = http.post("/api/auth/login", json=cloud.admin).json()["access_token"]
        known["access token"] = token
        admin = {"Authorization": f"Bearer {token}"}
        key = http.post("/api/api-keys", json={"name": "ci", "role": "operator"}, headers=admin).json()["key"]
        known["cloud api key"] = key
        assert http.get("/api/me", headers={"X-Api-Key": key}).status_code == 200
        revoked_probe = http.get("/api/me", headers={"X-Api-Key": key + "x"})
        errors["wrong api key"] = revoked_probe.text
        forged = http.get("/api/me", headers={"Authorization": f"Bearer {token[:-3]}abc"})
        errors["forged token"] = forged.text
        guessed = secrets.token_hex(8).upper()
        known["a guessed claim code"] = guessed
        errors["bad enrol"] = http.post("/api/enrol", json={"claim_code": guessed}).text
        code = http.post("/api/printers/claim-codes", json={"name": "bay"}, headers=admin).json()["code"]
        known["claim code"] = code

        link = tmp_path / "tty-secrets"
        spawn_printer("--link", str(link), "--baud", "0")
        agent = VerboseAgent(
            tmp_path, serial_port=link, data_dir=tmp_path / "agent-data", enrol=code, cloud_url=cloud.url
        )
        spawned.append(agent)
        agent.wait_connected()
        errors["agent wrong key"] = httpx.get(
            f"{agent.url}/api/job", headers={"X-Api-Key": "wrong-" + API_KEY}, timeout=5
        ).text
        pid = http.get("/api/printers", headers=admin).json()[0]["id"]
        assert http.post(f"/api/printers/{pid}/commands/queue-start", headers=admin).status_code == 202
        job = http.post(
            "/api/jobs",
            files={"file": ("part.gcode", GCODE, "application/octet-stream")},
            headers={"X-Api-Key": key},
        ).json()
        deadline = time.monotonic() + 90
        while (state := http.get(f"/api/jobs/{job['id']}", headers=admin).json()["state"]) != "completed":
            assert state != "failed" and time.monotonic() < deadline, (state, agent.log_text()[-3000:])
            time.sleep(0.3)
        errors["unsigned download"] = http.get(f"/api/files/download/{pid}-x").text
    errors["agent"] = agent
    return errors
