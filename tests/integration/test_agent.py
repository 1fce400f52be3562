"""The agent as users meet it: a real `3dpot agent` process, a pty virtual printer in its own process,
a real Mosquitto. Slicer uploads, MQTT as `mosquitto_sub` sees it, the last will."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_bridge.samples import count_moves, dense_print
from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess, Message, wait_until
from tests.fixtures.broker import MosquittoBroker

pytestmark = pytest.mark.integration

SpawnPrinter = Callable[..., PrinterProcess]
SpawnAgent = Callable[..., AgentProcess]


def gcode(tmp_path: Path, moves: int, name: str = "Shape-Box_0.2mm_PLA_MK4_1h2m.gcode") -> tuple[Path, str]:
    text = dense_print(moves)
    path = tmp_path / name
    path.write_text(text)
    return path, text


def printer_and_agent(
    tmp_path: Path,
    spawn_printer: SpawnPrinter,
    spawn_agent: SpawnAgent,
    mqtt_url: str,
    *printer_flags: str,
    **agent_flags: Any,
) -> tuple[PrinterProcess, AgentProcess]:
    link = tmp_path / "ttyPRINTER"
    printer = spawn_printer("--link", str(link), *printer_flags)
    agent = spawn_agent(
        serial_port=link, mqtt_url=mqtt_url, printer_id=agent_flags.pop("printer_id", "p1"), **agent_flags
    )
    agent.wait_connected()
    return printer, agent


def upload_like_prusaslicer(
    agent: AgentProcess, path: Path, *, print_: bool = True, key: str | None = None
) -> httpx.Response:
    headers = {"X-Api-Key": key if key is not None else agent.headers["X-Api-Key"]}
    version = httpx.get(f"{agent.url}/api/version", headers=headers, timeout=5)
    if version.status_code != 200:
        return version
    assert version.json()["text"].startswith("OctoPrint")
    with path.open("rb") as fh:
        return httpx.post(
            f"{agent.url}/api/files/local",
            headers=headers,
            files={"file": (path.name, fh, "application/octet-stream")},
            data={"print": "true" if print_ else "false", "path": ""},
            timeout=30,
        )


def test_a_prusaslicer_upload_prints_to_completion_with_progress_and_a_wrong_key_gets_403(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
) -> None:
    printer, agent = printer_and_agent(
        tmp_path, virtual_printer_process, agent_process, mosquitto.url, "--baud", "250000"
    )
    path, text = gcode(tmp_path, 4000)

    assert upload_like_prusaslicer(agent, path, key="wrong-key").status_code == 403
    assert httpx.get(f"{agent.url}/api/job", timeout=5).status_code == 403

    response = upload_like_prusaslicer(agent, path)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["done"] is True and body["effectivePrint"] is True
    assert response.headers["Location"].endswith(f"/api/files/local/{path.name}")

    seen_progress: list[float] = []
    deadline = time.monotonic() + 60
    while True:
        job = agent.get("/api/job").json()
        if job["state"] == "Printing":
            seen_progress.append(job["progress"]["completion"])
        if job["state"] == "Operational" and job["progress"]["completion"] == 100.0:
            break
        assert time.monotonic() < deadline, agent.log_text()
        time.sleep(0.2)
    assert len(seen_progress) >= 3, "the print should have been observable while it ran"
    assert seen_progress == sorted(seen_progress)
    assert any(0 < p < 100 for p in seen_progress), (
        "progress seen part-way (100 % may show before the state flips)"
    )
    assert job["job"]["file"]["name"] == path.name

    stats = printer.stats()
    assert stats["moves_executed"] == count_moves(text)
    assert stats["duplicates"] == 0
    done = agent.wait_job(lambda j: j["filename"] == path.name and j["state"] == "completed")
    assert done["progress"] == 1.0
    assert 'agent_jobs_finished_total{outcome="completed"} 1.0' in agent.get("/metrics").text


def events(messages: list[Message], pid: str = "p1") -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages if m.topic == f"fleet/v1/{pid}/evt"]


async def test_mqtt_shows_presence_info_state_transitions_telemetry_and_events_and_the_will_on_kill(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
    mqtt_recorder: Callable[..., Any],
) -> None:
    _, agent = printer_and_agent(
        tmp_path, virtual_printer_process, agent_process, mosquitto.url, "--baud", "250000", printer_id="mq1"
    )
    recorder = await mqtt_recorder(mosquitto.url, "fleet/v1/mq1/#")
    await recorder.wait_for(lambda ms: any(m.topic.endswith("/state") for m in ms))
    retained = {m.topic: m for m in recorder.messages if m.retain}
    assert retained["fleet/v1/mq1/status"].payload == b"online"
    info = json.loads(retained["fleet/v1/mq1/info"].payload)
    assert info["firmware"].startswith("Marlin") and "tool0" in info["heaters"]

    path, _ = gcode(tmp_path, 6000)
    assert upload_like_prusaslicer(agent, path).status_code == 201
    await recorder.wait_for(lambda ms: any(e["event_type"] == "job.completed" for e in events(ms, "mq1")), 90)
    await recorder.wait_for(
        lambda ms: any(
            json.loads(m.payload)["printer_state"] == "complete" for m in ms if m.topic.endswith("/state")
        )
    )

    states = [json.loads(m.payload) for m in recorder.on("fleet/v1/mq1/state")]
    order = [s["printer_state"] for s in states]
    assert order[0] == "standby"
    assert order.index("printing") < order.index("complete")
    assert [s["seq"] for s in states] == sorted(s["seq"] for s in states)

    kinds = [e["event_type"] for e in events(recorder.messages, "mq1")]
    assert kinds.index("job.started") < kinds.index("job.completed")
    seqs = [e["seq"] for e in events(recorder.messages, "mq1")]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))

    tele = [m for m in recorder.on("fleet/v1/mq1/tele")]
    printing_tele = [json.loads(m.payload) for m in tele if json.loads(m.payload).get("progress") is not None]
    started = next(
        m.at_s for m in recorder.messages if m.topic.endswith("/evt") and b"job.started" in m.payload
    )
    ended = next(
        m.at_s for m in recorder.messages if m.topic.endswith("/evt") and b"job.completed" in m.payload
    )
    during = [m for m in tele if started <= m.at_s <= ended]
    assert printing_tele, "telemetry carries progress while printing"
    if ended - started > 3:
        rate = len(during) / (ended - started)
        assert 0.5 <= rate <= 1.6, f"tele at {rate:.2f} Hz while printing"

    agent.kill()
    await recorder.wait_for(
        lambda ms: any(m.topic == "fleet/v1/mq1/status" and m.payload == b"offline" for m in ms), 60
    )


def test_a_board_without_temperature_auto_report_is_polled_while_idle(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
) -> None:
    printer, agent = printer_and_agent(
        tmp_path, virtual_printer_process, agent_process, mosquitto.url, "--no-autoreport", printer_id="old1"
    )
    wait_until(lambda: "tool0" in agent.get("/api/printer").json().get("temperature", {}), 10, "temperatures")
    first = printer.stats()["lines_received_ok"]
    time.sleep(4.5)
    assert printer.stats()["lines_received_ok"] - first >= 2, "M105 every 2 s"
    assert printer.stats()["unknown_commands"] == 0, "no M155 sent to a board that lacks it"
