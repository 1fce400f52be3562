"""Tables of the jobs resource (added by its Alembic revision)."""

from __future__ import annotations
