"""HTTP routes of the marketplace, under ``/api/market``.

Listings are public to every logged-in caller, across organisations; only the seller
organisation changes its listings (operators and admins). Buying, refunding and paying out move
money: admins only, each with a required ``Idempotency-Key`` header (the same key and body
replay the stored response with ``Idempotent-Replayed: true``; the same key with another body
is a 409). The payment provider's webhook is the one route without user credentials: its HMAC
signature is the credential.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel

from cloud.errors import ErrorBody, NotFound, error_responses
from cloud.files.storage import FileMissing
from cloud.jobs.lifecycle import Runtime
from cloud.market import announcements, idempotency, listings, reviews, sellers, webhook_events
from cloud.market.entitlements import require_entitled
from cloud.market.models import IdempotencyRecord, Licence
from cloud.market.payments.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from cloud.market.prints import print_listing
from cloud.market.purchases import service as purchases
from cloud.market.runtime import Market
from cloud.market.schemas import (
    MAX_PRICE_CENTS,
    ListingCreate,
    ListingOut,
    ListingPage,
    ListingUpdate,
    PayoutOut,
    PayoutRequest,
    PrintOut,
    PrintRequest,
    PurchaseOut,
    PurchaseRequest,
    ReviewIn,
    ReviewOut,
    SellerPage,
    SortOrder,
)
from cloud.market.search import Filters, search
from cloud.services import DbSession, Services
from cloud.users.auth import CurrentUser, Principal, RequireAdmin, RequireOperator

router = APIRouter(prefix="/api/market", tags=["market"])

ObjectId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="required: a unique string per operation; a retry with the same key and body"
        " gets the first response",
    ),
]
_MONEY: Final = (400, 401, 403, 404, 409, 422)
_TEXT: Final = r"^[^\x00-\x1f\x7f]*$"

webhook_signature_scheme = APIKeyHeader(
    name=SIGNATURE_HEADER,
    auto_error=False,
    scheme_name="webhookSignature",
    description="v1=<hex HMAC-SHA256 of '<X-Webhook-Timestamp>.<body>' under the shared webhook secret>",
)


async def _idempotent(
    session: DbSession,
    principal: Principal,
    key: str | None,
    scope: str,
    body: Any,
    now: Any,
) -> idempotency.Replay | IdempotencyRecord:
    checked = idempotency.check_key(key)
    return await idempotency.claim(
        session, principal.org_id, checked, idempotency.request_hash(scope, body), now
    )


def _replayed(replay: idempotency.Replay) -> JSONResponse:
    return JSONResponse(replay.body, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"})


async def _finish(
    session: DbSession, record: IdempotencyRecord, status_code: int, out: BaseModel
) -> JSONResponse:
    body = out.model_dump(mode="json")
    idempotency.finish(record, status_code, body)
    await session.commit()
    return JSONResponse(body, status_code=status_code)


# ---- listings ---------------------------------------------------------------------------------


@router.get(
    "/listings",
    summary="Search the marketplace's active listings",
    description=(
        'Full text (`q`: words, "quoted phrases", `-excluded`; relevance-ranked) with filters and'
        " sorting. Listings of every organisation are visible."
    ),
    response_model=ListingPage,
    responses=error_responses(401, 422),
)
async def search_listings(
    principal: CurrentUser,
    services: Services,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=200, pattern=_TEXT, description="search words")] = None,
    tag: Annotated[str | None, Query(max_length=32, pattern=_TEXT)] = None,
    licence: Licence | None = None,
    free: Annotated[bool | None, Query(description="true: free only; false: paid only")] = None,
    min_price_cents: Annotated[int | None, Query(ge=0, le=MAX_PRICE_CENTS)] = None,
    max_price_cents: Annotated[int | None, Query(ge=0, le=MAX_PRICE_CENTS)] = None,
    seller: Annotated[
        str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="a seller organisation id")
    ] = None,
    sort: Annotated[SortOrder | None, Query(description="default: relevance with q, else newest")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> ListingPage:
    filters = Filters(
        q=q,
        tag=tag,
        licence=licence,
        free=free,
        min_price_cents=min_price_cents,
        max_price_cents=max_price_cents,
        seller_org_id=seller,
    )
    found, total = await search(session, services.database.dialect, filters, sort, limit=limit, offset=offset)
    return ListingPage(items=await listings.outs(session, found, principal.org_id), total=total)


@router.post(
    "/listings",
    summary="List something for sale (or for free)",
    description=(
        "Plain-text title and description (markup such as `<script>` is refused), a price in"
        " integer cents (0 = free), a licence (`personal`, `commercial`, `per_print` with"
        " `royalty_cents`), tags, a print profile, images (storage keys) and optionally a"
        " parametric `source: {design_spec: {...}}`. Upload a G-code or mesh with"
        " `PUT /api/market/listings/{id}/file`."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=ListingOut,
    responses=error_responses(400, 401, 403, 422),
)
async def create_listing(
    body: ListingCreate, principal: RequireOperator, services: Services, session: DbSession
) -> ListingOut:
    listing = await listings.create_listing(session, services, principal, body)
    await session.commit()
    return (await listings.outs(session, [listing], principal.org_id))[0]


@router.get(
    "/listings/{listing_id}",
    summary="Get one listing",
    response_model=ListingOut,
    responses=error_responses(401, 404, 422),
)
async def get_listing(listing_id: ObjectId, principal: CurrentUser, session: DbSession) -> ListingOut:
    listing = await listings.get_visible(session, listing_id, principal.org_id)
    return (await listings.outs(session, [listing], principal.org_id))[0]


@router.patch(
    "/listings/{listing_id}",
    summary="Change your listing (or withdraw it)",
    response_model=ListingOut,
    responses=error_responses(400, 401, 403, 404, 422),
)
async def update_listing(
    listing_id: ObjectId,
    body: ListingUpdate,
    principal: RequireOperator,
    services: Services,
    session: DbSession,
) -> ListingOut:
    listing = await listings.get_own(session, listing_id, principal.org_id)
    listings.apply_update(listing, body, services)
    await session.commit()
    return (await listings.outs(session, [listing], principal.org_id))[0]


@router.put(
    "/listings/{listing_id}/file",
    summary="Upload your listing's printable file: G-code or a mesh (multipart, one `file` part)",
    response_model=ListingOut,
    responses={
        **error_responses(400, 401, 403, 404, 422),
        413: {"model": ErrorBody, "description": "The file is larger than the upload limit"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def upload_listing_file(
    listing_id: ObjectId,
    request: Request,
    principal: RequireOperator,
    services: Services,
    runtime: Runtime,
    session: DbSession,
) -> ListingOut:
    listing = await listings.get_own(session, listing_id, principal.org_id)
    max_bytes = int(services.settings.storage.max_upload_mb * 1024 * 1024)
    await listings.attach_file(
        listing, runtime.files, request.headers.get("content-type"), request.stream(), max_bytes
    )
    listing.updated_at = services.now()
    await session.commit()
    return (await listings.outs(session, [listing], principal.org_id))[0]


@router.get(
    "/listings/{listing_id}/download",
    summary="Download the listing's file (its seller and buyers only)",
    response_class=StreamingResponse,
    responses={
        **error_responses(401, 403, 404, 422),
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
    },
)
async def download_listing_file(
    listing_id: ObjectId, principal: CurrentUser, runtime: Runtime, session: DbSession
) -> StreamingResponse:
    listing = await listings.get_visible(session, listing_id, principal.org_id)
    await require_entitled(session, listing, principal.org_id, "download")
    if listing.file_key is None:
        raise NotFound("this listing has no file", code="no_file")
    try:
        read = await runtime.files.storage.read(listing.file_key)
    except FileMissing:
        raise NotFound("this listing's file is missing", code="no_file") from None
    name = listing.file_name or "download"
    return StreamingResponse(
        read.chunks,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Content-Length": str(read.size)},
    )


@router.post(
    "/listings/{listing_id}/print",
    summary="Print this: a job in your farm queue from the listing's file (its seller and buyers only)",
    status_code=status.HTTP_201_CREATED,
    response_model=PrintOut,
    responses=error_responses(401, 403, 404, 422),
)
async def print_this(
    listing_id: ObjectId,
    body: PrintRequest,
    principal: RequireOperator,
    services: Services,
    runtime: Runtime,
    session: DbSession,
) -> PrintOut:
    listing = await listings.get_visible(session, listing_id, principal.org_id)
    job = await print_listing(session, services, runtime, principal, listing, body.printer_id)
    try:
        await session.commit()
    except BaseException:
        await runtime.files.storage.delete(job.file_key)
        raise
    runtime.wake()
    return PrintOut(job_id=job.id, listing_id=listing.id, state=job.state)


# ---- money ------------------------------------------------------------------------------------


@router.post(
    "/listings/{listing_id}/purchase",
    summary="Buy a listing (admins; Idempotency-Key required)",
    status_code=status.HTTP_201_CREATED,
    response_model=PurchaseOut,
    responses={
        **error_responses(*_MONEY),
        402: {"model": ErrorBody, "description": "The card was declined"},
        502: {"model": ErrorBody, "description": "The payment provider failed"},
    },
)
async def buy_listing(
    listing_id: ObjectId,
    body: PurchaseRequest,
    principal: RequireAdmin,
    services: Services,
    market: Market,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    claimed = await _idempotent(
        session, principal, idempotency_key, f"purchase {listing_id}", body.model_dump(), services.now()
    )
    if isinstance(claimed, idempotency.Replay):
        return _replayed(claimed)
    bought = await purchases.purchase(
        session, services, market, principal, listing_id, body, idempotency.check_key(idempotency_key)
    )
    listing = await listings.get_visible(session, listing_id, principal.org_id)
    stored = await announcements.record_sale(session, services, listing, bought)
    response = await _finish(session, claimed, 201, purchases.purchase_out(bought))
    announcements.after_commit(services, stored)
    return response


@router.get(
    "/purchases",
    summary="My organisation's purchases (or, with as_seller, its sales), newest first",
    response_model=list[PurchaseOut],
    responses=error_responses(401, 422),
)
async def list_purchases(
    principal: CurrentUser,
    session: DbSession,
    as_seller: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[PurchaseOut]:
    found = await purchases.list_purchases(
        session, principal.org_id, as_seller=as_seller, limit=limit, offset=offset
    )
    return [purchases.purchase_out(p) for p in found]


@router.post(
    "/purchases/{purchase_id}/refund",
    summary="Refund a sale (the seller's admins; Idempotency-Key required): revokes the buyer's access",
    response_model=PurchaseOut,
    responses={
        **error_responses(*_MONEY),
        502: {"model": ErrorBody, "description": "The payment provider failed"},
    },
)
async def refund_purchase(
    purchase_id: ObjectId,
    principal: RequireAdmin,
    services: Services,
    market: Market,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    claimed = await _idempotent(
        session, principal, idempotency_key, f"refund {purchase_id}", {}, services.now()
    )
    if isinstance(claimed, idempotency.Replay):
        return _replayed(claimed)
    refunded = await purchases.refund(session, services, market, principal, purchase_id)
    return await _finish(session, claimed, 200, purchases.purchase_out(refunded))


@router.post(
    "/payouts",
    summary="Pay out of my organisation's seller balance (admins; Idempotency-Key required)",
    description="Never more than the balance (409 `insufficient_balance`).",
    status_code=status.HTTP_201_CREATED,
    response_model=PayoutOut,
    responses=error_responses(*_MONEY),
)
async def create_payout(
    body: PayoutRequest,
    principal: RequireAdmin,
    services: Services,
    market: Market,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    claimed = await _idempotent(
        session, principal, idempotency_key, "payout", body.model_dump(), services.now()
    )
    if isinstance(claimed, idempotency.Replay):
        return _replayed(claimed)
    paid = await purchases.payout(session, services, market, principal, body.amount_cents)
    return await _finish(session, claimed, 201, paid)


@router.post(
    "/webhooks/test-provider",
    summary="The test payment provider's signed webhooks (no user credentials: the HMAC is the credential)",
    response_model=webhook_events.WebhookResult,
    responses=error_responses(400, 401, 422),
)
async def test_provider_webhook(
    request: Request,
    services: Services,
    market: Market,
    session: DbSession,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
    signature: Annotated[str | None, Depends(webhook_signature_scheme)] = None,
) -> webhook_events.WebhookResult:
    body = await request.body()
    result = await webhook_events.receive(
        session, market, "test-provider", body, timestamp, signature, services.now()
    )
    await session.commit()
    return result


# ---- reviews and sellers ----------------------------------------------------------------------


@router.get(
    "/listings/{listing_id}/reviews",
    summary="Reviews of a listing, newest first",
    response_model=list[ReviewOut],
    responses=error_responses(401, 404, 422),
)
async def get_reviews(
    listing_id: ObjectId,
    principal: CurrentUser,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[ReviewOut]:
    listing = await listings.get_visible(session, listing_id, principal.org_id)
    found = await reviews.list_reviews(session, listing.id, limit=limit, offset=offset)
    return [reviews.review_out(r) for r in found]


@router.put(
    "/listings/{listing_id}/review",
    summary="Write (or rewrite) my organisation's review: buyers only, 1-5 stars, markup stripped",
    response_model=ReviewOut,
    responses=error_responses(401, 403, 404, 422),
)
async def put_review(
    listing_id: ObjectId,
    body: ReviewIn,
    principal: RequireOperator,
    services: Services,
    session: DbSession,
    response: Response,
) -> ReviewOut:
    listing = await listings.get_visible(session, listing_id, principal.org_id)
    review, created = await reviews.write_review(session, services, principal, listing, body)
    stored = await announcements.record_review(session, services, listing, review)
    await session.commit()
    announcements.after_commit(services, stored)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return reviews.review_out(review)


@router.get(
    "/sellers/{org_id}",
    summary="A seller's page: its listings, sales and rating (and its money, for the seller itself)",
    response_model=SellerPage,
    responses=error_responses(401, 404, 422),
)
async def get_seller(org_id: ObjectId, principal: CurrentUser, session: DbSession) -> SellerPage:
    return await sellers.seller_page(session, org_id, principal.org_id)
