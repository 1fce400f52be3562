"""Per-print royalties: one ledger line when a job printed from a ``per_print`` listing is dispatched.

``RoyaltyRecorder.on_offered`` is a dispatcher hook (``cloud.jobs.hooks``): it runs in the
dispatcher's transaction, and the ledger's unique ``(royalty, <job id>)`` makes it once per job
however often the job is offered (a refused offer goes back to the queue and is offered again).
The seller printing its own listing owes nothing. Royalties are accrued to the seller's balance
and owed by the buyer organisation (``buyer_payments``); charging them through the payment
provider is left for a later part.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.jobs.models import Job
from cloud.market import books, ledger
from cloud.market.models import Licence, Listing

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RoyaltyRecorder:
    fee_bps: int
    currency: str

    async def on_offered(self, session: AsyncSession, jobs: Sequence[Job], now: datetime) -> None:
        marked = [job for job in jobs if job.listing_id is not None]
        if not marked:
            return
        listing_ids = {job.listing_id for job in marked}
        listings = {
            listing.id: listing
            for listing in (
                await session.execute(select(Listing).where(Listing.id.in_(listing_ids)))
            ).scalars()
        }
        for job in marked:
            listing = listings.get(job.listing_id or "")
            if listing is None or listing.licence != Licence.PER_PRINT.value or listing.royalty_cents <= 0:
                continue
            if job.org_id == listing.seller_org_id:
                continue
            tx = ledger.sale(
                ledger.TxKind.ROYALTY, job.id, listing.seller_org_id, listing.royalty_cents, self.fee_bps
            )
            if await books.record(session, tx, currency=self.currency, now=now, listing_id=listing.id):
                log.info(
                    "royalty of %d cents for job %s (listing %s)", listing.royalty_cents, job.id, listing.id
                )
