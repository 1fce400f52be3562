"""fleet: printer state and presence, events, command acks, telemetry history

Revision ID: 0002_fleet
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_fleet"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:  # JSON on SQLite, JSONB on PostgreSQL
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "fleet_printer_state",
        sa.Column("printer_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("printer_state", sa.String(16), nullable=False),
        sa.Column("link", sa.String(16), nullable=False),
        sa.Column("queue_state", sa.String(16), nullable=True),
        sa.Column("queue_length", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=True),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("snapshot", _json(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("online_since", _utc(), nullable=True),
        sa.Column("state_at", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("printer_id", name=op.f("pk_fleet_printer_state")),
    )
    op.create_index(op.f("ix_fleet_printer_state_updated_at"), "fleet_printer_state", ["updated_at"])
    op.create_table(
        "fleet_events",
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("printer_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts", _utc(), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=True),
        sa.Column("data", _json(), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_fleet_events")),
    )
    op.create_index(op.f("ix_fleet_events_job_id"), "fleet_events", ["job_id"])
    op.create_index("ix_fleet_events_printer_seq", "fleet_events", ["printer_id", "seq"])
    op.create_table(
        "fleet_command_acks",
        sa.Column("cmd_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("printer_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("message", sa.String(1000), nullable=True),
        sa.Column("ts", _utc(), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("cmd_id", "status", name=op.f("pk_fleet_command_acks")),
    )
    op.create_index(op.f("ix_fleet_command_acks_printer_id"), "fleet_command_acks", ["printer_id"])
    op.create_table(
        "fleet_telemetry",
        sa.Column("printer_id", sa.String(64), nullable=False),
        sa.Column("ts", _utc(), nullable=False),
        sa.Column("temps", _json(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("layer", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("printer_id", "ts", name=op.f("pk_fleet_telemetry")),
    )
    op.create_table(
        "fleet_telemetry_minute",
        sa.Column("printer_id", sa.String(64), nullable=False),
        sa.Column("minute", _utc(), nullable=False),
        sa.Column("temps", _json(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("printer_id", "minute", name=op.f("pk_fleet_telemetry_minute")),
    )


def downgrade() -> None:
    op.drop_table("fleet_telemetry_minute")
    op.drop_table("fleet_telemetry")
    op.drop_index(op.f("ix_fleet_command_acks_printer_id"), table_name="fleet_command_acks")
    op.drop_table("fleet_command_acks")
    op.drop_index("ix_fleet_events_printer_seq", table_name="fleet_events")
    op.drop_index(op.f("ix_fleet_events_job_id"), table_name="fleet_events")
    op.drop_table("fleet_events")
    op.drop_index(op.f("ix_fleet_printer_state_updated_at"), table_name="fleet_printer_state")
    op.drop_table("fleet_printer_state")
