"""Is a database error the database being away (retry later) rather than a refusal or a bug?

PostgreSQL says so in the SQLSTATE: class ``08`` (connection exception), ``57P`` (the server is
shutting down, crashed or is starting up: ``admin_shutdown``, ``crash_shutdown``,
``cannot_connect_now``) and ``53`` (insufficient resources: too many connections, out of memory). The
asyncpg driver surfaces those as a plain ``DBAPIError`` whose ``orig`` carries the ``sqlstate``; a
refused connection is an ``OSError`` and a lost one an ``InterfaceError`` / ``OperationalError``.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

UNAVAILABLE_SQLSTATE_PREFIXES: Final = ("08", "57P", "53")


def database_unavailable(exc: BaseException) -> bool:
    """True for database errors worth retrying as they are (down, restarting, busy, connection lost)."""
    if isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATE_PREFIXES)
