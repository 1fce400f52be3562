"""The live feed (SSE) across replicas, on SQLite and PostgreSQL: two app instances on one database,
the ingest running on the first only, a browser-like client streaming from the second (served by
a real uvicorn, since SSE needs a streaming transport)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from contract.state import PrinterState
from tests.fixtures.broker import ClientFactory, MosquittoBroker, free_port
from tests.fixtures.cloud import CloudFactory
from tests.integration.test_cloud_ingest import FAST_FLEET, fake_printer, ingest_cloud

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """``app`` (its lifespan already entered) on a real uvicorn on a free port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn stopped during startup"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def read_frames(response: httpx.Response, frames: list[dict[str, Any]]) -> None:
    event = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            frames.append({"event": event, **json.loads(line.removeprefix("data: "))})


async def test_a_browser_on_replica_2_sees_what_replica_1_ingested(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    replica_1 = await ingest_cloud(cloud_factory, mosquitto)
    replica_2 = await cloud_factory(
        mqtt_topic_prefix=replica_1.settings.mqtt_topic_prefix, ingest={"enabled": False}, fleet=FAST_FLEET
    )
    _, org_b = await replica_1.add_organisation("Org B")
    ours = await fake_printer(replica_1, mqtt_client_factory, name="ours")
    theirs = await fake_printer(replica_1, mqtt_client_factory, org_b, name="theirs")
    token = replica_2.admin_headers["Authorization"].removeprefix("Bearer ")

    async with serve(replica_2.app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as browser:
        refused = await browser.get("/api/fleet/stream")
        assert refused.status_code == 401
        frames: list[dict[str, Any]] = []
        async with browser.stream("GET", "/api/fleet/stream", params={"access_token": token}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = asyncio.create_task(read_frames(response, frames))
            try:
                await asyncio.sleep(0.3)  # subscribed
                await theirs.state(PrinterState.PRINTING)  # another organisation: never on our feed
                await ours.state(PrinterState.PRINTING, progress=0.1)
                await ours.raw("status", b"online")
                await ours.state(PrinterState.PAUSED, progress=0.2)

                async def paused_and_online() -> bool:
                    return any(f["printer_state"] == "paused" and f["online"] for f in frames)

                deadline = asyncio.get_running_loop().time() + 10
                while not await paused_and_online():
                    assert asyncio.get_running_loop().time() < deadline, frames
                    await asyncio.sleep(0.05)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    assert {f["id"] for f in frames} == {ours.pid}
    assert all(f["event"] == "printer" and f["name"] == "ours" for f in frames)
    assert frames[-1]["job"]["progress"] == 0.2
