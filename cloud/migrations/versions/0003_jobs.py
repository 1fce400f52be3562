"""jobs: farm jobs, files, dispatch

Revision ID: 0003_jobs
Revises: 0002_fleet
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_jobs"
down_revision: str | None = "0002_fleet"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:  # JSON on SQLite, JSONB on PostgreSQL
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("file_key", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("est_print_s", sa.Float(), nullable=False),
        sa.Column("filament_mm", sa.Float(), nullable=False),
        sa.Column("material", sa.String(64), nullable=True),
        sa.Column("nozzle_mm", sa.Float(), nullable=True),
        sa.Column("min_x_mm", sa.Float(), nullable=True),
        sa.Column("min_y_mm", sa.Float(), nullable=True),
        sa.Column("min_z_mm", sa.Float(), nullable=True),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("printer_id", sa.String(64), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("offer_attempts", sa.Integer(), nullable=False),
        sa.Column("avoid_printers", _json(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("offered_at", _utc(), nullable=True),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_jobs_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["printer_id"], ["printers.pid"], name=op.f("fk_jobs_printer_id_printers"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_org_id"), "jobs", ["org_id"])
    op.create_index(op.f("ix_jobs_printer_id"), "jobs", ["printer_id"])
    op.create_index("ix_jobs_state_priority_created", "jobs", ["state", "priority", "created_at"])
    op.create_table(
        "job_commands",
        sa.Column("cmd_id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("printer_id", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("verb", sa.String(32), nullable=False),
        sa.Column("args", _json(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("message", sa.String(1000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("issued_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("next_retry_at", _utc(), nullable=True),
        sa.Column("last_sent_at", _utc(), nullable=True),
        sa.Column("acked_at", _utc(), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_job_commands_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_commands_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("cmd_id", name=op.f("pk_job_commands")),
    )
    op.create_index(op.f("ix_job_commands_org_id"), "job_commands", ["org_id"])
    op.create_index(op.f("ix_job_commands_job_id"), "job_commands", ["job_id"])
    op.create_index(op.f("ix_job_commands_next_retry_at"), "job_commands", ["next_retry_at"])
    op.create_index("ix_job_commands_verb_issued_at", "job_commands", ["verb", "issued_at"])


def downgrade() -> None:
    op.drop_index("ix_job_commands_verb_issued_at", table_name="job_commands")
    op.drop_index(op.f("ix_job_commands_next_retry_at"), table_name="job_commands")
    op.drop_index(op.f("ix_job_commands_job_id"), table_name="job_commands")
    op.drop_index(op.f("ix_job_commands_org_id"), table_name="job_commands")
    op.drop_table("job_commands")
    op.drop_index("ix_jobs_state_priority_created", table_name="jobs")
    op.drop_index(op.f("ix_jobs_printer_id"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_org_id"), table_name="jobs")
    op.drop_table("jobs")
