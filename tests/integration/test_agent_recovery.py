"""The agent keeps printing and loses nothing: a broker outage, `kill -9`, a board reset.

Real `3dpot agent` processes, pty virtual printers in their own processes, real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.samples import count_moves
from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess, Message, wait_until
from tests.fixtures.broker import MosquittoBroker, find_mosquitto, free_port, missing_infrastructure
from tests.integration.test_agent import gcode, printer_and_agent, upload_like_prusaslicer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SpawnPrinter = Callable[..., PrinterProcess]
SpawnAgent = Callable[..., AgentProcess]
OUTAGE_S = 60.0


def completion(agent: AgentProcess) -> float:
    return float(agent.get("/api/job").json()["progress"]["completion"] or 0.0)


def wait_completion(agent: AgentProcess, at_least: float, timeout_s: float = 60.0) -> float:
    deadline = time.monotonic() + timeout_s
    while (value := completion(agent)) < at_least:
        assert time.monotonic() < deadline, agent.log_text()[-3000:]
        time.sleep(0.1)
    return value


def distinct_events(messages: list[Message]) -> list[dict[str, Any]]:
    """Events in first-arrival order, duplicates (at-least-once) dropped."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for message in messages:
        if not message.topic.endswith("/evt"):
            continue
        event = json.loads(message.payload)
        if event["event_id"] not in seen:
            seen.add(event["event_id"])
            out.append(event)
    return out


@pytest.fixture
def private_broker(tmp_path: Path) -> Any:
    binary = find_mosquitto()
    if binary is None:
        missing_infrastructure("mosquitto not installed")
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = MosquittoBroker(binary, workdir, port=free_port(), persistence=True)
    broker.start()
    yield broker
    broker.stop()


async def test_a_60_s_broker_outage_mid_print_the_print_goes_on_and_every_event_arrives_in_order(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    private_broker: MosquittoBroker,
    mqtt_recorder: Callable[..., Any],
) -> None:
    printer, agent = await asyncio.to_thread(
        printer_and_agent,
        tmp_path,
        virtual_printer_process,
        agent_process,
        private_broker.url,
        "--baud",
        "250000",
        printer_id="out1",
    )
    recorder = await mqtt_recorder(private_broker.url, "fleet/v1/out1/evt", persistent=True)
    path, text = gcode(tmp_path, 30000, "long.gcode")
    assert (await asyncio.to_thread(upload_like_prusaslicer, agent, path)).status_code == 201
    await recorder.wait_for(lambda ms: any(e["event_type"] == "job.started" for e in distinct_events(ms)))
    moves_before = printer.stats()["moves_executed"]

    await private_broker.stop_async()
    outage_started = time.monotonic()
    # the outage hides a pause, a resume and two more queued jobs: all must be reported later, in order
    assert (await asyncio.to_thread(agent.post, "/api/agent/print/pause")).status_code == 204
    assert (await asyncio.to_thread(agent.post, "/api/agent/print/resume")).status_code == 204
    for name in ("next-1.gcode", "next-2.gcode"):
        other, _ = gcode(tmp_path, 200, name)
        response = await asyncio.to_thread(upload_like_prusaslicer, agent, other, print_=False)
        assert response.status_code == 201
        queued = await asyncio.to_thread(agent.post, "/api/agent/jobs", json={"filename": other.name})
        assert queued.status_code == 201, queued.text
    await asyncio.sleep(OUTAGE_S - (time.monotonic() - outage_started))
    moves_during = printer.stats()["moves_executed"] - moves_before
    assert moves_during > 1000, "the print went on while the broker was down"
    printer_view = (await asyncio.to_thread(agent.get, "/api/agent/printer")).json()
    assert printer_view["link"] == "connected"

    await private_broker.start_async()
    await recorder.wait_for(
        lambda ms: any(e["event_type"] == "job.completed" for e in distinct_events(ms)), 180
    )

    received = distinct_events(recorder.messages)
    seqs = [e["seq"] for e in received]
    assert seqs == sorted(seqs), "events arrive in seq order"
    assert seqs == list(range(1, len(seqs) + 1)), "no event missing (seq is contiguous per printer)"
    kinds = [e["event_type"] for e in received]
    assert kinds[:2] == ["job.queued", "job.started"]
    after = kinds[kinds.index("job.started") + 1 :]
    assert after[:2] == ["job.paused", "job.resumed"]
    assert after.count("job.queued") == 2
    assert after[-1] == "job.completed"
    assert printer.stats()["moves_executed"] == count_moves(text)


def test_kill_9_mid_print_then_restart_finishes_the_job_with_every_move_exactly_once(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
) -> None:
    printer, agent = printer_and_agent(
        tmp_path, virtual_printer_process, agent_process, mosquitto.url, "--baud", "250000", printer_id="k9"
    )
    path, text = gcode(tmp_path, 8000)
    assert upload_like_prusaslicer(agent, path).status_code == 201
    wait_completion(agent, 30.0)

    agent.kill()
    held = printer.stats()["moves_executed"]
    time.sleep(1.0)
    assert printer.stats()["moves_executed"] >= held  # the board finishes what it had accepted
    agent.start()

    done = agent.wait_job(lambda j: j["filename"] == path.name and j["state"] == "completed", 90)
    assert done["progress"] == 1.0
    stats = printer.stats()
    assert stats["moves_executed"] == count_moves(text), agent.log_text()[-3000:]
    assert "resuming" in agent.log_text()


def test_a_board_reset_mid_print_interrupts_the_job_and_resume_reheats_and_finishes_it(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
) -> None:
    printer, agent = printer_and_agent(
        tmp_path, virtual_printer_process, agent_process, mosquitto.url, "--baud", "250000", printer_id="rs1"
    )
    path, text = gcode(tmp_path, 8000)
    assert upload_like_prusaslicer(agent, path).status_code == 201
    wait_completion(agent, 30.0)

    assert printer.control("reset")["ok"] is True
    job = agent.wait_job(lambda j: j["state"] == "interrupted", 30)
    assert "layer" in job["message"]
    agent.wait_connected()
    executed_at_reset = printer.stats()["moves_executed"]

    assert printer.stats()["temps"]["tool0"]["target"] == 0, "a reset board has its heaters off"
    response = agent.post("/api/agent/print/resume")
    assert response.status_code == 204, response.text
    wait_until(lambda: printer.stats()["temps"]["tool0"]["target"] >= 200, 10, "resume reheats the nozzle")
    done = agent.wait_job(lambda j: j["job_id"] == job["job_id"] and j["state"] == "completed", 90)
    assert done["progress"] == 1.0
    stats = printer.stats()
    # nothing skipped: every move of the file ran at least once; only the interrupted layer (360 moves in
    # this sample) and the resume moves ran twice
    assert count_moves(text) <= stats["moves_executed"] <= count_moves(text) + 2 * 360 + 10
    assert stats["moves_executed"] > executed_at_reset


def test_a_usb_replug_mid_print_within_the_grace_time_continues_the_job_with_every_move_once(
    tmp_path: Path,
    virtual_printer_process: SpawnPrinter,
    agent_process: SpawnAgent,
    mosquitto: MosquittoBroker,
) -> None:
    printer, agent = printer_and_agent(
        tmp_path, virtual_printer_process, agent_process, mosquitto.url, "--baud", "250000", printer_id="usb1"
    )
    path, text = gcode(tmp_path, 8000)
    assert upload_like_prusaslicer(agent, path).status_code == 201
    wait_completion(agent, 30.0)

    assert printer.control("unplug")["ok"] is True
    wait_until(
        lambda: agent.get("/api/agent/printer").json()["link"] != "connected",
        10,
        "the agent sees the cable go",
    )
    time.sleep(2.0)
    assert printer.control("replug")["ok"] is True

    done = agent.wait_job(lambda j: j["filename"] == path.name and j["state"] == "completed", 90)
    assert done["progress"] == 1.0
    assert printer.stats()["moves_executed"] == count_moves(text), agent.log_text()[-3000:]
