"""What the marketplace tells sellers through ``cloud.notify``: a sale, a review.

The notification is recorded in the same transaction as the sale or the review (so it exists
exactly when they do; ``dedup_key`` makes a retried call record it once), and announced to this
process's listeners after the commit.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.market.models import Listing, Purchase, Review
from cloud.notify.kinds import Kind
from cloud.notify.service import Stored, announce, record
from cloud.services import CloudServices


async def record_sale(
    session: AsyncSession, services: CloudServices, listing: Listing, bought: Purchase
) -> Stored | None:
    return await record(
        session,
        listing.seller_org_id,
        Kind.SALE,
        {
            "listing_id": listing.id,
            "listing_title": listing.title,
            "purchase_id": bought.id,
            "price_cents": bought.price_cents,
            "currency": bought.currency,
            "buyer_org_id": bought.buyer_org_id,
        },
        now=services.now(),
        email_enabled=services.settings.notify.smtp_host is not None,
        dedup_key=f"market.sale:{bought.id}",
    )


async def record_review(
    session: AsyncSession, services: CloudServices, listing: Listing, review: Review
) -> Stored | None:
    return await record(
        session,
        listing.seller_org_id,
        Kind.REVIEW,
        {
            "listing_id": listing.id,
            "listing_title": listing.title,
            "review_id": review.id,
            "rating": review.rating,
            "text": review.text[:300],
        },
        now=services.now(),
        email_enabled=services.settings.notify.smtp_host is not None,
        dedup_key=f"market.review:{review.id}:{review.updated_at.isoformat()}",
    )


def after_commit(services: CloudServices, stored: Stored | None) -> None:
    announce(services, stored)
