"""initial: organisations, users, api keys, printers, claim codes

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("viewer", "operator", "admin")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:  # JSON on SQLite, JSONB on PostgreSQL
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _role(table: str) -> tuple[sa.Column[str], sa.CheckConstraint]:
    allowed = ", ".join(f"'{role}'" for role in ROLES)
    return (
        sa.Column("role", sa.String(16), nullable=False),
        sa.CheckConstraint(f"role IN ({allowed})", name=op.f(f"ck_{table}_role")),
    )


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organisations.id"], name=op.f(f"fk_{table}_org_id_organisations"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        *_role("users"),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        _org_fk("users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_org_id"), "users", ["org_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        *_role("api_keys"),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_used_at", _utc(), nullable=True),
        sa.Column("revoked_at", _utc(), nullable=True),
        _org_fk("api_keys"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_api_keys_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_org_id"), "api_keys", ["org_id"])
    op.create_table(
        "printers",
        sa.Column("pid", sa.String(64), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("nozzle_mm", sa.Float(), nullable=True),
        sa.Column("material", sa.String(64), nullable=True),
        sa.Column("build_x_mm", sa.Float(), nullable=True),
        sa.Column("build_y_mm", sa.Float(), nullable=True),
        sa.Column("build_z_mm", sa.Float(), nullable=True),
        sa.Column("mqtt_password_hash", sa.String(255), nullable=False),
        sa.Column("enrolled_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        _org_fk("printers"),
        sa.PrimaryKeyConstraint("pid", name=op.f("pk_printers")),
    )
    op.create_index(op.f("ix_printers_org_id"), "printers", ["org_id"])
    op.create_table(
        "claim_codes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("used_at", _utc(), nullable=True),
        sa.Column("printer_pid", sa.String(64), nullable=True),
        _org_fk("claim_codes"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_claim_codes_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["printer_pid"],
            ["printers.pid"],
            name=op.f("fk_claim_codes_printer_pid_printers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_claim_codes_code_hash")),
    )
    op.create_index(op.f("ix_claim_codes_org_id"), "claim_codes", ["org_id"])


def downgrade() -> None:
    for table in ("claim_codes", "printers", "api_keys", "users"):
        op.drop_index(op.f(f"ix_{table}_org_id"), table_name=table)
        op.drop_table(table)
    op.drop_table("organisations")
