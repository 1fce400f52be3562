"""Tables of the marketplace (revision 0005_market).

- ``market_listings``: what a seller organisation offers: text, price, licence, the printable file
  (stored G-code or mesh) or a parametric design spec, a print profile, images, and cached figures
  for sorting (``rating_sum``/``rating_count``, ``sales_count``). ``search_text`` is title, tags
  and description folded to lower case, for the portable (SQLite) search; PostgreSQL searches a
  weighted ``tsvector`` built from the columns (a GIN expression index made by the migration).
- ``market_purchases``: one row per purchase; ``status`` ``paid`` → ``refunded``. At most one paid
  purchase per listing and buyer organisation (a partial unique index). A paid purchase is the
  entitlement to download and print (``cloud.market.entitlements``).
- ``market_reviews``: one per listing and buyer organisation (updated in place).
- ``market_ledger_transactions`` / ``market_ledger_entries``: the double-entry books
  (``cloud.market.ledger``); ``(kind, ref)`` is unique, which makes a purchase, its refund and a
  job's royalty happen at most once whatever is retried.
- ``market_idempotency``: the stored responses of money-moving calls by ``Idempotency-Key``.
- ``market_payouts``: payouts to sellers; ``market_webhook_events``: provider events received.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import ID_CHARS, Base, PortableJSON, new_id, utcnow

TITLE_MAX_CHARS: Final = 120
DESCRIPTION_MAX_CHARS: Final = 5_000
REVIEW_MAX_CHARS: Final = 2_000
SEARCH_TEXT_MAX_CHARS: Final = 8_000
KEY_MAX_CHARS: Final = 512


TSVECTOR_SQL: Final = (
    "((setweight(to_tsvector('english'::regconfig,"
    " COALESCE(title, ''::character varying)::text), 'A'::\"char\")"
    " || setweight(to_tsvector('english'::regconfig, COALESCE(tags::text, ''::text)), 'B'::\"char\"))"
    " || setweight(to_tsvector('english'::regconfig, COALESCE(description, ''::text)), 'C'::\"char\"))"
)
"""What PostgreSQL searches (``cloud.market.search``), written as PostgreSQL prints it back (so Alembic
compares it equal); identical to the GIN index of revision 0005_market."""


class Licence(StrEnum):
    PERSONAL = "personal"
    COMMERCIAL = "commercial"
    PER_PRINT = "per_print"  # a royalty (``royalty_cents``) per print dispatched


class ListingStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class PurchaseStatus(StrEnum):
    PAID = "paid"
    REFUNDED = "refunded"


class Listing(Base):
    __tablename__ = "market_listings"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    seller_org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(TITLE_MAX_CHARS))
    description: Mapped[str] = mapped_column(Text)
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    licence: Mapped[str] = mapped_column(String(16))
    royalty_cents: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    file_key: Mapped[str | None] = mapped_column(String(KEY_MAX_CHARS), default=None)
    file_name: Mapped[str | None] = mapped_column(String(255), default=None)
    file_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    file_size_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    design_spec: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)
    print_profile: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    images: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=ListingStatus.ACTIVE.value)
    search_text: Mapped[str] = mapped_column(Text, default="")
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    sales_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_market_listings_status_created", "status", "created_at"),
        Index("ix_market_listings_fts", text(TSVECTOR_SQL), postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    @property
    def is_free(self) -> bool:
        return self.price_cents == 0


class Purchase(Base):
    __tablename__ = "market_purchases"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    listing_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("market_listings.id", ondelete="CASCADE"), index=True
    )
    buyer_org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    seller_org_id: Mapped[str] = mapped_column(String(ID_CHARS), index=True)
    price_cents: Mapped[int] = mapped_column(Integer)
    fee_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PurchaseStatus.PAID.value)
    payment_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    provider_status: Mapped[str | None] = mapped_column(String(32), default=None)
    created_by: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    refunded_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index(
            "uq_market_purchases_paid",
            "listing_id",
            "buyer_org_id",
            unique=True,
            postgresql_where=text("status = 'paid'"),
            sqlite_where=text("status = 'paid'"),
        ),
    )


class Review(Base):
    __tablename__ = "market_reviews"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    listing_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("market_listings.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("listing_id", "org_id", name="uq_market_reviews_listing_org"),)


class LedgerTransaction(Base):
    __tablename__ = "market_ledger_transactions"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    listing_id: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "ref", name="uq_market_ledger_transactions_kind_ref"),)


class LedgerEntry(Base):
    __tablename__ = "market_ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("market_ledger_transactions.id", ondelete="CASCADE"), index=True
    )
    account: Mapped[str] = mapped_column(String(64), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)


class Payout(Base):
    __tablename__ = "market_payouts"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_by: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    __tablename__ = "market_idempotency"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("org_id", "key", name="uq_market_idempotency_org_key"),)


class WebhookEvent(Base):
    __tablename__ = "market_webhook_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str | None] = mapped_column(String(64), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
