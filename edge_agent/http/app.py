"""`create_app`: the agent's local HTTP API as one FastAPI app over an `AgentControl`.

    /api/version, /api/server, /api/job, /api/printer,     OctoPrint's subset that slicers call
    /api/connection, /api/settings, /api/printerprofiles,
    /api/files[/local[/{name}]], /downloads/files/local/{name}
    /api/agent/...                                           the agent's own queue API
    /metrics                                                 Prometheus text, no key (see metrics.py)

Every `/api/*` and `/downloads/*` route needs the API key when one is configured (auth.py). Errors have
one shape, `{"error": message, "code": code}`, from one handler per kind:

    AgentRefusal            its status_code (409 NotReady/Conflict, 404, 400, 413) and code
    UploadRejected          400 / 413, refused while the upload streamed in
    RequestValidationError  400 with the fields at fault (FastAPI's default is 422)
    HTTPException           its status (403 no key, 404 no route, 405, 413 body limit)
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from edge_agent.control import AgentControl
from edge_agent.errors import AgentRefusal
from edge_agent.http.auth import ApiKeyCheck
from edge_agent.http.metrics import HttpMetrics, RequestCounter, metrics_router
from edge_agent.http.octoprint_files import octoprint_files_router
from edge_agent.http.octoprint_status import octoprint_status_router
from edge_agent.http.queue_api import queue_router
from edge_agent.http.uploads import UploadRejected

JSON_BODY_MAX_BYTES = 64 * 1024
"""Limit of a JSON body (uploads are limited by `AgentControl.max_upload_bytes` as they stream)."""

_HTTP_CODES = {
    400: "bad_args",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
}


def create_app(control: AgentControl, *, api_key: str | None, version: str) -> FastAPI:
    """The API over `control`; with `api_key` None every request passes (serve it on loopback only)."""
    metrics = HttpMetrics(control.registry)
    app = FastAPI(title="3D Pot agent", version=version, docs_url=None, redoc_url=None)
    app.add_middleware(RequestCounter, metrics=metrics)
    keyed = [Depends(ApiKeyCheck(api_key))]
    status = octoprint_status_router(control, version=version)
    app.include_router(status, dependencies=keyed, max_body_size=JSON_BODY_MAX_BYTES)
    app.include_router(octoprint_files_router(control, metrics), dependencies=keyed)
    app.include_router(queue_router(control), dependencies=keyed, max_body_size=JSON_BODY_MAX_BYTES)
    app.include_router(metrics_router(control.registry))
    app.add_exception_handler(AgentRefusal, _refusal)
    app.add_exception_handler(UploadRejected, _upload_rejected)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    return app


def error_body(message: str, code: str) -> dict[str, str]:
    return {"error": message, "code": code}


async def _refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AgentRefusal)
    message = str(exc) or type(exc).__name__
    return JSONResponse(error_body(message, exc.code), status_code=exc.status_code)


async def _upload_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UploadRejected)
    return JSONResponse(error_body(str(exc), exc.code), status_code=exc.status_code)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(error_body(describe_errors(exc.errors()), "bad_args"), status_code=400)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(error_body(str(exc.detail), code), status_code=exc.status_code, headers=exc.headers)


def describe_errors(errors: Sequence[object]) -> str:
    """Pydantic's error list as one line a person can read: `body.priority: Input should be ...`."""
    parts: list[str] = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        location = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg")))
    return "; ".join(parts) or "invalid request"
