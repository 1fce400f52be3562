"""The design studio's runtime, built and started with the app: the engine, the meshes, the renderer.

``lifespan`` builds the understanding engine (built-in; the LLM in front of it when
``designs.llm_base_url`` is set, with its own HTTP client closed at shutdown) and runs the render
worker in a TaskGroup until the app stops. Routes reach it through ``DesignsRuntime`` on
``app.state.designs``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request

from cloud.designs.meshes import MeshCache
from cloud.designs.metrics import DesignMetrics
from cloud.designs.renders import RenderWorker
from cloud.designs.understanding import BuiltinEngine, Engine, FallbackEngine, LlmEngine
from cloud.services import CloudServices
from cloud.settings import DesignsSettings


@dataclass(slots=True)
class DesignsRuntime:
    settings: DesignsSettings
    engine: Engine
    meshes: MeshCache
    renderer: RenderWorker
    metrics: DesignMetrics


def get_designs(request: Request) -> DesignsRuntime:
    runtime = getattr(request.app.state, "designs", None)
    if not isinstance(runtime, DesignsRuntime):
        raise TypeError("app.state.designs is not set: the designs lifespan has not started")
    return runtime


Designs = Annotated[DesignsRuntime, Depends(get_designs)]


def build_engine(
    settings: DesignsSettings, metrics: DesignMetrics, client: httpx.AsyncClient | None
) -> Engine:
    """The built-in engine, behind the LLM when one is configured (and ``client`` given)."""
    builtin = BuiltinEngine()
    if settings.llm_base_url is None or client is None:
        return builtin
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
    llm = LlmEngine(client, settings.llm_base_url, settings.llm_model, key, settings.llm_timeout_s)
    return FallbackEngine(llm, builtin, lambda reason: metrics.llm_fallbacks.labels(reason=reason).inc())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = app.state.services
    assert isinstance(services, CloudServices)
    settings = services.settings.designs
    metrics = DesignMetrics(services.metrics.registry)
    meshes = MeshCache()
    async with AsyncExitStack() as stack:
        client = None
        if settings.llm_base_url is not None:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=settings.llm_timeout_s))
        renderer = RenderWorker(
            services.database,
            meshes,
            metrics,
            services.now,
            size_px=settings.render_size_px,
            queue_max=settings.render_queue_max,
        )
        app.state.designs = DesignsRuntime(
            settings=settings,
            engine=build_engine(settings, metrics, client),
            meshes=meshes,
            renderer=renderer,
            metrics=metrics,
        )
        async with asyncio.TaskGroup() as tasks:
            rendering = tasks.create_task(renderer.run(), name="designs-renderer")
            try:
                yield
            finally:
                rendering.cancel()
