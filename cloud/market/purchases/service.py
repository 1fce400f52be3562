"""Buying a listing, refunding a purchase, paying a seller out: provider calls plus ledger lines.

Each runs in the caller's transaction (the route commits, with the idempotency record):

- **purchase**: the listing must be active, not the buyer's own, not already bought. The purchase
  row is written (flushed) *before* the provider is called, so a second concurrent purchase of
  the same listing by the same organisation fails on the unique index before it charges. A paid
  listing is authorised and captured with idempotency keys derived from the caller's key (a
  retry never charges twice); then the ledger gets the sale. A free listing moves no money and
  writes no ledger line.
- **refund**: by the seller organisation only. The ledger reverses the sale (the platform absorbs
  what the seller already paid out: see ``cloud.market.ledger``), the provider refunds with a key
  derived from the purchase id (once per purchase whatever the caller's key), and the purchase is
  ``refunded``, which revokes the entitlement.
- **payout**: a seller takes money out of its balance; never more than the balance (409).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db import new_id
from cloud.errors import BadRequest, CloudError, Conflict, Forbidden, NotFound
from cloud.market import books, ledger
from cloud.market.entitlements import paid_purchase
from cloud.market.listings import get_visible
from cloud.market.models import Listing, ListingStatus, Payout, Purchase, PurchaseStatus
from cloud.market.payments import PaymentDeclined, PaymentError
from cloud.market.runtime import MarketRuntime
from cloud.market.schemas import PayoutOut, PurchaseOut, PurchaseRequest
from cloud.services import CloudServices
from cloud.users.auth import Principal

log = logging.getLogger(__name__)


class PaymentRequired(CloudError):
    status = 402
    code = "payment_declined"


class PaymentFailed(CloudError):
    status = 502
    code = "payment_failed"


def purchase_out(purchase: Purchase) -> PurchaseOut:
    return PurchaseOut(
        id=purchase.id,
        listing_id=purchase.listing_id,
        buyer_org_id=purchase.buyer_org_id,
        seller_org_id=purchase.seller_org_id,
        price_cents=purchase.price_cents,
        fee_cents=purchase.fee_cents,
        currency=purchase.currency,
        status=purchase.status,
        payment_id=purchase.payment_id,
        provider_status=purchase.provider_status,
        created_at=purchase.created_at,
        refunded_at=purchase.refunded_at,
    )


async def purchase(
    session: AsyncSession,
    services: CloudServices,
    market: MarketRuntime,
    principal: Principal,
    listing_id: str,
    body: PurchaseRequest,
    idempotency_key: str,
) -> Purchase:
    listing = await get_visible(session, listing_id, principal.org_id)
    if listing.status != ListingStatus.ACTIVE.value:
        raise Conflict("this listing is withdrawn", code="listing_withdrawn")
    if listing.seller_org_id == principal.org_id:
        raise Conflict("this is your own listing", code="own_listing")
    if await paid_purchase(session, listing.id, principal.org_id) is not None:
        raise Conflict("your organisation already bought this listing", code="already_bought")
    price = listing.price_cents
    if price > 0 and body.card_token is None:
        raise BadRequest("a paid listing needs a card_token", code="card_token_required")
    now = services.now()
    bought = Purchase(
        id=new_id(),
        listing_id=listing.id,
        buyer_org_id=principal.org_id,
        seller_org_id=listing.seller_org_id,
        price_cents=price,
        fee_cents=ledger.platform_fee(price, market.fee_bps),
        currency=listing.currency,
        status=PurchaseStatus.PAID.value,
        created_by=principal.id if principal.kind == "user" else None,
        created_at=now,
    )
    session.add(bought)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("your organisation already bought this listing", code="already_bought") from None
    if price > 0:
        assert body.card_token is not None
        key = f"{principal.org_id}:{idempotency_key}"
        try:
            held = await market.provider.authorise(
                amount_cents=price,
                currency=listing.currency,
                card_token=body.card_token,
                idempotency_key=f"{key}:authorise",
            )
            captured = await market.provider.capture(
                payment_id=held.payment_id, idempotency_key=f"{key}:capture"
            )
        except PaymentDeclined as exc:
            raise PaymentRequired(str(exc)) from None
        except PaymentError as exc:
            raise PaymentFailed(f"the payment provider failed: {exc}") from None
        bought.payment_id = captured.payment_id
        bought.provider_status = captured.status
        tx = ledger.sale(ledger.TxKind.PURCHASE, bought.id, listing.seller_org_id, price, market.fee_bps)
        await books.record(session, tx, currency=listing.currency, now=now, listing_id=listing.id)
    await session.execute(
        update(Listing).where(Listing.id == listing.id).values(sales_count=Listing.sales_count + 1)
    )
    log.info("organisation %s bought listing %s for %d cents", principal.org_id, listing.id, price)
    return bought


async def get_purchase(
    session: AsyncSession, purchase_id: str, org_id: str, *, lock: bool = False
) -> Purchase:
    """A purchase its buyer or seller may see; ``NotFound`` for anyone else."""
    query = select(Purchase).where(
        Purchase.id == purchase_id, or_(Purchase.buyer_org_id == org_id, Purchase.seller_org_id == org_id)
    )
    if lock:
        query = query.with_for_update()
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no purchase {purchase_id!r}", code="purchase_not_found")
    return found


async def list_purchases(
    session: AsyncSession, org_id: str, *, as_seller: bool, limit: int, offset: int
) -> Sequence[Purchase]:
    column = Purchase.seller_org_id if as_seller else Purchase.buyer_org_id
    rows = await session.execute(
        select(Purchase)
        .where(column == org_id)
        .order_by(Purchase.created_at.desc(), Purchase.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.scalars().all()


async def refund(
    session: AsyncSession,
    services: CloudServices,
    market: MarketRuntime,
    principal: Principal,
    purchase_id: str,
) -> Purchase:
    bought = await get_purchase(session, purchase_id, principal.org_id, lock=True)
    if bought.seller_org_id != principal.org_id:
        raise Forbidden("only the seller refunds a purchase; ask the seller", code="not_the_seller")
    if bought.status != PurchaseStatus.PAID.value:
        raise Conflict("this purchase is already refunded", code="already_refunded")
    now = services.now()
    await books.lock_seller(session, bought.seller_org_id)
    original = await books.load(session, ledger.TxKind.PURCHASE, bought.id)
    if original is not None:
        available = await books.seller_balance(session, bought.seller_org_id)
        reversal = ledger.refund(original, available)
        await books.record(session, reversal, currency=bought.currency, now=now, listing_id=bought.listing_id)
    if bought.payment_id is not None and bought.price_cents > 0:
        try:
            result = await market.provider.refund(
                payment_id=bought.payment_id,
                amount_cents=bought.price_cents,
                idempotency_key=f"refund:{bought.id}",
            )
        except PaymentError as exc:
            raise PaymentFailed(f"the payment provider failed: {exc}") from None
        bought.provider_status = result.status
    bought.status = PurchaseStatus.REFUNDED.value
    bought.refunded_at = now
    await session.execute(
        update(Listing).where(Listing.id == bought.listing_id).values(sales_count=Listing.sales_count - 1)
    )
    log.info("purchase %s refunded by organisation %s", bought.id, principal.org_id)
    return bought


async def payout(
    session: AsyncSession,
    services: CloudServices,
    market: MarketRuntime,
    principal: Principal,
    amount_cents: int,
) -> PayoutOut:
    now = services.now()
    await books.lock_seller(session, principal.org_id)
    available = await books.seller_balance(session, principal.org_id)
    paid = Payout(
        id=new_id(),
        org_id=principal.org_id,
        amount_cents=amount_cents,
        currency=market.currency,
        created_by=principal.id if principal.kind == "user" else None,
        created_at=now,
    )
    try:
        tx = ledger.payout(paid.id, principal.org_id, amount_cents, available)
    except ledger.InsufficientBalance as exc:
        raise Conflict(str(exc), code="insufficient_balance") from None
    session.add(paid)
    await books.record(session, tx, currency=market.currency, now=now)
    log.info("organisation %s paid out %d cents", principal.org_id, amount_cents)
    return PayoutOut(
        id=paid.id,
        amount_cents=amount_cents,
        currency=paid.currency,
        balance_cents=available - amount_cents,
        created_at=now,
    )
