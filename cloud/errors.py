"""The one exception tree of the cloud's domain refusals, and the one seam mapping it to HTTP.

::

    Exception
     └── CloudError               a refusal a client can act on; never a bug
          ├── BadRequest          400  well-formed but unacceptable (e.g. an expired claim code)
          ├── Unauthenticated     401  no credentials, or bad / expired / revoked ones
          ├── Forbidden           403  authenticated, but the role does not allow it
          ├── NotFound            404  absent — or in another organisation (never a 403 that leaks it)
          ├── Conflict            409  clashes with the current state (duplicate email, last admin)
          └── RateLimited         429  too many attempts; carries ``retry_after_s``

Every error response has the same JSON body, ``ErrorBody``: a stable machine ``code`` and a
``message`` a person can act on. Validation errors are 422 with one readable line per problem;
Starlette's own HTTP errors (unknown route, wrong method) get the same shape. The database being
away (down, restarting, refusing connections: ``cloud.db.availability``) is an expected failure: 503
``database_unavailable`` with ``Retry-After`` and one warning line. Anything else is a bug and
propagates (a 500 in the log, not a swallowed exception).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud.db.availability import database_unavailable

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER_S: Final = 5


class CloudError(Exception):
    """Base of every domain refusal. Subclasses set ``status`` and a default ``code``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = code or self.code

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(CloudError):
    status = 400
    code = "bad_request"


class Unauthenticated(CloudError):
    status = 401
    code = "unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(CloudError):
    status = 403
    code = "forbidden"


class NotFound(CloudError):
    status = 404
    code = "not_found"


class Conflict(CloudError):
    status = 409
    code = "conflict"


class RateLimited(CloudError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))}


class FieldError(BaseModel):
    """One problem with one input field."""

    loc: list[str | int] = Field(
        description="where: 'body', 'query', 'path' or 'header', then the field path"
    )
    message: str
    type: str = Field(description="pydantic's error type, e.g. 'missing', 'string_too_short'")


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(description="stable machine-readable reason, e.g. 'not_found', 'validation_error'")
    message: str = Field(description="what went wrong, for a person")
    errors: list[FieldError] | None = Field(default=None, description="per-field problems (422 only)")


_DESCRIPTIONS: Final = {
    400: "Bad request: well-formed but not acceptable",
    401: "Not authenticated: missing, invalid, expired or revoked credentials",
    403: "Forbidden: your role does not allow this",
    404: "Not found (or not in your organisation)",
    409: "Conflict with the current state",
    422: "Validation error: the request does not match the schema",
    429: "Too many attempts: wait for Retry-After seconds",
    503: "Service unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for these error statuses, all with ``ErrorBody``."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
            }
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
        responses[status] = entry
    return responses


def _field_errors(errors: Sequence[Any]) -> list[FieldError]:
    out: list[FieldError] = []
    for error in errors:
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        out.append(
            FieldError(loc=loc, message=str(error.get("msg", "invalid")), type=str(error.get("type", "")))
        )
    return out


def _summary(errors: list[FieldError]) -> str:
    lines = [f"{'.'.join(str(p) for p in e.loc) or 'request'}: {e.message}" for e in errors[:10]]
    if len(errors) > 10:
        lines.append(f"... and {len(errors) - 10} more")
    return "; ".join(lines) or "invalid request"


def _json(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body.model_dump(exclude_none=True), headers=headers)


async def _on_cloud_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CloudError)
    return _json(exc.status, ErrorBody(code=exc.error_code, message=exc.message), exc.headers())


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc.errors())
    return _json(422, ErrorBody(code="validation_error", message=_summary(errors), errors=errors))


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    return _json(exc.status_code, ErrorBody(code=code, message=message), dict(exc.headers or {}))


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    if not database_unavailable(exc):
        raise exc  # a bug: the 500 and its traceback
    log.warning(
        "%s %s: database unavailable (%s); answered 503",
        request.method,
        request.url.path,
        (str(exc).splitlines() or [type(exc).__name__])[0][:200],
    )
    body = ErrorBody(code="database_unavailable", message="the database is unavailable; try again shortly")
    return _json(503, body, {"Retry-After": str(DATABASE_RETRY_AFTER_S)})


def install_error_handlers(app: FastAPI) -> None:
    """Register the one mapping from exceptions to HTTP responses."""
    app.add_exception_handler(CloudError, _on_cloud_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(ConnectionError, _on_database_error)  # asyncpg's refused connect
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
