"""Searching active listings: full text, filters (tag, licence, free/paid, price range, seller), sorting.

- **PostgreSQL**: ``websearch_to_tsquery('english', q)`` (quoted phrases, ``-word``, ``or``)
  against a weighted ``tsvector`` — title A, tags B, description C — ranked with ``ts_rank``. The
  migration builds a GIN index on exactly ``TSVECTOR_SQL``.
- **SQLite** (portable fallback): the filters in SQL, then every query word must match a word of
  the listing (folded, a plural ``s``/``es`` ignored; ``-word`` excludes); the score weighs title
  matches 3, tags 2, description 1 (``score``, pure).

Sorting: ``relevance`` (default when there is a query, then newest), ``newest`` (default
otherwise), ``price_asc``, ``price_desc``, ``rating`` (average, then number of reviews).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Select, case, func, literal_column, select, text, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from cloud.market.models import TSVECTOR_SQL, Licence, Listing, ListingStatus
from cloud.market.schemas import SortOrder
from cloud.market.text import tokens

SQLITE_CANDIDATES: Final = 5_000
WEIGHTS: Final = (3.0, 2.0, 1.0)  # title, tags, description


@dataclass(frozen=True, slots=True)
class Filters:
    q: str | None = None
    tag: str | None = None
    licence: Licence | None = None
    free: bool | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    seller_org_id: str | None = None


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def parse_query(q: str) -> tuple[list[str], list[str]]:
    """``(wanted, excluded)`` stems: ``"planter -hexagonal"`` → ``(["planter"], ["hexagonal"])``."""
    wanted: list[str] = []
    excluded: list[str] = []
    for raw in q.split():
        target = excluded if raw.startswith("-") and len(raw) > 1 else wanted
        target.extend(_stem(t) for t in tokens(raw) if t not in ("or", "and"))
    return wanted, excluded


def score(search_text: str, wanted: Sequence[str], excluded: Sequence[str]) -> float | None:
    """The relevance of a listing's ``search_text`` (title, tags, description lines); None = no match."""
    fields = [*search_text.split("\n", 2), "", ""][:3]
    field_stems = [[_stem(t) for t in tokens(value)] for value in fields]
    every = {stem for stems in field_stems for stem in stems}
    if any(word in every for word in excluded) or not all(word in every for word in wanted):
        return None
    total = 0.0
    for word in wanted:
        for weight, stems in zip(WEIGHTS, field_stems, strict=True):
            hits = stems.count(word)
            if hits:
                total += weight * (1.0 + min(hits - 1, 4) * 0.25)
    return total


def _rating() -> ColumnElement[Any]:
    return case((Listing.rating_count == 0, 0.0), else_=Listing.rating_sum * 1.0 / Listing.rating_count)


def _filtered(filters: Filters, dialect: str) -> Select[Listing]:
    query = select(Listing).where(Listing.status == ListingStatus.ACTIVE.value)
    if filters.tag is not None:
        tag = filters.tag.strip().lower()
        if dialect == "postgresql":
            query = query.where(type_coerce(Listing.tags, JSONB).contains([tag]))
        else:
            query = query.where(
                text(
                    "EXISTS (SELECT 1 FROM json_each(market_listings.tags) WHERE json_each.value = :tag)"
                ).bindparams(tag=tag)
            )
    if filters.licence is not None:
        query = query.where(Listing.licence == filters.licence.value)
    if filters.free is True:
        query = query.where(Listing.price_cents == 0)
    elif filters.free is False:
        query = query.where(Listing.price_cents > 0)
    if filters.min_price_cents is not None:
        query = query.where(Listing.price_cents >= filters.min_price_cents)
    if filters.max_price_cents is not None:
        query = query.where(Listing.price_cents <= filters.max_price_cents)
    if filters.seller_org_id is not None:
        query = query.where(Listing.seller_org_id == filters.seller_org_id)
    return query


def _order(sort: SortOrder) -> list[Any]:
    newest: list[Any] = [Listing.created_at.desc(), Listing.id]
    if sort is SortOrder.PRICE_ASC:
        return [Listing.price_cents.asc(), *newest]
    if sort is SortOrder.PRICE_DESC:
        return [Listing.price_cents.desc(), *newest]
    if sort is SortOrder.RATING:
        return [_rating().desc(), Listing.rating_count.desc(), *newest]
    return newest


async def search(
    session: AsyncSession,
    dialect: str,
    filters: Filters,
    sort: SortOrder | None,
    *,
    limit: int,
    offset: int,
) -> tuple[list[Listing], int]:
    """One page of matching active listings and how many match in all."""
    q = (filters.q or "").strip()
    sort = sort or (SortOrder.RELEVANCE if q else SortOrder.NEWEST)
    query = _filtered(filters, dialect)
    if q and dialect == "postgresql":
        return await _search_postgresql(session, query, q, sort, limit=limit, offset=offset)
    if q:
        return await _search_portable(session, query, q, sort, limit=limit, offset=offset)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    page = await session.execute(query.order_by(*_order(sort)).limit(limit).offset(offset))
    return list(page.scalars()), int(total)


async def _search_postgresql(
    session: AsyncSession, query: Select[Listing], q: str, sort: SortOrder, *, limit: int, offset: int
) -> tuple[list[Listing], int]:
    vector: ColumnElement[Any] = literal_column(TSVECTOR_SQL)
    tsquery = func.websearch_to_tsquery(literal_column("'english'::regconfig"), q)
    matching = query.where(vector.op("@@")(tsquery))
    total = (await session.execute(select(func.count()).select_from(matching.subquery()))).scalar_one()
    if sort is SortOrder.RELEVANCE:  # ts_rank scores any query with a NOT alike: rank the wanted words
        wanted = " ".join(word for word in q.split() if not word.startswith("-")) or q
        ranking = func.websearch_to_tsquery(literal_column("'english'::regconfig"), wanted)
        order: list[Any] = [func.ts_rank(vector, ranking).desc(), *_order(SortOrder.NEWEST)]
    else:
        order = _order(sort)
    page = await session.execute(matching.order_by(*order).limit(limit).offset(offset))
    return list(page.scalars()), int(total)


async def _search_portable(
    session: AsyncSession, query: Select[Listing], q: str, sort: SortOrder, *, limit: int, offset: int
) -> tuple[list[Listing], int]:
    wanted, excluded = parse_query(q)
    candidates = (await session.execute(query.order_by(*_order(sort)).limit(SQLITE_CANDIDATES))).scalars()
    scored = [(score(listing.search_text, wanted, excluded), listing) for listing in candidates]
    matching = [(s, listing) for s, listing in scored if s is not None]
    if sort is SortOrder.RELEVANCE:  # stable: equal scores keep the newest-first order of the query
        matching.sort(key=lambda pair: -pair[0])
    return [listing for _, listing in matching[offset : offset + limit]], len(matching)
