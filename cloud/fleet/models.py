"""Tables of the fleet resource (added by its Alembic revision)."""

from __future__ import annotations
