"""Who may download and print a listing's files: its seller, and organisations with a paid purchase.

A refund turns the purchase to ``refunded``, which takes the entitlement away at once. A
non-buyer is refused with a 403 (the listing itself is public, so its existence is no secret).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import Forbidden
from cloud.market.models import Listing, Purchase, PurchaseStatus


async def paid_purchase(session: AsyncSession, listing_id: str, org_id: str) -> Purchase | None:
    return (
        await session.execute(
            select(Purchase).where(
                Purchase.listing_id == listing_id,
                Purchase.buyer_org_id == org_id,
                Purchase.status == PurchaseStatus.PAID.value,
            )
        )
    ).scalar_one_or_none()


async def is_entitled(session: AsyncSession, listing: Listing, org_id: str) -> bool:
    if listing.seller_org_id == org_id:
        return True
    return await paid_purchase(session, listing.id, org_id) is not None


async def entitled_orgs(session: AsyncSession, listing_ids: Sequence[str], org_id: str) -> set[str]:
    """Which of ``listing_ids`` ``org_id`` has a paid purchase of."""
    if not listing_ids:
        return set()
    rows = await session.execute(
        select(Purchase.listing_id).where(
            Purchase.listing_id.in_(set(listing_ids)),
            Purchase.buyer_org_id == org_id,
            Purchase.status == PurchaseStatus.PAID.value,
        )
    )
    return set(rows.scalars())


async def require_entitled(session: AsyncSession, listing: Listing, org_id: str, what: str) -> None:
    """``Forbidden`` unless ``org_id`` is the seller or a buyer of ``listing``."""
    if not await is_entitled(session, listing, org_id):
        raise Forbidden(f"buy this listing to {what} it", code="not_entitled")
