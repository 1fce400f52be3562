"""The LLM engine against a real OpenAI-compatible HTTP server on a loopback port (uvicorn, in the
test): a valid answer is used; an HTTP error, a timeout, malformed JSON or a spec the schema refuses
falls back to the built-in engine, counted in the metric. Then the same through the cloud's API."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from cloud.designs.metrics import DesignMetrics
from cloud.designs.understanding import BuiltinEngine, FallbackEngine, LlmEngine
from tests.fixtures.broker import free_port
from tests.fixtures.cloud import CloudFactory

pytestmark = pytest.mark.integration

VALID_SPEC = {"family": "box", "width": 42.0, "depth": 30.0, "height": 25.0}


@dataclass
class FakeLlm:
    """Answers each chat completion with the next scripted behaviour, and keeps the requests."""

    url: str
    script: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


def _completion(content: str) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant",
            "content": content}, "finish_reason": "stop"}]}  # fmt: skip


def _app(fake: FakeLlm) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> JSONResponse:
        fake.requests.append(await request.json())
        behaviour = fake.script.pop(0) if fake.script else "valid"
        if behaviour == "valid":
            answer = {"kind": "spec", "spec": VALID_SPEC, "reply": "A 42 mm box.", "question": None}
            return JSONResponse(_completion(json.dumps(answer)))
        if behaviour == "malformed":
            return JSONResponse(_completion("here is your box: {family: box"))
        if behaviour == "invalid_spec":
            answer = {"kind": "spec", "spec": {"family": "box", "height": 5000}, "reply": "A huge box."}
            return JSONResponse(_completion(json.dumps(answer)))
        if behaviour == "http":
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        if behaviour == "timeout":
            await asyncio.sleep(2.0)
            return JSONResponse(_completion("{}"))
        raise AssertionError(behaviour)

    return app


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeLlm]:
    port = free_port()
    fake = FakeLlm(url=f"http://127.0.0.1:{port}/v1")
    server = uvicorn.Server(uvicorn.Config(_app(fake), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    try:
        yield fake
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


def _fallbacks(registry: CollectorRegistry, reason: str) -> float:
    value = registry.get_sample_value("threedpot_cloud_design_llm_fallbacks_total", {"reason": reason})
    return value or 0.0


async def test_valid_answers_are_used_and_failures_fall_back_to_the_builtin_engine(fake_llm: FakeLlm) -> None:
    registry = CollectorRegistry()
    metrics = DesignMetrics(registry)
    async with httpx.AsyncClient() as client:
        llm = LlmEngine(client, fake_llm.url, "test-model", "sk-test-123", timeout_s=0.5)
        engine = FallbackEngine(llm, BuiltinEngine(), lambda r: metrics.llm_fallbacks.labels(reason=r).inc())

        answer = await engine.interpret([], None, "a box please", None)
        assert answer.kind == "spec" and answer.spec is not None
        assert {k: answer.spec[k] for k in VALID_SPEC} == VALID_SPEC and answer.reply == "A 42 mm box."
        request = fake_llm.requests[-1]
        assert request["model"] == "test-model" and request["response_format"] == {"type": "json_object"}
        system = request["messages"][0]
        assert (
            system["role"] == "system"
            and '"phone_stand"' in system["content"]
            and "maximum" in system["content"]
        )
        assert request["messages"][-1] == {"role": "user", "content": "a box please"}

        for reason in ("malformed", "invalid_spec", "http", "timeout"):
            fake_llm.script.append(reason)
            answer = await engine.interpret([], None, "a pot 12 cm tall", None)
            assert answer.kind == "spec" and answer.spec is not None, reason
            assert answer.spec["family"] == "planter" and answer.spec["height"] == 120.0, reason  # built-in
            assert _fallbacks(registry, reason) == 1.0, reason

        fake_llm.script.append("malformed")
        pt = await engine.interpret([], None, "vaso de planta de 10 cm", None)
        assert pt.lang == "pt" and pt.spec is not None and pt.spec["top_width"] == 100.0
        assert _fallbacks(registry, "malformed") == 2.0


async def test_an_unreachable_llm_falls_back() -> None:
    registry = CollectorRegistry()
    metrics = DesignMetrics(registry)
    async with httpx.AsyncClient() as client:
        llm = LlmEngine(client, f"http://127.0.0.1:{free_port()}/v1", "m", None, timeout_s=0.5)
        engine = FallbackEngine(llm, BuiltinEngine(), lambda r: metrics.llm_fallbacks.labels(reason=r).inc())
        answer = await engine.interpret([], None, "a bicycle", None)
    assert answer.kind == "refusal" and _fallbacks(registry, "http") == 1.0


async def test_the_cloud_uses_the_configured_llm_and_counts_fallbacks(
    cloud_factory: CloudFactory, fake_llm: FakeLlm
) -> None:
    cloud = await cloud_factory(
        designs={"llm_base_url": fake_llm.url, "llm_model": "m", "llm_timeout_s": 0.5}
    )
    headers = cloud.admin_headers
    design = (await cloud.client.post("/api/designs", json={"text": "a box"}, headers=headers)).json()
    assert design["last"]["reply"] == "A 42 mm box." and design["spec"]["width"] == 42.0
    fake_llm.script.append("invalid_spec")
    turn = await cloud.client.post(
        f"/api/designs/{design['id']}/turns", json={"text": "2 cm taller"}, headers=headers
    )
    assert turn.status_code == 200 and turn.json()["spec"]["height"] == 45.0  # the built-in engine's edit
    metrics = (await cloud.client.get("/metrics")).text
    assert 'threedpot_cloud_design_llm_fallbacks_total{reason="invalid_spec"} 1.0' in metrics
    history = fake_llm.requests[-1]["messages"]
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user"]
