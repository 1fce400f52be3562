"""What other resources hear from the dispatcher: the jobs it has just offered to printers.

An ``OfferHook`` runs inside the dispatcher's transaction, after the offers are written and before
they are committed, with the jobs offered in this round (their ``printer_id`` set). Whatever it
writes commits together with the offers — or not at all: a hook that raises fails the round, so
the offer and what the hook records (the marketplace's per-print royalty) never disagree. A job
offered again later (after a refusal) reaches the hooks again: a hook that must act once per job
keys its record by the job id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from cloud.jobs.models import Job

OfferHook = Callable[["AsyncSession", "Sequence[Job]", datetime], Awaitable[None]]


@dataclass(slots=True)
class DispatchHooks:
    on_offered: list[OfferHook] = field(default_factory=list)
