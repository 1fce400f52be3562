"""Cloud commands over a real Mosquitto to a real agent: once per `cmd_id`, expiry, signed job offers
downloaded over HTTP and verified; the host watchdog's emergency stop."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from contract.envelope import now_ms
from contract.jobs import JobManifest
from contract.signing import generate_signing_key, sign_manifest
from firmware_bridge.samples import dense_print
from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess, Message, wait_until_async
from tests.fixtures.broker import MosquittoBroker
from tests.integration.test_agent import gcode, printer_and_agent, upload_like_prusaslicer

pytestmark = pytest.mark.integration

SpawnPrinter = Callable[..., PrinterProcess]
SpawnAgent = Callable[..., AgentProcess]


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving `tmp_path / "served"`."""
    root = tmp_path / "served"
    root.mkdir()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = root / self.path.lstrip("/").split("?")[0]
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


class Cloud:
    """The cloud's side of the contract, by hand: publish commands, read acks and events."""

    def __init__(self, client: aiomqtt.Client, pid: str, messages: list[Message]) -> None:
        self.client = client
        self.pid = pid
        self.messages = messages

    async def send(
        self,
        verb: str,
        args: dict[str, Any] | None = None,
        *,
        cmd_id: str | None = None,
        ttl_ms: int = 60_000,
        issued_at: int | None = None,
    ) -> str:
        cmd_id = cmd_id or uuid.uuid4().hex
        issued = issued_at if issued_at is not None else now_ms()
        payload = {
            "schema": 1,
            "ts": now_ms(),
            "cmd_id": cmd_id,
            "issued_at": issued,
            "expires_at": issued + ttl_ms,
            "args": args or {},
        }
        await self.client.publish(f"fleet/v1/{self.pid}/cmd/{verb}", json.dumps(payload), qos=1)
        return cmd_id

    async def wait_event(self, kind: str, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        await wait_until_async(lambda: self.events(kind), timeout_s, f"a {kind} event from {self.pid}")
        return self.events(kind)

    def acks(self, cmd_id: str) -> list[dict[str, Any]]:
        out = []
        for m in self.messages:
            if m.topic == f"fleet/v1/{self.pid}/ack":
                ack = json.loads(m.payload)
                if ack["cmd_id"] == cmd_id:
                    out.append(ack)
        return out

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = [json.loads(m.payload) for m in self.messages if m.topic == f"fleet/v1/{self.pid}/evt"]
        return [e for e in out if kind is None or e["event_type"] == kind]

    async def wait_ack(self, cmd_id: str, status: str, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while not any(a["status"] == status for a in self.acks(cmd_id)):
            assert time.monotonic() < deadline, f"no {status} ack for {cmd_id}: {self.acks(cmd_id)}"
            await asyncio.sleep(0.05)
        return self.acks(cmd_id)


@pytest.fixture
async def mqtt_cloud(mosquitto: MosquittoBroker, mqtt_recorder: Callable[..., Any]) -> Any:
    async def connect(pid: str) -> Cloud:
        recorder = await mqtt_recorder(mosquitto.url, f"fleet/v1/{pid}/#")
        client = aiomqtt.Client(mosquitto.host, mosquitto.port, identifier=f"cloud-{pid}")
        await client.__aenter__()
        clients.append(client)
        return Cloud(client, pid, recorder.messages)

    clients: list[aiomqtt.Client] = []
    yield connect
    for client in clients:
        await client.__aexit__(None, None, None)


async def test_a_command_runs_once_per_cmd_id_and_an_expired_one_is_rejected(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
    mqtt_cloud: Any,
) -> None:
    _, agent = await asyncio.to_thread(
        printer_and_agent,
        tmp_path,
        virtual_printer_process,
        agent_process,
        mosquitto.url,
        "--baud",
        "250000",
        printer_id="c1",
    )
    c = await mqtt_cloud("c1")
    path, _ = gcode(tmp_path, 8000)
    assert (await asyncio.to_thread(upload_like_prusaslicer, agent, path)).status_code == 201

    pause = await c.send("print.pause")
    await c.wait_ack(pause, "ok")
    again = await c.send("print.pause", cmd_id=pause)
    deadline = time.monotonic() + 10
    while len(c.acks(pause)) < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    first, second = c.acks(pause)
    assert again == pause and first == second, "a repeat gets the stored ack, verbatim"
    await asyncio.sleep(0.5)
    assert len(c.events("job.paused")) == 1, "executed once"

    stale = await c.send("print.resume", issued_at=now_ms() - 120_000, ttl_ms=60_000)
    acks = await c.wait_ack(stale, "expired")
    assert [a["status"] for a in acks] == ["expired"]
    await asyncio.sleep(0.5)
    assert not c.events("job.resumed"), "an expired command does nothing"
    assert (await asyncio.to_thread(agent.get, "/api/agent/printer")).json()["printer_state"] == "paused"

    # garbage on the command topic: dropped and counted, the agent keeps answering
    await c.client.publish("fleet/v1/c1/cmd/print.resume", b"{not json", qos=1)
    await c.client.publish("fleet/v1/c1/cmd/print.resume", b'{"schema": 9}', qos=1)
    unknown = await c.send("make.coffee")
    assert (await c.wait_ack(unknown, "rejected"))[-1]["code"] == "unknown_command"
    bad = await c.send("gcode", {"lines": ["M500"]})
    refused = (await c.wait_ack(bad, "rejected"))[-1]
    assert refused["code"] == "gcode_not_allowed" and "M500" in refused["message"]
    resume = await c.send("print.resume")
    await c.wait_ack(resume, "ok")
    metrics = (await asyncio.to_thread(agent.get, "/metrics")).text
    assert 'agent_commands_total{outcome="malformed",verb="print.resume"} 2.0' in metrics
    assert 'agent_disk_free_bytes{printer="c1"}' in metrics


def manifest_for(url: str, data: bytes, job_id: str, **changes: Any) -> JobManifest:
    fields: dict[str, Any] = {
        "job_id": job_id,
        "revision": 1,
        "filename": "bracket.gcode",
        "url": url,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "est_print_s": 60.0,
        "filament_mm": 1000.0,
        "start_policy": "manual",
        "not_after": now_ms() + 3_600_000,
    }
    fields.update(changes)
    return JobManifest(**fields)


async def test_job_offers_unsigned_tampered_and_wrong_hash_are_rejected_a_valid_one_is_queued_in_order(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
    mqtt_cloud: Any,
    file_server: tuple[str, Path],
) -> None:
    private_key, public_key = generate_signing_key()
    _, agent = await asyncio.to_thread(
        printer_and_agent,
        tmp_path,
        virtual_printer_process,
        agent_process,
        mosquitto.url,
        "--baud",
        "0",
        printer_id="o1",
        cloud_public_key=public_key,
    )
    c = await mqtt_cloud("o1")
    base, root = file_server
    data = dense_print(500).encode()
    (root / "job.gcode").write_bytes(data)
    url = f"{base}/job.gcode"

    async def offer(manifest: JobManifest) -> str:
        return await c.send("job.offer", json.loads(manifest.model_dump_json(by_alias=True)))

    unsigned = await offer(manifest_for(url, data, "j-unsigned"))
    assert (await c.wait_ack(unsigned, "rejected"))[-1]["code"] == "bad_signature"

    tampered = sign_manifest(manifest_for(url, data, "j-tampered"), private_key).model_copy(
        update={"est_print_s": 1.0}
    )
    code = (await c.wait_ack(await offer(tampered), "rejected"))[-1]["code"]
    assert code == "bad_signature"

    wrong_key = sign_manifest(manifest_for(url, data, "j-wrong-key"), generate_signing_key()[0])
    assert (await c.wait_ack(await offer(wrong_key), "rejected"))[-1]["code"] == "bad_signature"

    wrong_hash = sign_manifest(manifest_for(url, data, "j-hash", sha256="0" * 64), private_key)
    acks = await c.wait_ack(await offer(wrong_hash), "rejected")
    assert [a["status"] for a in acks] == ["received", "rejected"] and acks[-1]["code"] == "hash_mismatch"

    valid = sign_manifest(manifest_for(url, data, "j-valid"), private_key)
    cmd = await offer(valid)
    acks = await c.wait_ack(cmd, "queued")
    assert [a["status"] for a in acks] == ["received", "accepted", "queued"]
    job = (await asyncio.to_thread(agent.get, "/api/agent/jobs/j-valid")).json()
    assert job["state"] == "queued" and job["filename"] == "bracket.gcode"
    queued = [e for e in c.events("job.queued") if e["job_id"] == "j-valid"]
    assert len(queued) == 1
    assert not [e for e in c.events() if e["job_id"] in ("j-unsigned", "j-tampered", "j-wrong-key", "j-hash")]

    # the same offer again (a new cmd_id, e.g. the cloud retrying): re-acked, not queued twice
    repeat = await offer(valid)
    assert (await c.wait_ack(repeat, "queued"))[-1]["status"] == "queued"
    await asyncio.sleep(0.3)
    assert len([e for e in c.events("job.queued") if e["job_id"] == "j-valid"]) == 1


async def test_a_stuck_heater_triggers_m112_fails_the_job_with_the_cause_and_publishes_printer_error(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
    mqtt_cloud: Any,
) -> None:
    printer, agent = await asyncio.to_thread(
        printer_and_agent,
        tmp_path,
        virtual_printer_process,
        agent_process,
        mosquitto.url,
        "--baud",
        "250000",
        printer_id="th1",
    )
    c = await mqtt_cloud("th1")
    path, _ = gcode(tmp_path, 30000)
    assert (await asyncio.to_thread(upload_like_prusaslicer, agent, path)).status_code == 201
    await c.wait_event("job.started", 20)
    await asyncio.sleep(2.0)  # printing at temperature

    injected = printer.control("heater_fault tool0 stuck_on")
    assert injected["ok"] is True
    await c.wait_event("job.failed", 10)
    stats = printer.stats()
    assert stats["m112_received_s"] is not None, "the printer got an M112"
    latency_s = stats["m112_received_s"] - stats["fault_injected_s"]
    print(f"stuck heater → M112 at the printer: {latency_s:.2f} s after the fault")
    assert latency_s <= 1.0 + 1.0  # one auto-report interval (M155 S1) to see it, then at once
    failed = c.events("job.failed")[0]
    assert "watchdog" in failed["data"]["cause"] and "tool0" in failed["data"]["cause"]
    await c.wait_event("printer.error", 5)
    assert "tool0" in c.events("printer.error")[0]["data"]["message"]


async def test_home_assistant_buttons_are_desired_states_and_discovery_is_retained(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
    mqtt_cloud: Any,
    mqtt_recorder: Callable[..., Any],
) -> None:
    _, agent = await asyncio.to_thread(
        printer_and_agent,
        tmp_path,
        virtual_printer_process,
        agent_process,
        mosquitto.url,
        "--baud",
        "250000",
        printer_id="ha1",
    )
    discovery = await mqtt_recorder(mosquitto.url, "homeassistant/device/ha1/config")
    await discovery.wait_for(bool)
    config = json.loads(discovery.messages[0].payload)
    assert discovery.messages[0].retain and config["cmps"]["pause"]["command_topic"] == "fleet/v1/ha1/cmd/ha"
    c = await mqtt_cloud("ha1")
    path, _ = gcode(tmp_path, 8000)
    assert (await asyncio.to_thread(upload_like_prusaslicer, agent, path)).status_code == 201
    await c.wait_event("job.started", 20)

    async def state() -> str:
        return str((await asyncio.to_thread(agent.get, "/api/agent/printer")).json()["printer_state"])

    async def press(button: str, expect: str) -> None:
        await c.client.publish("fleet/v1/ha1/cmd/ha", button.encode(), qos=1)
        deadline = time.monotonic() + 10
        while await state() != expect:
            assert time.monotonic() < deadline, f"{button} did not lead to {expect}"
            await asyncio.sleep(0.1)

    await press("pause", "paused")
    await c.client.publish("fleet/v1/ha1/cmd/ha", b"pause", qos=1)  # pause while paused: nothing happens
    await asyncio.sleep(2.5)
    await press("resume", "printing")
    await c.wait_event("job.resumed", 5)
    assert len(c.events("job.paused")) == 1 and len(c.events("job.resumed")) == 1
    await c.client.publish("fleet/v1/ha1/cmd/ha", b"dance", qos=1)  # not a button: dropped, counted
    await press("cancel", "cancelled")
