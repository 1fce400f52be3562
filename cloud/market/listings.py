"""Listings in the database: create, publish a design, change, read, attach the printable file.

Any logged-in caller sees an active listing (the marketplace spans organisations); a withdrawn
one only its seller and its buyers see. Only the seller organisation changes a listing: for
anyone else it is a 404 when they cannot see it, else a 403.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import BadRequest, Forbidden, NotFound
from cloud.files import Files
from cloud.files.storage import FileTooLarge, StorageWriter, sanitise_filename
from cloud.jobs.intake import PayloadTooLarge, Unprocessable
from cloud.jobs.slicer import GCODE_SUFFIXES, is_mesh
from cloud.jobs.upload import Sink, read_upload
from cloud.market.entitlements import entitled_orgs, is_entitled
from cloud.market.models import Licence, Listing, ListingStatus
from cloud.market.schemas import ListingCreate, ListingFile, ListingOut, ListingUpdate
from cloud.market.text import fold
from cloud.services import CloudServices
from cloud.users.auth import Principal
from cloud.users.models import Organisation

log = logging.getLogger(__name__)


def search_text(listing: Listing) -> str:
    """What the portable search scores: folded title, tags and description (one per line)."""
    return "\n".join((fold(listing.title), fold(" ".join(listing.tags)), fold(listing.description)))[:8000]


def file_kind(name: str | None) -> str | None:
    if name is None:
        return None
    return "mesh" if is_mesh(name) else "gcode"


def listing_out(listing: Listing, seller_name: str | None = None, entitled: bool | None = None) -> ListingOut:
    file = None
    if listing.file_key is not None and listing.file_name is not None:
        file = ListingFile(
            name=listing.file_name,
            kind=file_kind(listing.file_name) or "gcode",
            size_bytes=listing.file_size_bytes or 0,
            sha256=listing.file_sha256 or "",
        )
    return ListingOut(
        id=listing.id,
        seller_org_id=listing.seller_org_id,
        seller_name=seller_name,
        title=listing.title,
        description=listing.description,
        price_cents=listing.price_cents,
        currency=listing.currency,
        free=listing.is_free,
        licence=Licence(listing.licence),
        royalty_cents=listing.royalty_cents,
        tags=listing.tags,
        file=file,
        design_spec=listing.design_spec,
        print_profile=listing.print_profile,
        images=listing.images,
        status=listing.status,
        rating=round(listing.rating_sum / listing.rating_count, 2) if listing.rating_count else None,
        rating_count=listing.rating_count,
        sales_count=listing.sales_count,
        created_at=listing.created_at,
        updated_at=listing.updated_at,
        entitled=entitled,
    )


async def seller_names(session: AsyncSession, org_ids: Sequence[str]) -> dict[str, str]:
    if not org_ids:
        return {}
    rows = await session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(set(org_ids)))
    )
    return {org_id: name for org_id, name in rows}


async def outs(session: AsyncSession, listings: Sequence[Listing], org_id: str) -> list[ListingOut]:
    """``ListingOut`` of each listing, with seller names and whether ``org_id`` may download it."""
    names = await seller_names(session, [listing.seller_org_id for listing in listings])
    owned = await entitled_orgs(session, [listing.id for listing in listings], org_id)
    return [
        listing_out(
            listing,
            names.get(listing.seller_org_id),
            listing.seller_org_id == org_id or listing.id in owned,
        )
        for listing in listings
    ]


def _check_currency(services: CloudServices, currency: str | None) -> str:
    wanted = services.settings.market.currency
    if currency is not None and currency != wanted:
        raise BadRequest(f"the marketplace trades in {wanted} only", code="unsupported_currency")
    return wanted


async def create_listing(
    session: AsyncSession, services: CloudServices, principal: Principal, body: ListingCreate
) -> Listing:
    """A new active listing of the caller's organisation (added and flushed, not committed)."""
    now = services.now()
    listing = Listing(
        seller_org_id=principal.org_id,
        title=body.title,
        description=body.description,
        price_cents=body.price_cents,
        currency=_check_currency(services, body.currency),
        licence=body.licence.value,
        royalty_cents=body.royalty_cents,
        tags=list(dict.fromkeys(body.tags)),
        design_spec=body.source.design_spec if body.source is not None else None,
        print_profile=body.print_profile,
        images=body.images,
        status=ListingStatus.ACTIVE.value,
        rating_sum=0,
        rating_count=0,
        sales_count=0,
        created_by=principal.id if principal.kind == "user" else None,
        created_at=now,
        updated_at=now,
    )
    listing.search_text = search_text(listing)
    session.add(listing)
    await session.flush()
    log.info("listing %s (%r) created by organisation %s", listing.id, listing.title, principal.org_id)
    return listing


async def publish_design(
    session: AsyncSession,
    services: CloudServices,
    principal: Principal,
    *,
    title: str,
    description: str,
    spec: dict[str, Any],
    price_cents: int,
    licence: str,
    royalty_cents: int = 0,
    tags: Sequence[str] = (),
    print_profile: dict[str, Any] | None = None,
    images: Sequence[str] = (),
) -> Listing:
    """The design studio's way to list a design: validated exactly as ``POST /api/market/listings``.

    Raises ``pydantic.ValidationError`` for bad input (the studio maps it to a 422) and
    ``BadRequest`` for a currency other than the marketplace's. The caller commits.
    """
    body = ListingCreate.model_validate(
        {
            "title": title,
            "description": description,
            "price_cents": price_cents,
            "licence": licence,
            "royalty_cents": royalty_cents,
            "tags": list(tags),
            "source": {"design_spec": spec},
            "print_profile": print_profile or {},
            "images": list(images),
        }
    )
    return await create_listing(session, services, principal, body)


async def get_visible(session: AsyncSession, listing_id: str, org_id: str, *, lock: bool = False) -> Listing:
    """The listing when ``org_id`` may see it; ``NotFound`` otherwise."""
    query = select(Listing).where(Listing.id == listing_id)
    if lock:
        query = query.with_for_update()
    listing = (await session.execute(query)).scalar_one_or_none()
    if listing is None:
        raise NotFound(f"no listing {listing_id!r}", code="listing_not_found")
    if listing.status != ListingStatus.ACTIVE.value and not await is_entitled(session, listing, org_id):
        raise NotFound(f"no listing {listing_id!r}", code="listing_not_found")
    return listing


async def get_own(session: AsyncSession, listing_id: str, org_id: str) -> Listing:
    """The listing for its seller to change; ``Forbidden`` for another organisation."""
    listing = await get_visible(session, listing_id, org_id, lock=True)
    if listing.seller_org_id != org_id:
        raise Forbidden("only the seller organisation changes a listing", code="not_the_seller")
    return listing


def apply_update(listing: Listing, body: ListingUpdate, services: CloudServices) -> None:
    changes = body.model_dump(exclude_unset=True)
    for name in ("title", "description", "price_cents", "tags", "print_profile", "images"):
        if name in changes:
            if changes[name] is None:
                raise BadRequest(f"{name} cannot be null (leave it out to keep it)", code="null_field")
            setattr(listing, name, changes[name])
    if body.licence is not None:
        listing.licence = body.licence.value
    if "royalty_cents" in changes and body.royalty_cents is not None:
        listing.royalty_cents = body.royalty_cents
    if Licence(listing.licence) is not Licence.PER_PRINT:
        if "royalty_cents" in changes and listing.royalty_cents:
            raise BadRequest("royalty_cents is only for the per_print licence", code="invalid_royalty")
        listing.royalty_cents = 0
    elif listing.royalty_cents <= 0:
        raise BadRequest("a per_print licence needs royalty_cents > 0", code="invalid_royalty")
    if body.withdrawn is not None:
        listing.status = (ListingStatus.WITHDRAWN if body.withdrawn else ListingStatus.ACTIVE).value
    listing.tags = list(dict.fromkeys(listing.tags))
    listing.search_text = search_text(listing)
    listing.updated_at = services.now()


def listing_file_key(listing_id: str, name: str) -> str:
    return f"market-{listing_id}-{name}"


async def attach_file(
    listing: Listing,
    files: Files,
    content_type: str | None,
    body: AsyncIterator[bytes],
    max_bytes: int,
) -> None:
    """Stream a G-code or mesh upload (multipart, one ``file`` part) to storage as the listing's file."""
    writer: StorageWriter | None = None
    key = ""

    async def open_sink(filename: str) -> Sink:
        nonlocal writer, key
        name = sanitise_filename(filename)
        suffix = Path(name).suffix.lower()
        if not is_mesh(name) and suffix not in GCODE_SUFFIXES:
            raise Unprocessable(
                f"{suffix or 'a file without extension'} is not a print file: upload G-code"
                " (.gcode) or a mesh (.stl, .3mf, .obj)",
                code="unsupported_file",
            )
        key = listing_file_key(listing.id, name)
        writer = await files.storage.writer(key, max_bytes=max_bytes)
        return writer

    try:
        form = await read_upload(content_type, body, open_sink)
        assert writer is not None
        stored = await writer.commit()
        writer = None
    except FileTooLarge as exc:
        raise PayloadTooLarge(f"the file is larger than the limit of {exc.max_bytes} bytes") from None
    finally:
        if writer is not None:
            await writer.abort()
    old = listing.file_key
    listing.file_key = stored.key
    listing.file_name = sanitise_filename(form.filename or stored.key)
    listing.file_sha256 = stored.sha256
    listing.file_size_bytes = stored.size
    if old is not None and old != stored.key:
        await files.storage.delete(old)


def validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
