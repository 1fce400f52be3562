"""jobs: farm jobs, files, dispatch

Revision ID: 0003_jobs
Revises: 0002_fleet
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003_jobs"
down_revision: str | None = "0002_fleet"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
