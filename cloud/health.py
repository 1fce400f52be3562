"""Operational routes: liveness, readiness, Prometheus metrics, version. No authentication,
except ``/metrics`` when ``metrics_token`` is set."""

from __future__ import annotations

import hmac
from importlib import metadata
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from cloud.db import head_revision
from cloud.errors import Unauthenticated, error_responses
from cloud.services import Services

PACKAGE: Final = "3dpot"
SERVICE_NAME: Final = "3dpot-cloud"
API_VERSION: Final = "v1"

router = APIRouter()
_metrics_bearer = HTTPBearer(
    auto_error=False, scheme_name="metricsToken", description="the metrics_token setting, when it is set"
)


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "0+unknown"


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str = Field(description="'ok', or why the database is not usable")


class VersionOut(BaseModel):
    name: str = SERVICE_NAME
    version: str = Field(description="the 3dpot package version")
    api_version: str = API_VERSION
    database_revision: str = Field(description="the newest Alembic revision this code migrates to")


@router.get("/healthz", tags=["ops"], summary="Liveness: the process is up", response_model=Health)
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    tags=["ops"],
    summary="Readiness: the database answers",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: the database does not answer"}},
)
async def readyz(services: Services) -> Readiness | JSONResponse:
    problem = await services.database.ping()
    if problem is None:
        return Readiness(status="ok", database="ok")
    body = Readiness(status="unavailable", database=problem)
    return JSONResponse(status_code=503, content=body.model_dump())


@router.get(
    "/metrics",
    tags=["ops"],
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format 0.0.4",
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
        },
        **error_responses(401),
    },
)
async def metrics(
    services: Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_metrics_bearer)],
) -> Response:
    token = services.settings.metrics_token
    if token is not None:
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise Unauthenticated("metrics need 'Authorization: Bearer <metrics_token>'")
    return Response(content=services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/version", tags=["ops"], summary="Service and API version", response_model=VersionOut)
async def version(services: Services) -> VersionOut:
    return VersionOut(version=services.version, database_revision=head_revision())
