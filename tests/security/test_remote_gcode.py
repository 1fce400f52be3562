"""Firmware-altering G-code from a remote client is refused.

- On a real agent (virtual printer, real broker), the ``gcode`` command over MQTT: every word of the
  deny-list class that rewrites the firmware's settings or bypasses its protections (EEPROM, factory
  reset, flashing, PID autotune and gains, pins, endstops, driver currents, SD writes), also in the
  spellings that dodge a naive check (lower case, leading zero, line number and checksum, a comment,
  a second line after a line break), is rejected with ``gcode_not_allowed``; a harmless line in the
  same session is executed (so the path works and the refusal is not a broken link).
- The cloud's command API carries no G-code at all: its verbs are a closed set (pause, resume, cancel,
  queue-start, queue-pause); ``gcode`` or a G-code word as the verb is a 422 and nothing is stored.

Uploaded job files are not filtered for these words: a file is the owner's own print (slicers put
``M500``-free start G-code there, and some printers' start code legitimately holds ``M900``/``M301``);
its heater targets are checked against the printer's limits instead (``check_file_targets``). See
docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess
from tests.fixtures.broker import MosquittoBroker
from tests.fixtures.cloud import CloudFactory
from tests.integration.test_agent import printer_and_agent
from tests.integration.test_agent_commands import mqtt_cloud

pytestmark = [pytest.mark.security, pytest.mark.integration, pytest.mark.slow]
__all__ = ["mqtt_cloud"]  # a fixture, used by name

REFUSED = [
    "M500",
    "M501",
    "M502",
    "M997",
    "M303 E0 S200 C8",
    "M301 P1 I1 D1",
    "M304 P1 I1 D1",
    "M302 S0",
    "M42 P13 S255",
    "M121",
    "M211 S0",
    "M906 X2000",
    "M914 X1",
    "M28 config.g",
    "M30 config.txt",
    "m500",
    "M0500",
    "N7 M500*35",
    "M500 ; save",
    "(note) M997",
    "M997S1",
]
SMUGGLED = [["G28", "M502"], ["M117 hi\nM500"], ["M104 S200\rM500"]]


async def test_the_agent_refuses_firmware_altering_gcode_from_mqtt(
    tmp_path: Path,
    virtual_printer_process: Callable[..., PrinterProcess],
    agent_process: Callable[..., AgentProcess],
    mosquitto: MosquittoBroker,
    mqtt_cloud: Any,
) -> None:
    await asyncio.to_thread(
        printer_and_agent,
        tmp_path,
        virtual_printer_process,
        agent_process,
        mosquitto.url,
        "--baud",
        "250000",
        printer_id="g1",
    )
    cloud = await mqtt_cloud("g1")
    sent = {line: await cloud.send("gcode", {"lines": [line]}) for line in REFUSED}
    smuggled = [await cloud.send("gcode", {"lines": lines}) for lines in SMUGGLED]
    harmless = await cloud.send("gcode", {"lines": ["M117 security test", "G28 X"]})
    assert (await cloud.wait_ack(harmless, "ok"))[-1]["status"] == "ok"
    for line, cmd_id in sent.items():
        ack = (await cloud.wait_ack(cmd_id, "rejected"))[-1]
        assert ack["code"] == "gcode_not_allowed", (line, ack)
        assert "not allowed" in ack["message"], (line, ack)
    for lines, cmd_id in zip(SMUGGLED, smuggled, strict=True):
        ack = (await cloud.wait_ack(cmd_id, "rejected"))[-1]
        # a line break is refused by the contract's schema (bad_args) before the deny-list sees it
        assert ack["code"] in ("gcode_not_allowed", "bad_args"), (lines, ack)


async def test_the_clouds_command_api_carries_no_gcode(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(jobs={"dispatcher": False})
    pid = (await cloud.enrol(name="p"))["printer_id"]
    for verb in ("gcode", "M500", "m502", "job.offer", "print.pause", "..%2Fgcode"):
        response = await cloud.client.post(
            f"/api/printers/{pid}/commands/{verb}", json={"lines": ["M500"]}, headers=cloud.admin_headers
        )
        assert response.status_code in (404, 422), (verb, response.status_code, response.text)
    ok = await cloud.client.post(
        f"/api/printers/{pid}/commands/pause", json={"lines": ["M500"]}, headers=cloud.admin_headers
    )
    assert ok.status_code == 202
    command = (
        await cloud.client.get(f"/api/commands/{ok.json()['cmd_id']}", headers=cloud.admin_headers)
    ).json()
    assert command["verb"] == "print.pause" and "M500" not in str(command)
