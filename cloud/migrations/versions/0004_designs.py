"""designs: design sessions, turns, renders

Revision ID: 0004_designs
Revises: 0003_jobs
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_designs"
down_revision: str | None = "0003_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:  # JSON on SQLite, JSONB on PostgreSQL
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "design_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("lang", sa.String(8), nullable=True),
        sa.Column("spec", _json(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_design_sessions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_design_sessions")),
    )
    op.create_index(op.f("ix_design_sessions_org_id"), "design_sessions", ["org_id"])
    op.create_index("ix_design_sessions_org_updated", "design_sessions", ["org_id", "updated_at"])
    op.create_table(
        "design_turns",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("lang", sa.String(8), nullable=True),
        sa.Column("spec", _json(), nullable=True),
        sa.Column("draft", _json(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["design_sessions.id"],
            name=op.f("fk_design_turns_session_id_design_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_design_turns")),
    )
    op.create_index("ix_design_turns_session_seq", "design_turns", ["session_id", "seq"], unique=True)
    op.create_table(
        "design_renders",
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("spec_hash", name=op.f("pk_design_renders")),
    )


def downgrade() -> None:
    op.drop_table("design_renders")
    op.drop_index("ix_design_turns_session_seq", table_name="design_turns")
    op.drop_table("design_turns")
    op.drop_index("ix_design_sessions_org_updated", table_name="design_sessions")
    op.drop_index(op.f("ix_design_sessions_org_id"), table_name="design_sessions")
    op.drop_table("design_sessions")
