"""The cloud app as a whole: migrations, health, metrics, version, OpenAPI, errors, a real uvicorn.

Every test runs on SQLite and on PostgreSQL (the ``cloud_database_url`` fixture is parametrised).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.routing import APIRoute
from sqlalchemy import Connection, inspect

from cloud.db import create_engine, current_revision, head_revision, migrate
from cloud.main import create_app
from cloud.models import metadata
from tests.fixtures.broker import free_port
from tests.fixtures.cloud import ADMIN_EMAIL, ADMIN_PASSWORD, CloudFactory, CloudHarness, SettingsFactory

pytestmark = pytest.mark.integration

TABLES = {"organisations", "users", "api_keys", "printers", "claim_codes", "alembic_version"}
DOCS_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _schema_diff(connection: Connection) -> tuple[set[str], list[Any]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return set(inspect(connection).get_table_names()), compare_metadata(context, metadata)


async def test_migrations_from_empty_database_match_the_models(cloud_database_url: str) -> None:
    assert await current_revision(cloud_database_url) is None
    await migrate(cloud_database_url)
    await migrate(cloud_database_url)  # idempotent
    assert await current_revision(cloud_database_url) == head_revision()
    engine = create_engine(cloud_database_url)
    try:
        async with engine.connect() as conn:
            tables, diff = await conn.run_sync(_schema_diff)
    finally:
        await engine.dispose()
    assert tables >= TABLES
    assert diff == [], f"models and migrations disagree: {diff}"


async def test_concurrent_startups_migrate_once_and_create_one_admin(
    cloud_settings_factory: SettingsFactory,
) -> None:
    settings = cloud_settings_factory()
    apps = [create_app(settings) for _ in range(3)]

    async def start(app: Any) -> None:
        async with app.router.lifespan_context(app):
            pass

    await asyncio.gather(*(start(app) for app in apps))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cloud.test") as client:
            response = await client.post(
                "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            assert response.status_code == 200
            token = response.json()["access_token"]
            users = await client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert [u["email"] for u in users.json()] == [ADMIN_EMAIL]


async def test_health_and_readiness(cloud: CloudHarness) -> None:
    assert (await cloud.client.get("/healthz")).json() == {"status": "ok"}
    ready = await cloud.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


async def test_readiness_fails_when_the_database_is_unreachable(
    cloud_settings_factory: SettingsFactory,
) -> None:
    port = free_port()
    settings = cloud_settings_factory(
        database_url=f"postgresql://nobody@127.0.0.1:{port}/nothing", migrate_on_startup=False
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cloud.test") as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["database"] != "ok"


async def test_metrics_count_requests_by_route_template_and_status(cloud: CloudHarness) -> None:
    await cloud.client.get("/api/printers/pr-unknown1", headers=cloud.admin_headers)
    await cloud.client.get("/api/printers/pr-unknown2", headers=cloud.admin_headers)
    await cloud.client.get("/no/such/route")
    response = await cloud.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'threedpot_cloud_http_requests_total{method="GET",route="/api/printers/{pid}",status="404"} 2.0'
        in text
    )
    assert 'threedpot_cloud_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert "threedpot_cloud_http_request_duration_seconds_bucket{" in text
    assert 'route="/api/auth/login",status="200"' in text
    assert "pr-unknown1" not in text  # concrete paths never become labels


async def test_metrics_token_when_configured(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(metrics_token="a-long-random-metrics-token")
    assert (await cloud.client.get("/metrics")).status_code == 401
    ok = await cloud.client.get("/metrics", headers={"Authorization": "Bearer a-long-random-metrics-token"})
    assert ok.status_code == 200


async def test_version(cloud: CloudHarness) -> None:
    body = (await cloud.client.get("/api/version")).json()
    assert body["name"] == "3dpot-cloud"
    assert body["api_version"] == "v1"
    assert body["database_revision"] == head_revision()
    assert body["version"]


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _api_routes(nested.routes)
        elif isinstance(route, APIRoute):
            yield route


async def test_openapi_documents_every_route(cloud: CloudHarness) -> None:
    spec = (await cloud.client.get("/openapi.json")).json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes = {
        (route.path, method)
        for route in _api_routes(cloud.app.routes)
        if route.path not in DOCS_ROUTES
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert routes, "no routes found"
    assert routes == documented
    public = {("/healthz", "GET"), ("/readyz", "GET"), ("/metrics", "GET"), ("/api/version", "GET")}
    public |= {("/api/auth/login", "POST"), ("/api/enrol", "POST")}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary"), f"{where} has no summary"
            assert op.get("tags"), f"{where} has no tags"
            success = [code for code in op["responses"] if code.startswith("2")]
            assert success, f"{where} documents no success response"
            for code in success:
                if code != "204":
                    assert op["responses"][code].get("content"), f"{where} {code} has no response schema"
            if (path, method.upper()) not in public:
                assert "401" in op["responses"], f"{where} does not document 401"
                assert op.get("security"), f"{where} declares no security scheme"
            if op.get("parameters") or op.get("requestBody"):
                ref = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), f"{where} documents 422 with {ref}"
            for code, response in op["responses"].items():
                if code.startswith("4"):
                    assert response.get("content"), f"{where} {code} has no body schema"
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_bad_input_is_a_readable_422_never_a_500(cloud: CloudHarness) -> None:
    headers = cloud.admin_headers
    cases: list[tuple[str, str, Any]] = [
        ("POST", "/api/auth/login", {"email": "not-an-email", "password": "x"}),
        ("POST", "/api/auth/login", {"email": "a@b.co"}),
        ("POST", "/api/users", {"email": "a@b.co", "password": "short", "role": "admin"}),
        ("POST", "/api/users", {"email": "a@b.co", "password": "long-enough", "role": "emperor"}),
        ("POST", "/api/printers/claim-codes", {"ttl_s": 5}),
        ("POST", "/api/printers/claim-codes", {"name": "bad\x00name"}),
        ("POST", "/api/printers/claim-codes", {"unknown_field": 1}),
        ("POST", "/api/enrol", {"claim_code": "", "nozzle_mm": -1}),
        ("POST", "/api/enrol", {"claim_code": "x", "build_volume": {"x_mm": 1e300, "y_mm": 1, "z_mm": 1}}),
        ("GET", "/api/printers?limit=0", None),
        ("GET", "/api/printers?offset=99999999999999999999", None),
        ("GET", "/api/printers/bad%20id", None),
        ("PATCH", "/api/printers/pr-x", {"name": None}),
    ]
    for method, url, body in cases:
        response = await cloud.client.request(method, url, json=body, headers=headers)
        assert response.status_code == 422, (method, url, body, response.text)
        payload = response.json()
        assert payload["code"] == "validation_error"
        assert payload["message"] and payload["errors"], payload
    raw = await cloud.client.post(
        "/api/enrol", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert raw.status_code == 422
    assert (await cloud.client.delete("/healthz")).status_code == 405
    missing = await cloud.client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


@pytest.fixture
def uvicorn_process(
    cloud_database_url: str, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``python -m cloud`` on a random port with a TOML settings file."""
    port = free_port()
    settings_file = tmp_path / "cloud.toml"
    settings_file.write_text(
        f'database_url = "{cloud_database_url}"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        "[bootstrap_admin]\n"
        f'email = "{ADMIN_EMAIL}"\n'
        f'password = "{ADMIN_PASSWORD}"\n'
        "[password_hashing]\n"
        "time_cost = 1\nmemory_kib = 1024\nparallelism = 1\n"
    )
    log_path = tmp_path / "uvicorn.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEDPOT_CLOUD_")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cloud", "serve", "--config", str(settings_file), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield f"http://127.0.0.1:{port}", process, log_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.returncode not in (0, -signal.SIGTERM):
            print(log_path.read_text())


async def test_real_uvicorn_serves_and_stops_on_sigterm(
    uvicorn_process: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    base_url, process, log_path = uvicorn_process
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        deadline = time.monotonic() + 20.0
        while True:
            assert process.poll() is None, "the cloud exited during startup"
            try:
                if (await client.get("/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the cloud did not become ready within 20 s"
            await asyncio.sleep(0.1)
        login = await client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200
        me = await client.get("/api/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert me.json()["email"] == ADMIN_EMAIL
    process.send_signal(signal.SIGTERM)
    # uvicorn drains, runs the lifespan shutdown, then re-raises the signal it caught.
    assert await asyncio.to_thread(process.wait, 10) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log_path.read_text()
