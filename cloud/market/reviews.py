"""Reviews and ratings: 1 to 5 stars and a text, only by organisations that bought the listing.

One review per listing and buyer organisation; writing again updates it. Markup is stripped from
the text (``cloud.market.text.strip_markup``). The listing's ``rating_sum``/``rating_count`` are
recomputed from the reviews in the same transaction (they serve sorting by rating).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import Forbidden
from cloud.market.entitlements import paid_purchase
from cloud.market.models import Listing, Review
from cloud.market.schemas import ReviewIn, ReviewOut
from cloud.market.text import strip_markup
from cloud.services import CloudServices
from cloud.users.auth import Principal


def review_out(review: Review) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        listing_id=review.listing_id,
        org_id=review.org_id,
        rating=review.rating,
        text=review.text,
        created_at=review.created_at,
        updated_at=review.updated_at,
    )


async def write_review(
    session: AsyncSession, services: CloudServices, principal: Principal, listing: Listing, body: ReviewIn
) -> tuple[Review, bool]:
    """The caller's review of ``listing``, created or updated; ``(review, created)``."""
    if listing.seller_org_id == principal.org_id:
        raise Forbidden("a seller does not review its own listing", code="own_listing")
    if await paid_purchase(session, listing.id, principal.org_id) is None:
        raise Forbidden("only organisations that bought this listing review it", code="not_a_buyer")
    now = services.now()
    text = strip_markup(body.text)
    review = (
        await session.execute(
            select(Review).where(Review.listing_id == listing.id, Review.org_id == principal.org_id)
        )
    ).scalar_one_or_none()
    created = review is None
    if review is None:
        review = Review(
            listing_id=listing.id,
            org_id=principal.org_id,
            rating=body.rating,
            text=text,
            created_by=principal.id if principal.kind == "user" else None,
            created_at=now,
            updated_at=now,
        )
        session.add(review)
    else:
        review.rating = body.rating
        review.text = text
        review.updated_at = now
    await session.flush()
    total, count = (
        await session.execute(
            select(func.coalesce(func.sum(Review.rating), 0), func.count()).where(
                Review.listing_id == listing.id
            )
        )
    ).one()
    await session.execute(
        update(Listing).where(Listing.id == listing.id).values(rating_sum=int(total), rating_count=int(count))
    )
    return review, created


async def list_reviews(
    session: AsyncSession, listing_id: str, *, limit: int, offset: int
) -> Sequence[Review]:
    rows = await session.execute(
        select(Review)
        .where(Review.listing_id == listing_id)
        .order_by(Review.updated_at.desc(), Review.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.scalars().all()
