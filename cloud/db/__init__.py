"""The cloud's database: declarative base and shared column types, engine and sessions, migrations.

Models live with their resource (``cloud/users/models.py``, ``cloud/printers/models.py``);
``cloud.models`` imports them all for Alembic.
"""

from cloud.db.base import Base, UtcDateTime, new_id, utcnow
from cloud.db.engine import Database, create_engine, database_url
from cloud.db.migrate import current_revision, head_revision, migrate, rollback

__all__ = [
    "Base",
    "Database",
    "UtcDateTime",
    "create_engine",
    "current_revision",
    "database_url",
    "head_revision",
    "migrate",
    "new_id",
    "rollback",
    "utcnow",
]
