"""Shared documents over real WebSockets: the cloud app served by uvicorn on a loopback port, clients
from the ``websockets`` library, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from cloud.collab.metrics import CollabMetrics
from tests.fixtures.broker import free_port
from tests.fixtures.cloud import CloudHarness

pytestmark = pytest.mark.integration

RECEIVE_TIMEOUT_S = 10.0


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """``app`` (its lifespan already entered by the harness) on a real uvicorn; yields ``ws://host:port``."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def _document(cloud: CloudHarness, state: dict[str, Any] | None = None) -> str:
    response = await cloud.client.post(
        "/api/collab/documents", json={"title": "bracket", "state": state or {}}, headers=cloud.admin_headers
    )
    assert response.status_code == 201, response.text
    doc_id: str = response.json()["id"]
    return doc_id


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S))
    return message


async def _recv_type(ws: ClientConnection, *types: str) -> dict[str, Any]:
    """The next message of one of ``types`` (presence and chat in between are skipped)."""
    while True:
        message = await _recv(ws)
        if message["type"] in types:
            return message


class Editor:
    """A protocol client: state applied in version order (its own ops at their ack's version)."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.state: dict[str, Any] = {}
        self.version = 0
        self.pending: dict[str, dict[str, Any]] = {}
        self.held: dict[int, dict[str, Any]] = {}
        self.count = 0

    async def start(self, since_version: int | None = None) -> dict[str, Any]:
        hello: dict[str, Any] = {"type": "hello"}
        if since_version is not None:
            hello["since_version"] = since_version
        await self.ws.send(json.dumps(hello))
        if since_version is None:
            snapshot = await _recv_type(self.ws, "snapshot")
            self.state, self.version = snapshot["state"], snapshot["version"]
            return snapshot
        return {}

    async def edit(self, values: dict[str, Any]) -> str:
        self.count += 1
        op_id = f"{self.name}-{self.count}-{uuid.uuid4().hex[:6]}"
        self.pending[op_id] = values
        await self.ws.send(
            json.dumps({"type": "op", "base_version": self.version, "client_op_id": op_id, "set": values})
        )
        return op_id

    def take(self, message: dict[str, Any]) -> None:
        if message["type"] == "ack":
            self.held[message["version"]] = self.pending.pop(message["client_op_id"])
        elif message["type"] == "op":
            self.held[message["version"]] = message["set"]
        elif message["type"] == "snapshot":
            self.state, self.version = message["state"], message["version"]
        while self.version + 1 in self.held:
            self.version += 1
            for key, value in self.held.pop(self.version).items():
                if value is None:
                    self.state.pop(key, None)
                else:
                    self.state[key] = value

    async def settle(self, version: int) -> None:
        """Read until everything up to ``version`` is applied and nothing of ours is pending."""
        while self.version < version or self.pending:
            self.take(await _recv_type(self.ws, "ack", "op", "snapshot", "error"))


async def test_two_clients_editing_at_once_converge(cloud: CloudHarness) -> None:
    doc_id = await _document(cloud, {"height": 100, "wall_mm": 2.0})
    _, other_headers = await cloud.add_user("operator")
    async with serve(cloud.app) as base:
        url = f"{base}/api/collab/{doc_id}/ws"
        async with (
            connect(f"{url}?token={_token(cloud.admin_headers)}") as ws_a,
            connect(f"{url}?token={_token(other_headers)}") as ws_b,
        ):
            a, b = Editor(ws_a, "a"), Editor(ws_b, "b")
            assert (await a.start())["state"] == {"height": 100, "wall_mm": 2.0}
            await b.start()
            rng = random.Random(7)

            async def burst(editor: Editor) -> None:
                for i in range(25):
                    key = rng.choice(["height", "wall_mm", "infill", "label"])
                    await editor.edit({key: None if i % 9 == 8 else f"{editor.name}{i}", "last": editor.name})
                    if rng.random() < 0.3:
                        await asyncio.sleep(0)

            await asyncio.gather(burst(a), burst(b))
            await asyncio.gather(a.settle(50), b.settle(50))
            assert a.version == b.version == 50
            assert a.state == b.state

    stored = (await cloud.client.get(f"/api/collab/documents/{doc_id}", headers=cloud.admin_headers)).json()
    assert stored["version"] == 50
    assert stored["state"] == a.state


async def test_a_client_that_missed_ops_catches_up_with_since_version(cloud: CloudHarness) -> None:
    doc_id = await _document(cloud)
    token = _token(cloud.admin_headers)
    async with serve(cloud.app) as base:
        url = f"{base}/api/collab/{doc_id}/ws?token={token}"
        async with connect(url) as ws_a:
            a = Editor(ws_a, "a")
            await a.start()
            # b edits, then goes away at version 2
            async with connect(url) as ws_b:
                b = Editor(ws_b, "b")
                await b.start()
                await b.edit({"height": 120})
                await b.edit({"width": 80})
                await b.settle(2)
            seen_by_b = dict(b.state)
            # while b is away, a makes three more ops (one removes a key b knows)
            await a.edit({"height": 130})
            await a.edit({"width": None, "label": "v2"})
            await a.edit({"infill": 0.25})
            await a.settle(5)
            # b comes back and asks for what it missed
            async with connect(url) as ws_b2:
                back = Editor(ws_b2, "b")
                back.state, back.version = seen_by_b, 2
                await back.start(since_version=2)
                first = await _recv_type(ws_b2, "op", "snapshot")
                assert (first["type"], first["version"]) == ("op", 3)
                back.take(first)
                await back.settle(5)
                assert back.state == a.state == {"height": 130, "label": "v2", "infill": 0.25}
                # a resend of an applied op (same client_op_id) is acked with its version, not applied twice
                await ws_b2.send(
                    json.dumps({"type": "op", "base_version": 5, "client_op_id": "once", "set": {"x": 1}})
                )
                ack = await _recv_type(ws_b2, "ack")
                await ws_b2.send(
                    json.dumps({"type": "op", "base_version": 5, "client_op_id": "once", "set": {"x": 1}})
                )
                again = await _recv_type(ws_b2, "ack")
                assert ack["version"] == again["version"] == 6
            # a far-behind client gets a snapshot
            async with connect(url) as ws_c:
                await ws_c.send(json.dumps({"type": "hello", "since_version": 99}))
                snapshot = await _recv_type(ws_c, "snapshot", "op")
                assert snapshot["type"] == "snapshot" and snapshot["version"] == 6
                assert snapshot["state"]["x"] == 1


async def test_the_token_can_come_in_hello_and_others_are_refused(cloud: CloudHarness) -> None:
    doc_id = await _document(cloud, {"a": 1})
    _, foreign_headers = await cloud.add_organisation("Org B")
    async with serve(cloud.app) as base:
        url = f"{base}/api/collab/{doc_id}/ws"
        async with connect(url) as ws:
            await ws.send(json.dumps({"type": "hello", "token": _token(cloud.admin_headers)}))
            assert (await _recv_type(ws, "snapshot"))["state"] == {"a": 1}
        _, viewer = await cloud.add_user("viewer")
        async with connect(f"{url}?token={_token(viewer)}") as ws:
            await ws.send(json.dumps({"type": "hello"}))
            await _recv_type(ws, "snapshot")
            await ws.send(json.dumps({"type": "op", "base_version": 0, "client_op_id": "v", "set": {"a": 2}}))
            assert (await _recv_type(ws, "error"))["code"] == "forbidden"

        async def close_code(target: str, first: dict[str, Any] | None = None) -> int | None:
            async with connect(target) as ws:
                if first is not None:
                    await ws.send(json.dumps(first))
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S)
                return closed.value.rcvd.code if closed.value.rcvd else None

        assert await close_code(f"{url}?token={_token(foreign_headers)}", {"type": "hello"}) == 4404
        assert await close_code(url, {"type": "hello", "token": _token(foreign_headers)}) == 4404
        assert await close_code(f"{url}?token=not-a-jwt") == 4403
        assert await close_code(url, {"type": "hello"}) == 4403
        assert await close_code(url, {"type": "chat", "text": "hi"}) == 4403
        assert (
            await close_code(f"{base}/api/collab/{uuid.uuid4().hex}/ws?token={_token(cloud.admin_headers)}")
            == 4404
        )
    assert (
        await cloud.client.get(f"/api/collab/documents/{doc_id}", headers=foreign_headers)
    ).status_code == 404
    assert (await cloud.client.get(f"/api/collab/documents/{doc_id}", headers=cloud.admin_headers)).json()[
        "state"
    ] == {"a": 1}


async def test_malformed_messages_get_an_error_and_are_counted_not_a_disconnect(cloud: CloudHarness) -> None:
    doc_id = await _document(cloud, {"a": 1})
    metrics = cloud.app.state.collab_metrics
    assert isinstance(metrics, CollabMetrics)
    before = metrics.bad_messages.labels(code="not_json")._value.get()
    async with (
        serve(cloud.app) as base,
        connect(f"{base}/api/collab/{doc_id}/ws?token={_token(cloud.admin_headers)}") as ws,
    ):
        editor = Editor(ws, "a")
        await editor.start()
        await ws.send("{oops")
        assert (await _recv_type(ws, "error"))["code"] == "not_json"
        await ws.send(json.dumps({"type": "op", "base_version": 0, "client_op_id": "n", "set": {"a": [1]}}))
        error = await _recv_type(ws, "error")
        assert (error["code"], error["client_op_id"]) == ("invalid_op", "n")
        await ws.send("x" * 70_000)
        assert (await _recv_type(ws, "error"))["code"] == "too_large"
        await ws.send(json.dumps({"type": "chat", "text": "still here"}))
        chat = await _recv_type(ws, "chat")
        assert chat["text"] == "still here" and chat["user"]["email"]
        await editor.edit({"a": 2})
        await editor.settle(1)
        assert editor.state == {"a": 2}
    assert metrics.bad_messages.labels(code="not_json")._value.get() == before + 1
