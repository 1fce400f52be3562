"""Seller pages: an organisation's listings, sales and rating — and, for the seller itself, its money."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import NotFound
from cloud.market import books, ledger
from cloud.market.listings import outs
from cloud.market.models import Listing, ListingStatus, Purchase, PurchaseStatus
from cloud.market.schemas import Revenue, SellerPage
from cloud.users.models import Organisation


async def seller_page(session: AsyncSession, org_id: str, viewer_org_id: str) -> SellerPage:
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"no seller {org_id!r}", code="seller_not_found")
    itself = org_id == viewer_org_id
    query = select(Listing).where(Listing.seller_org_id == org_id)
    if not itself:
        query = query.where(Listing.status == ListingStatus.ACTIVE.value)
    listings = list((await session.execute(query.order_by(Listing.created_at.desc(), Listing.id))).scalars())
    sales = (
        await session.execute(
            select(func.count())
            .select_from(Purchase)
            .where(Purchase.seller_org_id == org_id, Purchase.status == PurchaseStatus.PAID.value)
        )
    ).scalar_one()
    rating_sum = sum(listing.rating_sum for listing in listings)
    rating_count = sum(listing.rating_count for listing in listings)
    revenue = None
    if itself:
        totals = await books.seller_totals(session, org_id)
        revenue = Revenue(
            gross_cents=totals.get(ledger.TxKind.PURCHASE.value, 0)
            + totals.get(ledger.TxKind.ROYALTY.value, 0),
            refunded_cents=-totals.get(ledger.TxKind.REFUND.value, 0),
            paid_out_cents=-totals.get(ledger.TxKind.PAYOUT.value, 0),
            balance_cents=sum(totals.values()),
        )
    return SellerPage(
        org_id=org.id,
        name=org.name,
        listings=await outs(session, listings, viewer_org_id),
        sales_count=int(sales),
        rating=round(rating_sum / rating_count, 2) if rating_count else None,
        rating_count=rating_count,
        revenue=revenue,
    )
