"""The ledger in the database: record a ``cloud.market.ledger`` transaction once, read balances.

``(kind, ref)`` is unique, so recording the same purchase, refund or royalty twice is a no-op
(``record`` returns False) whoever retries. Changes to a seller's balance (refund, payout) first
lock the seller's organisation row (``lock_seller``), so two of them never both see the same
balance on PostgreSQL; on SQLite the database serialises writers anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.market import ledger
from cloud.market.models import LedgerEntry, LedgerTransaction
from cloud.users.models import Organisation


async def exists(session: AsyncSession, kind: ledger.TxKind, ref: str) -> bool:
    found = await session.execute(
        select(LedgerTransaction.id).where(LedgerTransaction.kind == kind.value, LedgerTransaction.ref == ref)
    )
    return found.first() is not None


async def load(session: AsyncSession, kind: ledger.TxKind, ref: str) -> ledger.Transaction | None:
    row = (
        await session.execute(
            select(LedgerTransaction).where(
                LedgerTransaction.kind == kind.value, LedgerTransaction.ref == ref
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    entries = (
        await session.execute(
            select(LedgerEntry).where(LedgerEntry.transaction_id == row.id).order_by(LedgerEntry.id)
        )
    ).scalars()
    return ledger.Transaction(kind, ref, tuple(ledger.Entry(e.account, e.amount_cents) for e in entries))


async def record(
    session: AsyncSession,
    tx: ledger.Transaction,
    *,
    currency: str,
    now: datetime,
    listing_id: str | None = None,
) -> bool:
    """Write ``tx`` (flushed, not committed); False when one of that kind and ref is already there."""
    if await exists(session, tx.kind, tx.ref):
        return False
    row = LedgerTransaction(
        kind=tx.kind.value, ref=tx.ref, currency=currency, listing_id=listing_id, created_at=now
    )
    session.add(row)
    await session.flush()
    session.add_all(
        LedgerEntry(transaction_id=row.id, account=e.account, amount_cents=e.amount_cents) for e in tx.entries
    )
    await session.flush()
    return True


async def balance(session: AsyncSession, account: str) -> int:
    total = await session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(LedgerEntry.account == account)
    )
    return int(total.scalar_one())


async def seller_balance(session: AsyncSession, org_id: str) -> int:
    return await balance(session, ledger.seller_account(org_id))


async def lock_seller(session: AsyncSession, org_id: str) -> None:
    """Serialise changes to ``org_id``'s balance until the transaction ends (PostgreSQL row lock)."""
    await session.execute(select(Organisation.id).where(Organisation.id == org_id).with_for_update())


async def seller_totals(session: AsyncSession, org_id: str) -> dict[str, int]:
    """The seller account's entries summed by transaction kind (``purchase``, ``royalty``, ...)."""
    rows = await session.execute(
        select(LedgerTransaction.kind, func.sum(LedgerEntry.amount_cents))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account == ledger.seller_account(org_id))
        .group_by(LedgerTransaction.kind)
    )
    return {kind: int(total or 0) for kind, total in rows}
