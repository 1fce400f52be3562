"""Which database errors mean "the database is away" (retry, answer 503) — found by tests/system."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from cloud.db.availability import database_unavailable
from cloud.errors import install_error_handlers


class DriverError(Exception):
    """What the asyncpg adapter puts in ``DBAPIError.orig``: the server's SQLSTATE."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def dbapi(sqlstate: str | None, *, invalidated: bool = False) -> DBAPIError:
    return DBAPIError("SELECT 1", None, DriverError(sqlstate), connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (dbapi("57P01"), True),  # admin_shutdown: pg_ctl stop -m fast
        (dbapi("57P03"), True),  # cannot_connect_now: starting up / shutting down
        (dbapi("08006"), True),  # connection_failure
        (dbapi("53300"), True),  # too_many_connections
        (dbapi(None, invalidated=True), True),
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (OperationalError("SELECT 1", None, DriverError(None)), True),
        (InterfaceError("SELECT 1", None, DriverError(None)), True),
        (TimeoutError(), True),
        (dbapi("23505"), False),  # unique_violation: a refusal, not an outage
        (IntegrityError("INSERT", None, DriverError("23503")), False),
        (dbapi("42P01"), False),  # undefined_table: a bug
        (dbapi(None), False),
        (ValueError("nope"), False),
    ],
)
def test_database_unavailable(error: BaseException, unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable


async def test_an_api_call_while_the_database_is_away_is_a_503_and_a_bug_stays_a_500() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/away")
    async def away() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    @app.get("/restarting")
    async def restarting() -> None:
        raise dbapi("57P03")

    @app.get("/bug")
    async def bug() -> None:
        raise dbapi("42P01")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for path in ("/away", "/restarting"):
            response = await client.get(path)
            assert response.status_code == 503
            assert response.json()["code"] == "database_unavailable"
            assert response.headers["Retry-After"] == "5"
        assert (await client.get("/bug")).status_code == 500
