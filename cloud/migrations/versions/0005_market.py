"""market: listings, purchases, ledger, entitlements, reviews

Revision ID: 0005_market
Revises: 0004_designs
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_market"
down_revision: str | None = "0004_designs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Identical to cloud.market.models.TSVECTOR_SQL (the search query uses the indexed expression).
TSVECTOR_SQL = (
    "((setweight(to_tsvector('english'::regconfig,"
    " COALESCE(title, ''::character varying)::text), 'A'::\"char\")"
    " || setweight(to_tsvector('english'::regconfig, COALESCE(tags::text, ''::text)), 'B'::\"char\"))"
    " || setweight(to_tsvector('english'::regconfig, COALESCE(description, ''::text)), 'C'::\"char\"))"
)


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:  # JSON on SQLite, JSONB on PostgreSQL
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _org_fk(table: str, column: str = "org_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["organisations.id"], name=op.f(f"fk_{table}_{column}_organisations"), ondelete="CASCADE"
    )


def _listing_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["listing_id"],
        ["market_listings.id"],
        name=op.f(f"fk_{table}_listing_id_market_listings"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "market_listings",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("seller_org_id", sa.String(32), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("licence", sa.String(16), nullable=False),
        sa.Column("royalty_cents", sa.Integer(), nullable=False),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("file_key", sa.String(512), nullable=True),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=True),
        sa.Column("file_size_bytes", sa.Integer(), nullable=True),
        sa.Column("design_spec", _json(), nullable=True),
        sa.Column("print_profile", _json(), nullable=False),
        sa.Column("images", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("sales_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        _org_fk("market_listings", "seller_org_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_listings")),
    )
    op.create_index(op.f("ix_market_listings_seller_org_id"), "market_listings", ["seller_org_id"])
    op.create_index("ix_market_listings_status_created", "market_listings", ["status", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_market_listings_fts ON market_listings USING gin ({TSVECTOR_SQL})")

    op.create_table(
        "market_purchases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("listing_id", sa.String(32), nullable=False),
        sa.Column("buyer_org_id", sa.String(32), nullable=False),
        sa.Column("seller_org_id", sa.String(32), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("fee_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_id", sa.String(64), nullable=True),
        sa.Column("provider_status", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("refunded_at", _utc(), nullable=True),
        _listing_fk("market_purchases"),
        _org_fk("market_purchases", "buyer_org_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_purchases")),
    )
    op.create_index(op.f("ix_market_purchases_listing_id"), "market_purchases", ["listing_id"])
    op.create_index(op.f("ix_market_purchases_buyer_org_id"), "market_purchases", ["buyer_org_id"])
    op.create_index(op.f("ix_market_purchases_seller_org_id"), "market_purchases", ["seller_org_id"])
    op.create_index(op.f("ix_market_purchases_payment_id"), "market_purchases", ["payment_id"])
    op.create_index(
        "uq_market_purchases_paid",
        "market_purchases",
        ["listing_id", "buyer_org_id"],
        unique=True,
        postgresql_where=sa.text("status = 'paid'"),
        sqlite_where=sa.text("status = 'paid'"),
    )

    op.create_table(
        "market_reviews",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("listing_id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        _listing_fk("market_reviews"),
        _org_fk("market_reviews"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_reviews")),
        sa.UniqueConstraint("listing_id", "org_id", name="uq_market_reviews_listing_org"),
    )
    op.create_index(op.f("ix_market_reviews_listing_id"), "market_reviews", ["listing_id"])
    op.create_index(op.f("ix_market_reviews_org_id"), "market_reviews", ["org_id"])

    op.create_table(
        "market_ledger_transactions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("listing_id", sa.String(32), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_ledger_transactions")),
        sa.UniqueConstraint("kind", "ref", name="uq_market_ledger_transactions_kind_ref"),
    )
    op.create_index(
        op.f("ix_market_ledger_transactions_listing_id"), "market_ledger_transactions", ["listing_id"]
    )
    op.create_table(
        "market_ledger_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["market_ledger_transactions.id"],
            name=op.f("fk_market_ledger_entries_transaction_id_market_ledger_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_ledger_entries")),
    )
    op.create_index(
        op.f("ix_market_ledger_entries_transaction_id"), "market_ledger_entries", ["transaction_id"]
    )
    op.create_index(op.f("ix_market_ledger_entries_account"), "market_ledger_entries", ["account"])

    op.create_table(
        "market_payouts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        _org_fk("market_payouts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_payouts")),
    )
    op.create_index(op.f("ix_market_payouts_org_id"), "market_payouts", ["org_id"])

    op.create_table(
        "market_idempotency",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        _org_fk("market_idempotency"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_idempotency")),
        sa.UniqueConstraint("org_id", "key", name="uq_market_idempotency_org_key"),
    )

    op.create_table(
        "market_webhook_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(64), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_webhook_events")),
    )

    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("listing_id", sa.String(32), nullable=True))
        batch.create_index(op.f("ix_jobs_listing_id"), ["listing_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index(op.f("ix_jobs_listing_id"))
        batch.drop_column("listing_id")
    for table in (
        "market_webhook_events",
        "market_idempotency",
        "market_payouts",
        "market_ledger_entries",
        "market_ledger_transactions",
        "market_reviews",
        "market_purchases",
        "market_listings",
    ):
        op.drop_table(table)
